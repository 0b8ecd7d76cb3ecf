"""The server's simulator: mounted only with ``--simulate``, behind the server's keys and body
limit (a stranger is refused before the body is read; a big body is cut off as it streams in)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from whyops.server.run import RunningServer, start_in_thread
from whyops.server.settings import ServerSettings

from .conftest import PROXY_KEY
from .shapes import error_message

SIM_KEY = "whyops_simulator_gate_key"
LIMIT = 2000
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def simulating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``whyops serve --simulate`` with a known key and a small body limit."""
    settings = ServerSettings(
        host="127.0.0.1",
        port=0,
        db_path=str(tmp_path_factory.mktemp("simulating") / "whyops.db"),
        api_keys=(SIM_KEY,),
        simulate=True,
        max_body_bytes=LIMIT,
    )
    with start_in_thread(settings) as running:
        yield running


def raw_request(base_url: str, head: list[str], body: bytes = b"") -> tuple[int, bytes]:
    """Send the request line and headers (and ``body``), then read the answer."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join([*head, "Host: x", "", ""])).encode() + body)
        reader = sock.makefile("rb")
        status = int(reader.readline().split()[1])
        length = 0
        while (line := reader.readline().strip()) != b"":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, reader.read(length)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/simulator/v1/models"), ("POST", "/simulator/v1/chat/completions")],
)
def test_without_simulate_there_is_no_simulator(proxy, method, path):
    answer = httpx2.request(
        method, proxy.base_url + path, json=CHAT, headers={"Authorization": f"Bearer {PROXY_KEY}"}
    )
    assert 404 == answer.status_code


@pytest.mark.parametrize(
    ("path", "provider"),
    [
        ("/simulator/v1/chat/completions", "openai"),
        ("/simulator/v1/messages", "anthropic"),
        ("/simulator/v1/messages/count_tokens", "anthropic"),
    ],
)
@pytest.mark.parametrize("key", [None, "x", "whyops_wrong"])
def test_a_stranger_is_refused_before_the_body_is_read(simulating, path, provider, key):
    head = [f"POST {path} HTTP/1.1", "Content-Type: application/json"]
    head += ["Content-Length: 1000"]  # under the limit, and never sent: nobody waits for it
    if key is not None:
        head.append(f"Authorization: Bearer {key}")
    status, content = raw_request(simulating.base_url, head)
    assert 401 == status

    class Answer:
        def json(self) -> object:
            return json.loads(content)

    assert error_message(Answer(), provider).startswith("Unauthorized: ")  # type: ignore[arg-type]


def test_a_body_over_the_limit_is_a_413(simulating):
    big = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * LIMIT}]}).encode()
    auth = f"Authorization: Bearer {SIM_KEY}"
    head = ["POST /simulator/v1/chat/completions HTTP/1.1", auth, f"Content-Length: {len(big)}"]
    status, content = raw_request(simulating.base_url, head)  # declared too big: not read
    assert (413, "Payload Too Large") == (status, json.loads(content)["error"]["message"][:17])
    chunked = ["POST /simulator/v1/messages HTTP/1.1", auth, "Transfer-Encoding: chunked"]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:1000], big[1000:]))
    status, content = raw_request(simulating.base_url, chunked, chunks + b"0\r\n\r\n")
    assert 413 == status
    assert "error" == json.loads(content)["type"]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (json.dumps(CHAT).encode("utf-16"), "UTF-16"),
        (json.dumps(CHAT).encode("utf-32-le"), "UTF-32"),
        (json.dumps(CHAT)[:-1].encode() + b', "x": "\xed\xa0\x80"}', "surrogate"),
        (json.dumps(CHAT)[:-1].encode() + b', "x": "\\ud800"}', "surrogate"),
    ],
)
def test_the_simulator_reads_bodies_as_strictly_as_the_server(simulating, content, named):
    answer = httpx2.post(
        simulating.base_url + "/simulator/v1/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {SIM_KEY}", "content-type": "application/json"},
    )
    assert 400 == answer.status_code
    assert named in answer.json()["error"]["message"]


def test_the_servers_keys_work_on_the_simulator_and_through_the_proxy(simulating):
    sdk = openai.OpenAI(base_url=simulating.base_url + "/simulator/v1", api_key=SIM_KEY)
    assert sdk.chat.completions.create(**CHAT).choices[0].message.content
    claude = anthropic.Anthropic(base_url=simulating.base_url, api_key=SIM_KEY, max_retries=0)
    with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=32, messages=CHAT["messages"]
    ) as stream:
        assert stream.get_final_text()
    proxied = openai.OpenAI(base_url=simulating.base_url + "/v1", api_key=SIM_KEY, max_retries=0)
    chunks = proxied.chat.completions.create(**CHAT, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def stream_body(base_url: str, head: list[str], total: int) -> int:
    """Send ``total`` bytes of chunked body while reading the answer; its status (the sender
    stops when the server hangs up)."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            ("\r\n".join([*head, "Host: x", "Transfer-Encoding: chunked", "", ""])).encode()
        )
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))

        def send() -> None:
            try:
                for _ in range(total >> 20):
                    sock.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: the point

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        status = int(sock.makefile("rb").readline().split()[1])
        sock.shutdown(socket.SHUT_RDWR)
        sender.join(30)
        return status


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_huge_body_does_not_grow_the_server(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "whyops.cli", "serve", "--simulate", "--port", str(port)]
    command += ["--db", str(tmp_path / "w.db"), "--api-key", SIM_KEY, "--log-level", "warning"]
    command += ["--max-body-bytes", str(1 << 20)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, "whyops serve did not start"
                time.sleep(0.05)
        before = peak_rss_mib(server.pid)
        path = "POST /simulator/v1/chat/completions HTTP/1.1"
        assert 401 == stream_body(base, [path], 256 << 20)
        assert 413 == stream_body(base, [path, f"Authorization: Bearer {SIM_KEY}"], 256 << 20)
        grown = peak_rss_mib(server.pid) - before
        assert grown < 64, f"the server grew by {grown:.0f} MiB reading bodies it refused"
    finally:
        server.terminate()
        server.wait(30)
