"""Export to the WhyOps ingest API: ``POST {analyse}/events/ingest`` with JSON arrays.

Request building and response classification are pure functions; only
:class:`HttpExporter` does I/O, over one pooled ``httpx2`` connection. The HTTP stack is
imported and the client built when the exporter is built, on the caller's thread
(``configure()``), never on the flusher, so a fork never catches it half-imported
(``import whyops`` alone never imports it). Bodies over :data:`GZIP_ABOVE` bytes are sent
gzip-compressed.

Retries: 429, 5xx, 408 and connection errors are retried with exponential backoff and
full jitter, honouring ``Retry-After``, up to ``max_retries`` times; shutdown interrupts
the waits. 413 (and a body over ``max_body_bytes``) splits the batch in halves, counting
per record what the server stored. Any other 4xx drops the batch, logging the server's
answer (once per status).
Every event carries an ``idempotencyKey``, so a retried batch is never stored twice.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from whyops._config import DEFAULT_LIMITS, Limits
from whyops._internal_errors import log_internal_error, warn_once
from whyops._version import __version__
from whyops.export import ExportResult
from whyops.export.encoding import encode_records
from whyops.export.forksafe import no_fork
from whyops.wire.records import Record
from whyops.wire.retry import retry_after_seconds

__all__ = ["HttpExporter", "Outcome", "build_request", "classify_response"]

INGEST_PATH = "/events/ingest"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_TOO_LARGE = "HTTP 413: event larger than the server accepts"
#: Bodies longer than this are gzip-compressed (the server inflates them, bounded).
GZIP_ABOVE = 2048


@attrs.frozen(slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen(slots=True)
class Outcome:
    """What to do after a response: ``ok``, ``retry`` (after ``delay`` s) or ``drop``."""

    action: str
    delay: float | None = None
    message: str = ""


def build_request(
    analyse_url: str, api_key: str, body: bytes, gzip_above: int | None = GZIP_ABOVE
) -> Request:
    """The ingest request for an encoded batch, gzip-compressed past ``gzip_above`` bytes."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "User-Agent": f"whyops-python/{__version__}",
    }
    if gzip_above is not None and len(body) > gzip_above:
        body = gzip.compress(body, compresslevel=5, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Request(
        method="POST", url=analyse_url.rstrip("/") + INGEST_PATH, headers=headers, body=body
    )


def classify_response(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """Pure: map an HTTP answer to ok / retry / drop."""
    if 200 <= status < 300:
        return Outcome("ok")
    text = _error_text(body)
    if status in _RETRY_STATUSES or status >= 500:
        delay = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
        return Outcome("retry", delay, f"HTTP {status}: {text}")
    return Outcome("drop", None, f"HTTP {status}: {text}")


def _error_text(body: bytes) -> str:
    """The server's ``{"error": ...}`` message, or the start of the body."""
    text = body[:2000].decode("utf-8", "replace")
    try:
        answer = json.loads(body) if len(body) <= 2000 else None
    except ValueError:
        return text
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
        return text
    error, details = answer["error"], answer.get("details")
    return f"{error} {json.dumps(details)[:1000]}" if details else error


def backoff_delay(attempt: int, base: float, cap: float, hint: float | None) -> float:
    """Exponential backoff with full jitter; a server's ``Retry-After`` wins (up to ``cap``)."""
    if hint is not None:
        return min(hint, cap)
    return random.uniform(0, min(cap, base * (2**attempt)))


class HttpExporter:
    """Posts batches of events to a WhyOps-compatible analyse API."""

    _LOSS_KEY = "http-loss"  # losses are logged once per status and exporter kind

    def __init__(
        self,
        analyse_url: str,
        api_key: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        default_agent_name: str | None = None,
        max_body_bytes: int = 4 * 2**20,
        gzip_above: int | None = GZIP_ABOVE,
    ) -> None:
        self.analyse_url = analyse_url.rstrip("/")
        self.api_key = api_key
        self.limits = limits
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.default_agent_name = default_agent_name
        self.max_body_bytes = max_body_bytes
        self.gzip_above = gzip_above
        self.live_retries = 0  # retries of the export under way (the processor reads it)
        self.last_failure: str | None = None  # the last failed attempt, while retrying
        self._stopping = threading.Event()
        # Built here, on the caller's thread: building imports the HTTP stack (and more,
        # lazily); the flusher must never import, or a fork could catch it half-way.
        self._client: Any = self._new_client()

    @property
    def destination(self) -> str:
        return self.analyse_url + INGEST_PATH

    def _new_client(self) -> Any:
        import httpx2

        return httpx2.Client(
            timeout=self.timeout,
            limits=httpx2.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def _http(self) -> Any:
        if self._client is None:  # after a fork or a shutdown: modules already imported
            with no_fork():
                self._client = self._new_client()
        return self._client

    def export(self, records: Sequence[Record]) -> ExportResult:
        with no_fork():
            body, failed = self._encode(records)
        if failed == len(records):
            return ExportResult(ok=True, dropped=failed)
        if len(body) > self.max_body_bytes and len(records) > 1:
            return self._split(records)
        result = self._post(self._request(body), len(records))
        if result.error == _TOO_LARGE and len(records) > 1:
            return self._split(records, result.retries)
        if result.error == _TOO_LARGE:
            self._report_loss(Outcome("drop", None, _TOO_LARGE), 1)
        return attrs.evolve(result, dropped=failed) if failed and result.ok else result

    # The three steps another protocol changes (whyops.export.otlp): the body of a batch,
    # the request carrying it, and what an answer means. Retries, splitting and counting
    # stay here.
    def _encode(self, records: Sequence[Record]) -> tuple[bytes, int]:
        return encode_records(records, self.limits, self.default_agent_name)

    def _request(self, body: bytes) -> Request:
        return build_request(self.analyse_url, self.api_key, body, self.gzip_above)

    def _classify(self, response: Any) -> Outcome:
        return classify_response(response.status_code, response.headers, response.content)

    def _split(self, records: Sequence[Record], retries: int = 0) -> ExportResult:
        """Halve a batch too large for one request, counting per record what was stored."""
        middle = len(records) // 2
        first, second = self.export(records[:middle]), self.export(records[middle:])
        lost = _lost(first, middle) + _lost(second, len(records) - middle)
        return ExportResult(
            ok=lost < len(records),
            retries=retries + first.retries + second.retries,
            error=first.error or second.error,
            dropped=lost,
        )

    def _post(self, request: Request, count: int) -> ExportResult:
        retries = 0
        while True:
            outcome = self._send(request)
            if outcome.action == "ok":
                self.last_failure = None
                return ExportResult(ok=True, retries=retries)
            self.last_failure = outcome.message
            if outcome.message.startswith("HTTP 413"):
                return ExportResult(ok=False, retries=retries, error=_TOO_LARGE)
            if outcome.action == "drop" or retries >= self.max_retries or self._stopping.is_set():
                self._report_loss(outcome, count)
                return ExportResult(ok=False, retries=retries, error=outcome.message)
            delay = backoff_delay(retries, self.backoff_base, self.backoff_cap, outcome.delay)
            retries += 1
            self.live_retries += 1
            if self._stopping.wait(delay):
                self._report_loss(outcome, count)
                return ExportResult(ok=False, retries=retries, error=outcome.message)

    def _send(self, request: Request) -> Outcome:
        try:
            response = self._http().request(
                request.method, request.url, headers=dict(request.headers), content=request.body
            )
        except Exception as exc:
            return Outcome("retry", None, f"{type(exc).__name__}: {exc}")
        return self._classify(response)

    def _report_loss(self, outcome: Outcome, count: int) -> None:
        status = outcome.message.split(":", 1)[0]
        warn_once(
            f"{self._LOSS_KEY}:{status}",
            "whyops: %d records not delivered to %s (%s); further losses are counted in "
            "the DeliveryReport",
            count,
            self.destination,
            outcome.message,
        )

    def shutdown(self) -> None:
        """Stop retrying at once and close the connection."""
        self._stopping.set()
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                log_internal_error("HttpExporter.shutdown")

    def after_fork(self) -> None:
        # The parent's pooled socket must not be shared; the child opens its own.
        self._client = None
        self._stopping = threading.Event()
        self.live_retries, self.last_failure = 0, None


def _lost(result: ExportResult, count: int) -> int:
    """How many of the ``count`` records an export call lost."""
    return result.dropped if result.ok else count
