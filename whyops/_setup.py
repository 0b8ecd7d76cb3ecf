"""``configure``, ``flush`` and ``shutdown``: the process-wide tracer's controls."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from whyops import _tracer
from whyops._config import Limits, env_requests_tracing
from whyops.models import DeliveryReport

__all__ = ["configure", "flush", "shutdown"]


def configure(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    analyse_url: str | None = None,
    proxy_url: str | None = None,
    agent_name: str | None = None,
    exporter: str | Any | Sequence[Any] | None = None,
    disabled: bool | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    limits: Limits | None = None,
    max_queue_size: int | None = None,
    max_batch_size: int | None = None,
    flush_interval: float | None = None,
    exit_timeout: float | None = None,
    export_timeout: float | None = None,
    max_retries: int | None = None,
    propagate_to_threads: bool | None = None,
) -> None:
    """Turn tracing on (or reconfigure it). Arguments left out come from ``WHYOPS_*``.

    ``exporter``: ``"http"`` (the default when an API key is set), ``"console"``,
    ``"memory"``, ``"jsonl:PATH"`` or a path, ``"none"``, an exporter object, or a list.
    See docs/core.md for every option and its default.
    """
    options = {key: value for key, value in locals().items() if value is not None}
    _tracer.TRACER.configure(**options)


def flush(timeout: float = 5.0) -> DeliveryReport:
    """Wait at most ``timeout`` seconds for everything queued so far to be exported."""
    return _tracer.TRACER.flush(timeout)


def shutdown(timeout: float = 2.0) -> DeliveryReport:
    """Flush within ``timeout``, stop the background thread and turn tracing off."""
    return _tracer.TRACER.shutdown(timeout)


def _configure_from_env() -> None:
    """At import: ``WHYOPS_API_KEY`` or ``WHYOPS_EXPORTER`` alone turn tracing on."""
    if not env_requests_tracing():
        return
    try:
        _tracer.TRACER.configure()
    except Exception as exc:
        logging.getLogger("whyops").warning("whyops: tracing stays off: %s", exc)


_configure_from_env()
