"""Carry the ambient trace into threads: a thread-pool patch and ``propagate(fn)``."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from whyops._context import SPAN, TRACE

__all__ = ["patch_thread_pools", "propagate", "unpatch_thread_pools"]

T = TypeVar("T")

_original_submit = ThreadPoolExecutor.submit


def _submit(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    # Only work submitted inside a trace runs in a copy of the submitter's context; other
    # work is untouched, so unrelated pools behave exactly as without whyops.
    if TRACE.get() is None and SPAN.get() is None:
        return _original_submit(self, fn, *args, **kwargs)
    return _original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)


_submit.__whyops_patch__ = True  # type: ignore[attr-defined]


def patch_thread_pools() -> None:
    """Make ``ThreadPoolExecutor.submit`` (and ``map``) keep the caller's trace."""
    ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]


def unpatch_thread_pools() -> None:
    ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]


def thread_pools_patched() -> bool:
    return getattr(ThreadPoolExecutor.submit, "__whyops_patch__", False)


def propagate(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``fn`` to run in the context current *now*, e.g. as a ``threading.Thread`` target.

    Each call runs in its own copy of that context, so the wrapper may run in several
    threads at once.
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(fn, *args, **kwargs)

    return run_in_context
