"""``POST /v1/traces``: OTLP/HTTP into a real server on both stores (protobuf and JSON, gzip),
stored like an ingest batch and read back by every read route. Refusals:
test_otlp_route_errors.py."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

pytest.importorskip("opentelemetry.proto", reason="the otlp extra is not installed")

from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.server.conftest import Api, event_count, read_only
from tests.server.test_fuzz_hardening import _read_routes
from whyops.otlp.attributes import key_values
from whyops.otlp.proto import encode_request, request_json
from whyops.server.run import RunningServer

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PATHS = ("/v1/traces", "/api/otlp/v1/traces")
START_NS = 1_764_000_000_000_000_000


# -- building requests -----------------------------------------------------------------------


def new_ids() -> tuple[str, str]:
    """A fresh (32-hex trace id, 16-hex span id)."""
    return uuid.uuid4().hex, uuid.uuid4().hex[:16]


def otlp_span(
    trace_id: str,
    span_id: str,
    name: str,
    attributes: dict[str, Any],
    *,
    parent: str = "",
    offset_ms: int = 0,
    kind: int = 1,
    status: int = 0,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One span in the OTLP/JSON shape, ``offset_ms`` after START_NS, lasting 50 ms."""
    start = START_NS + offset_ms * 1_000_000
    return {
        "traceId": trace_id, "spanId": span_id, "parentSpanId": parent, "name": name,
        "kind": kind, "startTimeUnixNano": start, "endTimeUnixNano": start + 50_000_000,
        "attributes": key_values(attributes), "events": events or [], "links": [],
        "status": {"code": status, "message": ""},
    }  # fmt: skip


def request_of(*spans: dict[str, Any], service: str = "svc") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": key_values({"service.name": service})},
                "scopeSpans": [{"scope": {"name": "tests", "version": "1"}, "spans": list(spans)}],
            }
        ]
    }


def agent_turn(trace_id: str, agent: str = "support-bot") -> list[dict[str, Any]]:
    """invoke_agent → chat (asks for a tool) → execute_tool, as GenAI instrumentations write."""
    root, chat, tool = (uuid.uuid4().hex[:16] for _ in range(3))
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Where is order 42?"}]}]
    answer = [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "lookup_order", "arguments": {"id": 42}}
    ]}]  # fmt: skip
    definitions = [{"type": "function", "name": "lookup_order", "description": "Find an order",
                    "parameters": {"type": "object"}}]  # fmt: skip
    return [
        otlp_span(
            trace_id,
            root,
            f"invoke_agent {agent}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": agent,
                "gen_ai.agent.description": "Answers order questions",
                "gen_ai.system_instructions": json.dumps(
                    [{"type": "text", "content": "Be brief."}]
                ),
                "gen_ai.tool.definitions": json.dumps(definitions),
                "gen_ai.conversation.id": f"conv-{trace_id[:8]}",
            },
            offset_ms=0,
        ),
        otlp_span(
            trace_id,
            chat,
            "chat gpt-4o-mini",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 14,
                "gen_ai.response.finish_reasons": ["tool_call"],
                "gen_ai.input.messages": json.dumps(messages),
                "gen_ai.output.messages": json.dumps(answer),
            },
            parent=root,
            offset_ms=5,
            kind=3,
        ),
        otlp_span(
            trace_id,
            tool,
            "execute_tool lookup_order",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.arguments": '{"id": 42}',
                "gen_ai.tool.call.result": '{"status": "shipped"}',
            },
            parent=root,
            offset_ms=60,
        ),
    ]


def encoded(request: dict[str, Any], media: str = PROTOBUF) -> bytes:
    return encode_request(request) if media == PROTOBUF else request_json(request)


