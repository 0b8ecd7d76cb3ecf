"""A small OTLP/HTTP traces receiver on 127.0.0.1 that records what it is sent, for the
forwarder's tests: requests decoded with the official protobuf bindings (``whyops.otlp.proto``),
answers chosen per request by the test (200, 503 with Retry-After, 400 …)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

from whyops.otlp.proto import MEDIA_PROTOBUF, decode_request, encode_response

Answer = tuple[int, dict[str, str]]


@attrs.define
class Received:
    at: float
    status: int
    spans: list[dict[str, Any]]  # each span with "resource": its resource's attributes
    gzipped: bool
    headers: dict[str, str]


def flat_spans(request: dict[str, Any]) -> list[dict[str, Any]]:
    spans = []
    for resource_spans in request["resourceSpans"]:
        resource = {kv["key"]: kv["value"] for kv in resource_spans["resource"]["attributes"]}
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                spans.append({**span, "resource": resource})
    return spans


def attribute(span: dict[str, Any], key: str) -> Any:
    for kv in span["attributes"]:
        if kv["key"] == key:
            return next(iter(kv["value"].values()), None)
    return None


class Receiver:
    """Answers ``answer(spans)`` (default 200); ``delay_s`` before each answer."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[list[dict[str, Any]]], Answer] = lambda spans: (200, {})
        self.delay_s = 0.0
        self.in_flight = 0  # requests being handled right now
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with receiver._lock:
                    receiver.in_flight += 1
                try:
                    self._receive()
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def _receive(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                if gzipped:
                    body = gzip.decompress(body)
                assert self.headers["Content-Type"] == MEDIA_PROTOBUF
                spans = flat_spans(decode_request(body, MEDIA_PROTOBUF))
                time.sleep(receiver.delay_s)
                status, headers = receiver.answer(spans)
                with receiver._lock:
                    receiver.received.append(
                        Received(time.monotonic(), status, spans, gzipped, dict(self.headers))
                    )
                reply = encode_response(MEDIA_PROTOBUF) if status == 200 else b""
                try:
                    self.send_response(status)
                    for name, value in {**headers, "Content-Type": MEDIA_PROTOBUF}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the sender was killed while waiting for the answer
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def accepted(self) -> list[dict[str, Any]]:
        """Every span of every request answered 2xx, in arrival order (repeats included)."""
        with self._lock:
            return [s for r in self.received if 200 <= r.status < 300 for s in r.spans]

    def accepted_ids(self) -> list[str]:
        return [span["spanId"] for span in self.accepted()]

    def wait_for(self, done: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{len(self.received)} requests received"
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
