"""A real OTLP/HTTP traces receiver on 127.0.0.1 for exporter tests: it reads bodies with the
official protobuf bindings (``opentelemetry-proto``), never with whyops' own decoder."""

from __future__ import annotations

import gzip
import http.server
import threading
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as service


class OtlpReceiver:
    """Records every span posted to ``/v1/traces``. ``script`` holds (status, headers, body)
    answers to give first; then 200 with an empty ``ExportTraceServiceResponse``."""

    def __init__(self) -> None:
        self.spans: list[Any] = []  # opentelemetry.proto.trace.v1.Span messages
        self.resources: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def requests(self) -> int:
        return len(self.paths)

    def spans_named(self) -> dict[str, Any]:
        return {span.name: span for span in self.spans}

    def _record(self, body: bytes, content_type: str) -> None:
        if content_type.startswith("application/json"):
            request = json_format.Parse(body, service.ExportTraceServiceRequest())
        else:
            request = service.ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            self.resources.append(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(scope_spans.spans)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with receiver.lock:
                    receiver.paths.append(self.path)
                    receiver.headers.append(dict(self.headers.items()))
                    status, headers, reply = (
                        receiver.script.pop(0) if receiver.script else (200, {}, b"")
                    )
                    if status < 300:
                        receiver._record(body, self.headers.get("Content-Type", ""))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes_of(message: Any) -> dict[str, Any]:
    """A protobuf span's (or event's) attributes as plain values (scalars only)."""
    found: dict[str, Any] = {}
    for kv in message.attributes:
        which = kv.value.WhichOneof("value")
        found[kv.key] = getattr(kv.value, which) if which else None
    return found
