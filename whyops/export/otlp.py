"""Export to any OpenTelemetry backend: OTLP/HTTP (protobuf, or JSON) on the GenAI conventions.

The same flusher, limits, retries and delivery counts as the ``http`` exporter: this is
:class:`~whyops.export.http.HttpExporter` with another body, request and reading of the
answer. A batch's records become WhyOps events (the capture rules and limits of
:mod:`whyops.export.encoding`), the events one ``ExportTraceServiceRequest``
(:func:`whyops.otlp.outbound.spans_body`: one span per record), sent to
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` with the configured headers and compression.

Answers, as the OTLP specification says: 2xx is delivered, less the spans a
``partial_success`` rejected (counted as dropped); 429, 502, 503 and 504 (and connection
errors) are retried with backoff, honouring ``Retry-After``; 413 splits the batch; any other
status drops it, logging the receiver's ``google.rpc.Status`` message.

The protobuf modules are imported when the exporter is built (``configure()``, the caller's
thread), never on the flusher, and never by ``import whyops``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from whyops._config import DEFAULT_LIMITS, Limits, OtlpOptions
from whyops._internal_errors import warn_once
from whyops._version import __version__
from whyops.export import ExportResult
from whyops.export.encoding import sanitizer
from whyops.export.encoding import to_events as record_events
from whyops.export.http import HttpExporter, Outcome, Request
from whyops.otlp import proto
from whyops.otlp.outbound import request_of, span_key, spans_body
from whyops.wire.encode import to_events as span_events
from whyops.wire.records import Record, SpanRecord
from whyops.wire.retry import retry_after_seconds
from whyops.wire.stamp import DEFAULT_AGENT_NAME

__all__ = ["OtlpExporter", "classify_otlp_response"]

#: Statuses the OTLP specification says to retry; any other failure drops the batch.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def classify_otlp_response(
    status: int, headers: Mapping[str, str], body: bytes, media: str
) -> tuple[Outcome, int]:
    """Pure: an OTLP/HTTP answer → (ok / retry / drop, spans the receiver rejected)."""
    if 200 <= status < 300:
        rejected, message = proto.decode_partial_success(body, media)
        return Outcome("ok", None, message), rejected
    text = proto.decode_status_message(body, media)
    message = f"HTTP {status}: {text}" if text else f"HTTP {status}"
    if status in _RETRY_STATUSES:
        delay = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
        return Outcome("retry", delay, message), 0
    return Outcome("drop", None, message), 0


class OtlpExporter(HttpExporter):
    """Sends batches of spans to an OTLP/HTTP traces endpoint."""

    _LOSS_KEY = "otlp-loss"

    def __init__(
        self,
        options: OtlpOptions,
        *,
        limits: Limits = DEFAULT_LIMITS,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 10.0,
        default_agent_name: str | None = None,
        max_body_bytes: int = 4 * 2**20,
    ) -> None:
        self.options = options
        self.media = proto.MEDIA_JSON if options.protocol == "http/json" else proto.MEDIA_PROTOBUF
        self._headers = {
            **dict(options.headers),
            "Content-Type": self.media,
            "User-Agent": f"whyops-python/{__version__}",
        }
        if options.compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._resource = dict(options.resource)
        self._rejected = 0  # spans the last answer's partial_success rejected
        self.last_answer = ""  # the receiver's last message (a partial_success's message)
        # The protobuf modules, imported now (caller's thread) rather than on the flusher.
        if self.media == proto.MEDIA_PROTOBUF:
            proto.encode_request({})
        proto.decode_partial_success(b"", self.media)
        super().__init__(
            options.endpoint,
            "",
            limits=limits,
            timeout=options.timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            default_agent_name=default_agent_name,
            max_body_bytes=max_body_bytes,
            gzip_above=None,
        )
        self._safe = sanitizer(self.limits)

    @property
    def destination(self) -> str:
        return self.options.endpoint

    def export(self, records: Sequence[Record]) -> ExportResult:
        self._rejected = 0
        result = super().export(records)
        rejected, self._rejected = self._rejected, 0  # a split batch counted its halves
        if not (result.ok and rejected):
            return result
        dropped = min(len(records), result.dropped + rejected)
        error = result.error or f"the receiver rejected {rejected} spans: {self.last_answer}"
        return ExportResult(
            ok=dropped < len(records), retries=result.retries, error=error, dropped=dropped
        )

    def _encode(self, records: Sequence[Record]) -> tuple[bytes, int]:
        """The body of a batch, and how many records could not be encoded (left out).

        Protobuf bodies are built span by span: a span's events are made only when its turn
        comes (a recorded span's after those grouped with it, manual events at once) and
        are garbage as soon as it is encoded, so a batch never holds them all at once.
        """
        failures: list[Record] = []
        options: dict[str, Any] = {
            "service_name": self.options.service_name,
            "resource": self._resource,
            "scope_version": __version__,
            "include_open": True,  # a record is a finished span or a lone manual event
        }
        if self.media == proto.MEDIA_JSON:
            events = [e for r in records for e in self._record_events(r, failures)]
            return proto.request_json(request_of(events, **options)), len(failures)
        body = spans_body(self._span_groups(records, failures), **options)
        return body, len(failures)  # counted once spans_body has read every group

    def _span_groups(
        self, records: Sequence[Record], failures: list[Record]
    ) -> Iterator[list[dict[str, Any]]]:
        """Each span's events, grouped as :func:`~whyops.otlp.outbound.span_key` groups them,
        a recorded span's made when its group is read."""
        members: dict[tuple[str, str], list[SpanRecord | dict[str, Any]]] = {}
        for n, record in enumerate(records):
            if isinstance(record, SpanRecord) and record.span_id:
                key = span_key({"traceId": record.trace_id, "spanId": record.span_id}, n)
                members.setdefault(key, []).append(record)
                continue
            for event in self._record_events(record, failures):
                members.setdefault(span_key(event, n), []).append(event)
        for group in members.values():
            yield [
                event
                for member in group
                for event in (
                    self._record_events(member, failures)
                    if isinstance(member, SpanRecord)
                    else (member,)
                )
            ]

    def _record_events(self, record: Record, failures: list[Record]) -> list[dict[str, Any]]:
        """The WhyOps events of a record; none (the record added to ``failures``, the first
        failure logged) when it cannot be encoded."""
        try:
            if isinstance(record, SpanRecord):
                return span_events(record, self._safe, self.default_agent_name)
            return _named(record_events(record, self.limits), self.default_agent_name)
        except Exception as exc:
            failures.append(record)
            warn_once(
                "otlp-encode-record",
                "whyops: a record could not be encoded for OTLP (%s: %s); it is dropped "
                "and counted in the DeliveryReport",
                type(exc).__name__,
                exc,
            )
            return []

    def _request(self, body: bytes) -> Request:
        if self.options.compression == "gzip":
            body = gzip.compress(body, compresslevel=5, mtime=0)
        return Request(method="POST", url=self.options.endpoint, headers=self._headers, body=body)

    def _classify(self, response: Any) -> Outcome:
        outcome, rejected = classify_otlp_response(
            response.status_code, response.headers, response.content, self.media
        )
        self._rejected += rejected
        self.last_answer = outcome.message
        return outcome


def _named(events: list[dict[str, Any]], agent: str | None) -> list[dict[str, Any]]:
    """Manual events of a trace nothing named, under the configured agent name."""
    if agent:
        for event in events:
            if event.get("agentName") == DEFAULT_AGENT_NAME:
                event["agentName"] = agent
    return events
