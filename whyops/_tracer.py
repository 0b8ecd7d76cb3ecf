"""The tracer: configuration, the processors that receive ended spans, exit and fork.

There is one tracer per process (:data:`TRACER`); the public functions in ``whyops`` act
on it. Until it is configured (or when disabled) it has no processors, ``enabled`` is
False, and decorated functions call straight through.

Importing whyops configures nothing. The first use (the first span, event or flush)
*settles* the tracer: unless ``configure()`` ran before, ``WHYOPS_API_KEY`` or
``WHYOPS_EXPORTER`` alone turn tracing on then, through the same ``configure()`` path.

Exit: the hooks and the final flush share one budget (``exit_timeout``). Processes that
``multiprocessing`` forks end with ``os._exit``, which skips ``atexit``; the tracer asks
multiprocessing to run the same exit flush in them (a ``multiprocessing.util.Finalize``).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import attrs

from whyops import _context, _threads
from whyops._config import Config, env_requests_tracing, load_config
from whyops._internal_errors import log_internal_error
from whyops.export import Exporter, Processor
from whyops.export.batch import BatchProcessor, InlineProcessor
from whyops.wire.records import DeliveryReport, EventRecord, SpanRecord

__all__ = ["TRACER", "Tracer"]


class _Unsettled:
    """``Tracer.enabled`` until the first use: asking whether tracing is on settles it.

    The hot path checks ``enabled`` and nothing else: the first check configures from the
    environment (:meth:`Tracer.settle`), which replaces this with a plain bool, so the
    first-use check costs later calls nothing.
    """

    __slots__ = ("tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def __bool__(self) -> bool:
        return self.tracer.settle()

    def __repr__(self) -> str:
        return "<not settled: the first use decides>"


class Tracer:
    """Owns the configuration and the processors; ``on_end`` is the hot-path hand-off."""

    def __init__(self) -> None:
        #: Is tracing on? A plain bool once settled (see :class:`_Unsettled`).
        self.enabled = cast(bool, _Unsettled(self))
        self.configured = False
        #: False until the first use or an explicit set-up (see :meth:`settle`); once
        #: True, ``enabled`` is a bool.
        self.settled = False
        self._settling = False
        # Which set-up is live: a new number for each one (never reused, even after a
        # restore), so a client stops only its own.
        self._generations = itertools.count(1)
        self._generation = 0
        self.config = Config()
        self.capture_inputs = True
        self.capture_outputs = True
        self._processors: tuple[Processor, ...] = ()
        self._lock = threading.RLock()
        self._exit_hooked = False
        self._before_exit: list[Callable[[], object]] = []
        #: The hot-path hand-off of an ended span: every processor's ``submit`` (they never
        #: block or raise); the single processor's own ``submit`` when there is one (saves
        #: a call). Until the first use, a span used directly (no decorator checked
        #: ``enabled``) settles on its way in.
        self.on_end: Callable[[Any], None] = self._settle_then_end

    # -- the hot path -------------------------------------------------------------------

    def _submit_each(self, span: Any) -> None:
        for processor in self._processors:
            processor.submit(span)

    def _settle_then_end(self, span: Any) -> None:
        self.settle()
        self.on_end(span)

    def submit(self, record: SpanRecord | EventRecord) -> None:
        """Queue a frozen record (manual WhyOps events use this); never blocks or raises."""
        if not self.settled:
            self.settle()
        try:
            for processor in self._processors:
                processor.submit(record)
        except Exception:
            log_internal_error("submit")

    # -- configuration ------------------------------------------------------------------

    def settle(self) -> bool:
        """The first use: configure from ``WHYOPS_*`` unless something set tracing up before.

        Returns ``enabled``. Runs once (later calls return at once); a bad variable leaves
        tracing off with one warning rather than failing the caller's code.
        """
        if self.settled:
            return self.enabled
        with self._lock:
            if self.settled:  # another thread settled it while this one waited
                return self.enabled
            if self._settling:  # asked again by the set-up itself: not on yet
                return False
            self._settling = True
            try:
                if env_requests_tracing():
                    self.configure()
            except Exception as exc:
                logging.getLogger("whyops").warning("whyops: tracing stays off: %s", exc)
            finally:
                self._settling = False
            if not self.settled:  # nothing configured: off, and on_end no longer settles
                self._set_processors(self._processors)
                self.settled = True
        return self.enabled

    def configure(self, **options: Any) -> None:
        """Settle the configuration and start exporting (see ``whyops.configure``)."""
        config = load_config(options)
        from whyops.export.resolve import resolve_exporters

        exporters = [] if config.disabled else resolve_exporters(config)
        with self._lock:
            old = self._install(config, exporters)
        _shutdown_all(old, config.exit_timeout)

    def adopt(self, options: dict[str, Any]) -> int | None:
        """A client's set-up, through :meth:`configure` like every other.

        After the first use had its turn: configure with ``options`` when nothing
        configured tracing, and return a token for :meth:`release`; else only give a
        set-up without an agent name ``options["agent_name"]`` (traces no agent named
        report under the client's agent) and return None.
        """
        self.settle()
        with self._lock:
            if not self.configured:
                self.configure(**options)
                return self._generation
            if self.config.agent_name is None:
                self.config = attrs.evolve(self.config, agent_name=options.get("agent_name"))
        return None

    def _install(self, config: Config, exporters: Sequence[Exporter]) -> tuple[Processor, ...]:
        old = self._processors
        self._generation = next(self._generations)
        self.config = config
        self.configured = bool(exporters)
        self.capture_inputs = config.capture_inputs
        self.capture_outputs = config.capture_outputs
        self._set_processors(tuple(self._processor_for(e) for e in exporters))
        self.settled = True  # after ``enabled`` became a bool (see settle)
        if self.enabled and config.propagate_to_threads:
            _threads.patch_thread_pools()
        else:
            _threads.unpatch_thread_pools()
        if self.enabled and not self._exit_hooked:
            atexit.register(self._at_exit)
            self._exit_hooked = True
        return old

    def _set_processors(self, processors: tuple[Processor, ...]) -> None:
        self._processors = processors
        if len(processors) == 1:
            self.on_end = processors[0].submit
        else:
            # Rebinding, never deleting, keeps the instance's attribute layout (and so
            # CPython's fast attribute reads of ``enabled`` on the hot path).
            self.on_end = self._submit_each
        self.enabled = bool(processors)

    def _processor_for(self, exporter: Exporter) -> Processor:
        if getattr(exporter, "inline", False):
            return InlineProcessor(exporter)
        config = self.config
        return BatchProcessor(
            exporter,
            max_queue_size=config.max_queue_size,
            max_queue_bytes=config.limits.max_queue_bytes,
            max_batch_size=config.max_batch_size,
            flush_interval=config.flush_interval,
        )

    def set_exporter(self, exporter: Exporter | None) -> None:
        """Export to ``exporter`` alone from now on (None turns tracing off)."""
        with self._lock:
            old = self._install(self.config, [exporter] if exporter is not None else [])
        _shutdown_all(old, self.config.exit_timeout)

    @contextmanager
    def use_exporter(self, exporter: Exporter) -> Iterator[Exporter]:
        """Export to ``exporter`` for a block, then restore the previous set-up exactly."""
        with self._lock:
            saved = (self.config, self.configured, self._processors, self._generation)
            self._install(self.config, [exporter])
        try:
            yield exporter
        finally:
            with self._lock:
                current = self._processors
                self._restore(*saved)
            _shutdown_all(current, saved[0].exit_timeout)

    def _restore(
        self,
        config: Config,
        configured: bool,
        processors: tuple[Processor, ...],
        generation: int,
    ) -> None:
        self._install(config, [])
        self._set_processors(processors)
        self.configured = configured
        self._generation = generation
        if self.enabled and config.propagate_to_threads:
            _threads.patch_thread_pools()

    # -- delivery -----------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        """Wait (at most ``timeout`` seconds) until everything queued so far is exported."""
        if not self.settled:
            self.settle()
        deadline = time.monotonic() + timeout
        reports = [p.flush(max(0.0, deadline - time.monotonic())) for p in self._processors]
        return _combine(reports)

    def shutdown(self, timeout: float = 2.0) -> DeliveryReport:
        """Flush within ``timeout``, stop the flusher threads and turn tracing off."""
        return self._stop(None, timeout)

    def release(self, token: int | None, timeout: float) -> DeliveryReport:
        """Shut down the set-up ``token`` names (see :meth:`adopt`) if it is still the live
        one; otherwise (someone else set tracing up, or did since) only flush."""
        if token is None:
            return self.flush(timeout)
        return self._stop(token, timeout)

    def _stop(self, token: int | None, timeout: float) -> DeliveryReport:
        """Stop the live set-up (only if it is ``token``'s, when given); else flush."""
        with self._lock:
            mine = token is None or token == self._generation
            if mine:
                processors = self._processors
                self._install(self.config, [])
        if not mine:
            return self.flush(timeout)
        return _shutdown_all(processors, timeout)

    def before_exit(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` at interpreter exit, before the final flush (to hand records over)."""
        if hook not in self._before_exit:
            self._before_exit.append(hook)

    def _at_exit(self) -> None:
        """The exit flush: hooks first, then the final flush, all within ``exit_timeout``."""
        deadline = time.monotonic() + self.config.exit_timeout
        for hook in list(self._before_exit):
            try:
                hook()
            except Exception:
                log_internal_error("before_exit")
        try:
            self.shutdown(max(0.0, deadline - time.monotonic()))
        except Exception:
            log_internal_error("exit")

    def _at_multiprocessing_exit(self) -> None:
        if self.settled and self.enabled:
            self._at_exit()

    def _after_fork_in_child(self) -> None:
        # Another thread may have held the lock (configuring) when the process forked;
        # its first-use set-up, if it was running one, is not this process's.
        self._lock = threading.RLock()
        self._settling = False


def _shutdown_all(processors: Sequence[Processor], timeout: float) -> DeliveryReport:
    deadline = time.monotonic() + timeout
    reports = []
    for processor in processors:
        try:
            reports.append(processor.shutdown(max(0.0, deadline - time.monotonic())))
        except Exception:
            log_internal_error("shutdown")
    return _combine(reports)


def _combine(reports: Sequence[DeliveryReport]) -> DeliveryReport:
    return DeliveryReport(
        delivered=sum(r.delivered for r in reports),
        retried=sum(r.retried for r in reports),
        dropped=sum(r.dropped for r in reports),
        pending=sum(r.pending for r in reports),
        timed_out=any(r.timed_out for r in reports),
        last_error=next((r.last_error for r in reports if r.last_error), None),
    )


TRACER = Tracer()
# A trace opened before any span is a first use too: work it hands to a thread pool must
# find the pool patch in place.
_context.first_use = TRACER.settle
_finalizer_requested = False


def _register_multiprocessing_exit_flush() -> None:
    """Before a fork: if multiprocessing may be forking, flush in its children at their end.

    ``Process._bootstrap`` clears the finalizers it inherits and runs the after-fork
    callbacks, then calls its ``Finalize`` callbacks before ``os._exit``: registering an
    after-fork callback here (once) adds the exit flush to every child it starts.
    """
    global _finalizer_requested
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is None or _finalizer_requested:
        return
    _finalizer_requested = True
    mp_util.register_after_fork(TRACER, _add_exit_finalizer)


def _add_exit_finalizer(tracer: Tracer) -> None:
    import multiprocessing.util

    # Lowest priority: runs after the user's finalizers, which may still emit spans.
    multiprocessing.util.Finalize(None, tracer._at_multiprocessing_exit, exitpriority=-1000)


os.register_at_fork(
    before=_register_multiprocessing_exit_flush, after_in_child=TRACER._after_fork_in_child
)
