"""The tracer: configuration, the processors that receive ended spans, exit and fork.

There is one tracer per process (:data:`TRACER`); the public functions in ``whyops`` act
on it. Until it is configured (or when disabled) it has no processors, ``enabled`` is
False, and decorated functions call straight through.

Exit: the hooks and the final flush share one budget (``exit_timeout``). Processes that
``multiprocessing`` forks end with ``os._exit``, which skips ``atexit``; the tracer asks
multiprocessing to run the same exit flush in them (a ``multiprocessing.util.Finalize``).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from whyops import _threads
from whyops._config import Config, load_config
from whyops._errors import log_internal_error
from whyops.export import Exporter, Processor
from whyops.export.batch import BatchProcessor, InlineProcessor
from whyops.models import DeliveryReport, EventRecord, SpanRecord

__all__ = ["TRACER", "Tracer", "get_tracer"]


class Tracer:
    """Owns the configuration and the processors; ``on_end`` is the hot-path hand-off."""

    def __init__(self) -> None:
        self.enabled = False
        self.configured = False
        self.config = Config()
        self.capture_inputs = True
        self.capture_outputs = True
        self._processors: tuple[Processor, ...] = ()
        self._lock = threading.RLock()
        self._exit_hooked = False
        self._before_exit: list[Callable[[], object]] = []

    # -- the hot path -------------------------------------------------------------------

    def on_end(self, span: Any) -> None:
        """Hand an ended span to every processor (they never block or raise).

        Rebound to the single processor's ``submit`` when there is one (saves a call).
        """
        for processor in self._processors:
            processor.submit(span)

    def submit(self, record: SpanRecord | EventRecord) -> None:
        """Queue a frozen record (manual WhyOps events use this); never blocks or raises."""
        try:
            for processor in self._processors:
                processor.submit(record)
        except Exception:
            log_internal_error("submit")

    # -- configuration ------------------------------------------------------------------

    def configure(self, **options: Any) -> None:
        """Settle the configuration and start exporting (see ``whyops.configure``)."""
        config = load_config(options)
        from whyops.export.resolve import resolve_exporters

        exporters = [] if config.disabled else resolve_exporters(config)
        with self._lock:
            old = self._install(config, exporters)
        _shutdown_all(old, config.exit_timeout)

    def _install(self, config: Config, exporters: Sequence[Exporter]) -> tuple[Processor, ...]:
        old = self._processors
        self.config = config
        self.configured = bool(exporters)
        self.capture_inputs = config.capture_inputs
        self.capture_outputs = config.capture_outputs
        self._set_processors(tuple(self._processor_for(e) for e in exporters))
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
            self.on_end = processors[0].submit  # type: ignore[method-assign,assignment]
        else:
            self.__dict__.pop("on_end", None)
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
            saved = (self.config, self.configured, self._processors)
            self._install(self.config, [exporter])
        try:
            yield exporter
        finally:
            with self._lock:
                current = self._processors
                config, configured, processors = saved
                self._restore(config, configured, processors)
            _shutdown_all(current, config.exit_timeout)

    def _restore(self, config: Config, configured: bool, processors: tuple[Processor, ...]) -> None:
        self._install(config, [])
        self._set_processors(processors)
        self.configured = configured
        if self.enabled and config.propagate_to_threads:
            _threads.patch_thread_pools()

    # -- delivery -----------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        """Wait (at most ``timeout`` seconds) until everything queued so far is exported."""
        deadline = time.monotonic() + timeout
        reports = [p.flush(max(0.0, deadline - time.monotonic())) for p in self._processors]
        return _combine(reports)

    def shutdown(self, timeout: float = 2.0) -> DeliveryReport:
        """Flush within ``timeout``, stop the flusher threads and turn tracing off."""
        with self._lock:
            processors = self._processors
            self._install(self.config, [])
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
        if self.enabled:
            self._at_exit()

    def _after_fork_in_child(self) -> None:
        # Another thread may have held the lock (configuring) when the process forked.
        self._lock = threading.RLock()


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


def get_tracer() -> Tracer:
    """The process's tracer."""
    return TRACER
