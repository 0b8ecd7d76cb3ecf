"""``POST /v1/traces`` refusals: each status the OTLP specification prescribes, a
``google.rpc.Status`` body in the request's encoding, Retry-After where a retry helps, and
nothing stored; on both stores (the full disk on a SQLite file of a real server process)."""

from __future__ import annotations

import gzip
import resource
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest

pytest.importorskip("opentelemetry.proto", reason="the otlp extra is not installed")

from tests.server.conftest import Api, event_count
from tests.server.served import Served
from tests.server.test_otlp_route import (
    JSON,
    PROTOBUF,
    agent_turn,
    encoded,
    export,
    new_ids,
    otlp_span,
    partial_success,
    request_of,
    rpc_status,
)
from tests.server.test_storage_failure import _file_size_limit
from whyops.otlp.proto import encode_request
from whyops.server.backpressure import MAX_QUEUED_WRITES, STORAGE_RETRY_AFTER_S
from whyops.server.run import RunningServer
from whyops.server.store.writer import MAX_JOBS_PER_COMMIT

# -- refused exports: status, google.rpc.Status body, nothing stored ------------------------------


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
def test_a_missing_or_wrong_key_is_401(api: Api, media: str) -> None:
    body = encoded(request_of(*agent_turn(new_ids()[0])), media)
    with httpx2.Client(base_url=api.running.base_url) as http:
        missing = http.post("/v1/traces", content=body, headers={"Content-Type": media})
        wrong = http.post("/v1/traces", content=body,
                          headers={"Content-Type": media, "X-API-Key": "whyops_wrong"})  # fmt: skip
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert rpc_status(missing) == (16, "Unauthorized: Authentication required")
    assert rpc_status(wrong) == (16, "Unauthorized: Invalid API key")


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", None])
def test_an_unsupported_content_type_is_415(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post("/v1/traces", content=b"{}", headers=headers)
    assert response.status_code == 415
    code, message = rpc_status(response)
    assert code == 3 and "application/x-protobuf" in message


def test_an_unsupported_content_encoding_is_415(api: Api) -> None:
    headers = {"Content-Type": PROTOBUF, "Content-Encoding": "br"}
    response = api.post("/v1/traces", content=b"\x0a\x00", headers=headers)
    assert response.status_code == 415
    assert "Content-Encoding" in rpc_status(response)[1]


@pytest.mark.parametrize(
    ("media", "body", "said"),
    [
        (PROTOBUF, b"\x0a\xff\xff\xff\x0f", "protobuf"),  # a length past the end
        (PROTOBUF, b"\xff" * 16, "protobuf"),
        (JSON, b'{"resourceSpans": [', "JSON"),
        (JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
         "traceId"),
        (JSON, b'{"resourceSpans": "\\ud800"}', "surrogate"),
    ],
)  # fmt: skip
def test_an_undecodable_body_is_400_naming_what_is_wrong(
    fresh_api: Api, media: str, body: bytes, said: str
) -> None:
    response = fresh_api.post("/v1/traces", content=body, headers={"Content-Type": media})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == media
    code, message = rpc_status(response)
    assert code == 3 and said in message, message
    assert event_count(fresh_api.running.db_path) == 0


def test_a_truncated_export_is_400_and_stores_nothing(fresh_api: Api) -> None:
    body = encode_request(request_of(*agent_turn(new_ids()[0])))
    cut = fresh_api.post("/v1/traces", content=body[: len(body) // 2],
                         headers={"Content-Type": PROTOBUF})  # fmt: skip
    assert cut.status_code == 400
    assert event_count(fresh_api.running.db_path) == 0


def test_bodies_past_the_limit_are_413(small_server: RunningServer) -> None:
    """``small_server``: 4096-byte bodies, 5 events a batch."""
    api = Api(small_server)
    trace, span = new_ids()
    big = request_of(otlp_span(trace, span, "big", {"blob": "x" * 5000}))
    assert export(api, big).status_code == 413
    bomb = gzip.compress(b"\x00" * 1_000_000)  # 1 kB on the wire, 1 MB inflated
    response = api.post("/v1/traces", content=bomb,
                        headers={"Content-Type": PROTOBUF, "Content-Encoding": "gzip"})  # fmt: skip
    assert response.status_code == 413
    assert "decompressed" in rpc_status(response)[1]
    many = request_of(*(otlp_span(trace, new_ids()[1], "s", {}) for _ in range(6)))
    too_many = export(api, many)
    assert too_many.status_code == 413 and "limit is 5" in rpc_status(too_many)[1]
    assert event_count(small_server.db_path, trace) == 0
    api.close()


def _store_of(running: RunningServer) -> Any:
    return running._server.config.app.state.store


def test_a_writer_far_behind_is_429_with_retry_after(fresh_api: Api) -> None:
    store = _store_of(fresh_api.running)
    release = threading.Event()
    held = store.submit(lambda conn, state: release.wait(30))  # the writer is busy
    # the writer took the first jobs queued behind the busy one into its transaction
    backlog = MAX_QUEUED_WRITES + MAX_JOBS_PER_COMMIT + 1
    queued = [store.submit(lambda conn, state: None) for _ in range(backlog)]
    try:
        trace, _ = new_ids()
        response = export(fresh_api, request_of(*agent_turn(trace)))
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert rpc_status(response)[0] == 8
    finally:
        release.set()
    held.result(30), [job.result(30) for job in queued]
    assert partial_success(export(fresh_api, request_of(*agent_turn(trace)))) == (0, "")
    assert event_count(fresh_api.running.db_path, trace) > 0


def test_a_closing_store_is_503_with_retry_after(fresh_api: Api) -> None:
    _store_of(fresh_api.running)._writer.close()  # as at shutdown: no more writes taken
    response = export(fresh_api, request_of(*agent_turn(new_ids()[0])), JSON)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    code, message = rpc_status(response)
    assert code == 14 and "nothing was stored" in message


def test_a_full_disk_is_503_with_retry_after_and_every_200_is_stored(tmp_path: Path) -> None:
    """A real server process whose file-size limit stands in for a full disk (SQLite)."""
    db = tmp_path / "full.db"
    served = Served(db, preexec_fn=_file_size_limit(2 * 1024 * 1024))
    try:
        acknowledged: list[str] = []
        for _ in range(200):
            trace, span = new_ids()
            big = otlp_span(trace, span, "big", {"input.value": "x" * 40_000})
            response = served.http.post("/v1/traces", content=encode_request(request_of(big)),
                                        headers={"Content-Type": PROTOBUF})  # fmt: skip
            if response.status_code != 200:
                break
            acknowledged.append(trace)
        assert response.status_code == 503, response.content[:300]
        assert response.headers["retry-after"] == str(STORAGE_RETRY_AFTER_S)
        code, message = rpc_status(response)
        assert code == 14 and "nothing was stored" in message, message
        assert acknowledged and all(event_count(str(db), t) > 0 for t in acknowledged)
        assert event_count(str(db), trace) == 0
        hard = resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space again
        retried = served.http.post("/v1/traces", content=encode_request(request_of(big)),
                                   headers={"Content-Type": PROTOBUF})  # fmt: skip
        assert partial_success(retried) == (0, "")
        assert event_count(str(db), trace) > 0
        assert "Traceback" not in served.log
    finally:
        served.close()
