"""Benchmark of OTLP intake: spans stored per second through ``POST /v1/traces`` against events
stored per second through ``POST /api/events/ingest``, same server, same run.

    python bench/bench_otlp_ingest.py [--quick] [--db postgresql://...]

Both sides store the same thing. Each OTLP export is 100 GenAI spans (protobuf, as the
OpenTelemetry SDK exporter sends them): agent turns of ``invoke_agent``, two ``chat`` calls
with messages and usage, two ``execute_tool`` calls. The ingest side posts, for each export,
exactly the events that export turns into (``whyops.otlp.inbound.translate`` of a twin export
with other trace ids), as one JSON batch. A span becomes the events that open and close it (a
chat span: its input messages and the answer; a tool or agent span: the request and the
response), two per span here, so spans/s is events/s halved; the fair comparison is events
stored per second by each route, and the OTLP route's extra cost is decoding and translating.
Rounds of the two alternate on one server process (a real ``whyops serve`` on 127.0.0.1), so
the machine's noise hits both alike.
Prints a table and writes ``bench/results/otlp-ingest-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_server import KEY, Server, _load  # noqa: E402

from whyops.otlp.attributes import key_values  # noqa: E402
from whyops.otlp.inbound import translate  # noqa: E402
from whyops.otlp.proto import encode_request  # noqa: E402

SPANS_PER_EXPORT = 100
SPANS_PER_TURN = 5  # invoke_agent, chat, execute_tool, execute_tool, chat
START_NS = 1_764_000_000_000_000_000


def _span(trace: str, name: str, attributes: dict[str, Any], offset_ms: int,
          parent: str = "", kind: int = 1) -> dict[str, Any]:  # fmt: skip
    start = START_NS + offset_ms * 1_000_000
    return {
        "traceId": trace, "spanId": uuid.uuid4().hex[:16], "parentSpanId": parent,
        "name": name, "kind": kind, "startTimeUnixNano": start,
        "endTimeUnixNano": start + 40_000_000, "attributes": key_values(attributes),
        "events": [], "links": [], "status": {"code": 0, "message": ""},
    }  # fmt: skip


def _chat(trace: str, parent: str, offset_ms: int, tools: bool) -> dict[str, Any]:
    user = [{"role": "user", "parts": [{"type": "text", "content": "Where is order A1001?"}]}]
    if tools:
        parts = [{"type": "tool_call", "id": f"call_{offset_ms}_{n}", "name": "lookup_order",
                  "arguments": {"order": "A1001"}} for n in range(2)]  # fmt: skip
        answer = [{"role": "assistant", "parts": parts, "finish_reason": "tool_call"}]
    else:
        text = {"type": "text", "content": "Order A1001 shipped on Monday. " * 4}
        answer = [{"role": "assistant", "parts": [text], "finish_reason": "stop"}]
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 240,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.response.finish_reasons": ["tool_call" if tools else "stop"],
        "gen_ai.input.messages": json.dumps(user), "gen_ai.output.messages": json.dumps(answer),
    }  # fmt: skip
    return _span(trace, "chat gpt-4o-mini", attributes, offset_ms, parent, kind=3)


def _tool(trace: str, parent: str, offset_ms: int, n: int) -> dict[str, Any]:
    attributes = {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
        "gen_ai.tool.type": "function", "gen_ai.tool.call.id": f"call_{offset_ms - 50}_{n}",
        "gen_ai.tool.call.arguments": '{"order": "A1001"}',
        "gen_ai.tool.call.result": '{"status": "shipped", "carrier": "UPS"}',
    }  # fmt: skip
    return _span(trace, "execute_tool lookup_order", attributes, offset_ms, parent)


def agent_turn(trace: str) -> list[dict[str, Any]]:
    """One turn of a support agent: the five spans a GenAI instrumentation writes for it."""
    root = _span(trace, "invoke_agent support-bot", {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-bot",
        "gen_ai.conversation.id": f"conv-{trace[:12]}", "gen_ai.provider.name": "openai",
    }, 0)  # fmt: skip
    parent = root["spanId"]
    return [root, _chat(trace, parent, 10, tools=True), _tool(trace, parent, 60, 0),
            _tool(trace, parent, 61, 1), _chat(trace, parent, 120, tools=False)]  # fmt: skip


def export_request() -> dict[str, Any]:
    """100 spans: 20 agent turns, one trace each."""
    spans = [
        s for _ in range(SPANS_PER_EXPORT // SPANS_PER_TURN) for s in agent_turn(uuid.uuid4().hex)
    ]
    resource = {
        "attributes": key_values({"service.name": "bench", "telemetry.sdk.language": "python"})
    }
    scope = {"name": "opentelemetry.instrumentation.genai", "version": "0.1"}
    scope_spans = [{"scope": scope, "spans": spans}]
    return {"resourceSpans": [{"resource": resource, "scopeSpans": scope_spans}]}


def _http(path: str, media: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _round(server: Server, requests: list[bytes], connections: int, ok: int) -> dict[str, float]:
    cpu_before = server.cpu_seconds()
    seconds, statuses = asyncio.run(_load(server.port, requests, connections))
    assert statuses.count(ok) == len(requests), sorted(set(statuses))
    return {"seconds": seconds, "cpu": server.cpu_seconds() - cpu_before}


def _stored(server: Server) -> int:
    if server.db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(server.db) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
    else:
        import sqlite3

        conn = sqlite3.connect(server.db)
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        conn.close()
    return int(row[0]) if row else 0


def run(db: str, exports: int, rounds: int, connections: int) -> dict[str, Any]:
    server = Server(db)
    totals = {"otlp": {"seconds": 0.0, "cpu": 0.0}, "ingest": {"seconds": 0.0, "cpu": 0.0}}
    spans = events_otlp = events_ingest = 0
    try:
        for _ in range(rounds):
            otlp = [export_request() for _ in range(exports)]
            twins = [translate(export_request()).events for _ in range(exports)]
            spans += exports * SPANS_PER_EXPORT
            before = _stored(server)
            bodies = [
                _http("/v1/traces", "application/x-protobuf", encode_request(r)) for r in otlp
            ]
            for key, value in _round(server, bodies, connections, 200).items():
                totals["otlp"][key] += value
            events_otlp += _stored(server) - before
            before = _stored(server)
            bodies = [_http("/api/events/ingest", "application/json", json.dumps(e).encode())
                      for e in twins]  # fmt: skip
            for key, value in _round(server, bodies, connections, 202).items():
                totals["ingest"][key] += value
            events_ingest += _stored(server) - before
    finally:
        server.stop()
    assert events_otlp == events_ingest > 0, (events_otlp, events_ingest)  # the same rows
    otlp_s, ingest_s = totals["otlp"]["seconds"], totals["ingest"]["seconds"]
    return {
        "spans": spans, "events_stored_otlp": events_otlp, "events_stored_ingest": events_ingest,
        "events_per_span": events_otlp / spans,
        "otlp_spans_per_s": spans / otlp_s, "otlp_events_per_s": events_otlp / otlp_s,
        "ingest_events_per_s": events_ingest / ingest_s,
        "ingest_spans_per_s": spans / ingest_s,  # the same spans, posted as their events
        "ratio_events_per_s": (events_otlp / otlp_s) / (events_ingest / ingest_s),
        "otlp_cpu_us_per_span": totals["otlp"]["cpu"] / spans * 1e6,
        "ingest_cpu_us_per_span": totals["ingest"]["cpu"] / spans * 1e6,
        "exports_per_round": exports, "rounds": rounds, "connections": connections,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a smoke test)")
    parser.add_argument("--db", help="a postgresql:// URL (default: a new SQLite file)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    exports, rounds = (10, 2) if args.quick else (50, 6)
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or str(Path(folder) / "otlp-bench.db")
        result = run(db, exports, rounds, args.connections)
    print(
        f"{result['spans']} spans in exports of {SPANS_PER_EXPORT} "
        f"({result['events_per_span']:.2f} events per span), {args.connections} connections"
    )
    print(
        f"  /v1/traces          {result['otlp_spans_per_s']:>10,.0f} spans/s"
        f"  {result['otlp_events_per_s']:>10,.0f} events/s"
        f"  {result['otlp_cpu_us_per_span']:>7.1f} server CPU us/span"
    )
    print(
        f"  /api/events/ingest  {result['ingest_spans_per_s']:>10,.0f} spans/s"
        f"  {result['ingest_events_per_s']:>10,.0f} events/s"
        f"  {result['ingest_cpu_us_per_span']:>7.1f} server CPU us/span"
    )
    print(f"  OTLP / ingest, events stored per second: {result['ratio_events_per_s']:.2f}")
    out = ROOT / "bench" / "results" / f"otlp-ingest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