def export(
    api: Api,
    request: dict[str, Any],
    media: str = PROTOBUF,
    *,
    path: str = "/v1/traces",
    gzipped: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    body = encoded(request, media)
    sent = {"Content-Type": media, **(headers or {})}
    if gzipped:
        body, sent["Content-Encoding"] = gzip.compress(body), "gzip"
    return api.post(path, content=body, headers=sent)


# -- reading answers ---------------------------------------------------------------------------


def partial_success(response: httpx2.Response) -> tuple[int, str]:
    """(rejected spans, error message) of a 200 answer, decoded as its content type says."""
    assert response.status_code == 200, response.content[:300]
    media = response.headers["content-type"]
    if media == JSON:
        partial = response.json().get("partialSuccess", {})
        return int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")
    assert media == PROTOBUF
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    return answer.partial_success.rejected_spans, answer.partial_success.error_message


def rpc_status(response: httpx2.Response) -> tuple[int, str]:
    """(gRPC code, message) of an error answer's ``google.rpc.Status``."""
    if response.headers["content-type"] == JSON:
        body = response.json()
        return body["code"], body["message"]
    assert response.headers["content-type"] == PROTOBUF
    status = status_pb2.Status.FromString(response.content)
    return status.code, status.message


def span_ids_read(api: Api, trace: str) -> set[str]:
    """The span ids the read API shows for ``trace``, after checking every read route answers."""
    for path, params in _read_routes(trace):
        response = api.get(path, params=params)
        assert response.status_code == 200, (path, response.text[:300])
    for path in ("/api/threads", "/api/entities?include=metadata"):
        assert api.get(path).status_code == 200, path
    spans = api.get(f"/api/traces/{quote(trace, safe='')}/spans").json()["spans"]
    return {span["id"] for span in spans}


# -- accepted exports ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("media", [PROTOBUF, JSON])
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_an_agent_turn_is_stored_and_read_back(
    api: Api, path: str, media: str, gzipped: bool
) -> None:
    trace, _ = new_ids()
    spans = agent_turn(trace)
    response = export(api, request_of(*spans), media, path=path, gzipped=gzipped)
    assert response.headers["content-type"] == media
    assert partial_success(response) == (0, "")
    assert span_ids_read(api, trace) >= {span["spanId"] for span in spans}
    events = api.get("/api/events", params={"traceId": trace, "include": "metadata"}).json()
    llm = [e for e in events["events"] if e["eventType"] == "llm_response"]
    assert llm and llm[0]["metadata"]["model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("content_type", "answered"),
    [
        ("application/json; charset=utf-8", JSON),
        ("Application/JSON ; Charset=UTF-8", JSON),
        ("application/protobuf", PROTOBUF),  # the registered name of the protobuf encoding
        ("application/x-protobuf; proto=opentelemetry.proto.collector.trace.v1", PROTOBUF),
    ],
)
def test_content_type_parameters_and_aliases_are_understood(
    api: Api, content_type: str, answered: str
) -> None:
    trace, _ = new_ids()
    spans = agent_turn(trace)
    body = encoded(request_of(*spans), answered)
    response = api.post("/v1/traces", content=body, headers={"Content-Type": content_type})
    assert response.headers["content-type"] == answered
    assert partial_success(response) == (0, "")
    assert span_ids_read(api, trace) >= {span["spanId"] for span in spans}


def test_an_empty_export_is_200(api: Api) -> None:
    for media in (PROTOBUF, JSON):
        response = api.post("/v1/traces", content=b"" if media == PROTOBUF else b"{}",
                            headers={"Content-Type": media})  # fmt: skip
        assert partial_success(response) == (0, "")


def test_a_resent_export_stores_nothing_twice(fresh_api: Api) -> None:
    trace, _ = new_ids()
    request = request_of(*agent_turn(trace))
    assert partial_success(export(fresh_api, request)) == (0, "")
    stored = event_count(fresh_api.running.db_path, trace)
    agents = _agent_versions(fresh_api.running.db_path)
    for media in (PROTOBUF, JSON):  # the exporter's retry, in either encoding
        assert partial_success(export(fresh_api, request, media, gzipped=True)) == (0, "")
    assert stored > 0
    assert event_count(fresh_api.running.db_path, trace) == stored
    assert _agent_versions(fresh_api.running.db_path) == agents


def _agent_versions(db: str) -> int:
    conn = read_only(db)
    try:
        return int(conn.execute("SELECT count(*) FROM agent_versions").fetchone()[0])
    finally:
        conn.close()


def test_the_agent_is_registered_with_the_version_hash_of_agent_init(api: Api) -> None:
    trace, _ = new_ids()
    agent = f"otlp-agent-{trace[:8]}"
    assert partial_success(export(api, request_of(*agent_turn(trace, agent)))) == (0, "")
    entity = api.get(f"/api/entities/{agent}")
    assert entity.status_code == 200, entity.text
    latest = entity.json()["latestVersion"]
    assert latest["autoCreated"] is False
    metadata = latest["metadata"]
    assert metadata["systemPrompt"] == "Be brief."
    assert metadata["description"] == "Answers order questions"
    assert [tool["name"] for tool in metadata["tools"]] == ["lookup_order"]
    # The same definition through agent init: the version the export registered, unchanged.
    again = api.post("/api/entities/init", {"agentName": agent, "metadata": metadata})
    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["versionHash"]) == ("existing", latest["hash"])


def test_bearer_and_x_api_key(api: Api) -> None:
    key = api.running.api_key
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        with httpx2.Client(base_url=api.running.base_url, headers=headers) as http:
            trace, _ = new_ids()
            body = encode_request(request_of(*agent_turn(trace)))
            sent = http.post("/v1/traces", content=body, headers={"Content-Type": PROTOBUF})
            assert partial_success(sent) == (0, ""), headers
            assert event_count(api.running.db_path, trace) > 0


def test_exports_keep_to_their_project(keyed_server: RunningServer) -> None:
    team, outsider = Api(keyed_server, "whyops_alpha"), Api(keyed_server, "whyops_gamma")
    trace, _ = new_ids()
    assert partial_success(export(outsider, request_of(*agent_turn(trace)))) == (0, "")
    assert team.get(f"/api/traces/{trace}/spans").status_code == 404
    assert outsider.get(f"/api/traces/{trace}/spans").status_code == 200
    team.close(), outsider.close()


def test_rejected_spans_are_counted_and_named_and_the_rest_stored(api: Api) -> None:
    trace, good = new_ids()
    spans = [
        otlp_span(trace, good, "fine", {"k": "v"}),
        otlp_span(trace[:30], "abcdef0123456789", "short-trace", {}),  # 15 bytes of trace id
        otlp_span(trace, "abcd", "short-span", {}),
    ]
    rejected, message = partial_success(export(api, request_of(*spans)))
    assert rejected == 2
    assert "short-trace" in message or "abcdef0123456789" in message
    assert "abcd" in message
    assert good in span_ids_read(api, trace)


def test_unknown_enum_values_are_kept_as_plain_spans(api: Api) -> None:
    trace, span = new_ids()
    request = request_of(otlp_span(trace, span, "odd", {"a": 1}, kind=99, status=7))
    for media in (PROTOBUF, JSON):
        assert partial_success(export(api, request, media)) == (0, "")
    assert span in span_ids_read(api, trace)
