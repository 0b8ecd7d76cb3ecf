"""Security headers on every answer, liveness-only health without a key, keys from a file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.server.conftest import Api, event, new_trace
from whyops.server.run import start_in_thread
from whyops.server.settings import ServerSettings, env_defaults, read_key_file

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _assert_secured(response: httpx2.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, dict(response.headers))
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    assert response.headers.get_list("content-security-policy") == [policy]  # sent once


@pytest.mark.parametrize(
    "path",
    ["/", "/index.html", "/app.js", "/api/health", "/api/threads", "/api/nothing-here"],
)
def test_page_static_files_and_json_carry_the_security_headers(api: Api, path: str) -> None:
    _assert_secured(api.get(path))


def test_errors_and_proxied_answers_carry_them_too(api: Api) -> None:
    _assert_secured(api.http.get("/api/threads", headers={"Authorization": "Bearer nope"}))
    _assert_secured(api.post("/api/events/ingest", content=b"{"))
    _assert_secured(api.ingest(event("tool_result", new_trace())))
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    proxied = api.post("/v1/chat/completions", body, headers={"X-Agent-Name": "sec"})
    assert proxied.status_code == 200, proxied.text
    _assert_secured(proxied)


def test_key_file_holds_keys_and_projects(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nwhyops_one=team\n\n  whyops_two=team  \nwhyops_three\n")
    assert read_key_file(str(keys)) == ("whyops_one=team", "whyops_two=team", "whyops_three")
    settings = ServerSettings(api_keys=("cli_key",), api_key_file=str(keys))
    assert [spec.key for spec in settings.key_specs] == [
        "cli_key", "whyops_one", "whyops_two", "whyops_three",
    ]  # fmt: skip
    env = env_defaults({"WHYOPS_SERVER_API_KEY_FILE": str(keys)})
    assert env["api_key_file"] == str(keys)
    (tmp_path / "empty").write_text("# nothing\n")
    for path in (tmp_path / "missing", tmp_path / "empty"):
        with pytest.raises(ValueError, match=f"--api-key-file {path}"):
            read_key_file(str(path))


def test_a_server_accepts_the_keys_of_its_key_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("whyops_filed_key\n")
    settings = ServerSettings(port=0, db_path=str(tmp_path / "w.db"), api_key_file=str(keys))
    with start_in_thread(settings) as running:
        ok = httpx2.get(running.base_url + "/api/threads",
                        headers={"Authorization": "Bearer whyops_filed_key"})  # fmt: skip
        assert ok.status_code == 200
        other = httpx2.get(running.base_url + "/api/threads",
                           headers={"Authorization": "Bearer whyops_other"})  # fmt: skip
        assert other.status_code == 401


def test_serve_with_a_key_file_keeps_the_key_out_of_the_process_list(tmp_path: Path) -> None:
    secret = "whyops_never_in_ps"
    keys = tmp_path / "keys"
    keys.write_text(secret + "\n")
    command = [sys.executable, "-m", "whyops.server.run", "--port", "0",
               "--db", str(tmp_path / "w.db"), "--api-key-file", str(keys)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = re.search(r":(\d+) ", line)
        assert port is not None, line
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert secret.encode() not in cmdline
        base = f"http://127.0.0.1:{port.group(1)}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx2.get(base + "/api/threads",
                                    headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert answer.status_code == 200
        page = process.stdout.readline()  # a link the operator completes; no key in the output
        assert "web page:" in page and str(keys) in page
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert secret not in line + page + out


def test_serve_refuses_an_unreadable_key_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    command = [sys.executable, "-m", "whyops.server.run", "--port", "0",
               "--db", str(tmp_path / "w.db"), "--api-key-file", missing]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WHYOPS_SERVER_API_KEYS": ""})  # fmt: skip
    assert done.returncode == 2
    assert f"--api-key-file {tmp_path / 'nope'}: cannot read it" in done.stderr
