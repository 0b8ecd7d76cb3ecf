"""Agent frameworks through `whyops serve --simulate`: one server (the suite's `server`
fixture), the whyops SDK reporting to it, and the provider variables pointing at it.

Runs in its own virtualenv (`scripts/frameworks.sh`): the frameworks pin versions of openai
and jiter the main suite does not want. Elsewhere each test module skips when its framework
is missing. No traffic may leave loopback: the frameworks' telemetry is switched off below,
and any connection or name lookup beyond loopback fails the module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

import whyops
from tests.loopback import guard_loopback
from whyops._tracer import TRACER

from .support import Recorded

if TYPE_CHECKING:
    from whyops.server.run import RunningServer

# Read when the frameworks are imported (collection), so set before any test module loads.
TELEMETRY_OFF = {
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LOGFIRE_SEND_TO_LOGFIRE": "false",
    "LOGFIRE_CONSOLE": "false",
    "OTEL_SDK_DISABLED": "true",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "false",
}
for _name, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> Iterator[list[str]]:
    """Refuse (and report) any connection or DNS lookup beyond loopback, module by module
    (so the guard never outlives this directory's tests in the main suite)."""
    refused: list[str] = []
    undo = guard_loopback(lambda address: refused.append(repr(address)), "the frameworks suite")
    try:
        yield refused
    finally:
        undo()
    assert not refused, f"something tried to leave loopback: {refused}"


@pytest.fixture(scope="module")
def served(server: RunningServer) -> Iterator[RunningServer]:
    """The simulate server, with the SDK and the provider variables pointed at it for the
    module; the tracer's set-up and the variables are restored afterwards (in the main suite
    the anthropic module runs beside tests that expect tracing off)."""
    assert server.api_key
    env = {
        "OPENAI_BASE_URL": f"{server.base_url}/v1",
        "OPENAI_API_KEY": server.api_key,
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": server.api_key,
    }
    saved_env = {name: os.environ.get(name) for name in env}
    tracer = TRACER
    saved_config = tracer.config
    os.environ.update(env)
    whyops.configure(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        yield server
    finally:
        tracer.shutdown(5.0)
        tracer.config = saved_config
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def recorded(served: RunningServer) -> Recorded:
    assert served.api_key
    return Recorded(served.base_url, served.api_key)


@pytest.fixture(scope="module")
def sdk(served: RunningServer) -> whyops.WhyOps:
    """The WhyOps client whose `sdk.openai()`/`sdk.anthropic()` patch the frameworks' clients."""
    return whyops.WhyOps(
        api_key=served.api_key,
        agent_name="support-frameworks",
        agent_metadata={"systemPrompt": "You help customers with their orders.", "tools": []},
        proxy_base_url=served.base_url,
    )
