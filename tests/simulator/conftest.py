"""A simulator on loopback (real uvicorn, one per session) and real SDK clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest

from whyops.server.simulator.thread import SimulatorThread

KEY = "sim-test-key"


# Every client in these tests: no retries (errors surface at once) and strict parsing, so a
# shape the real SDKs would only half-accept fails here.
STRICT: dict[str, Any] = {"api_key": KEY, "max_retries": 0, "_strict_response_validation": True}


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


@pytest.fixture
def oai(simulator: SimulatorThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=simulator.openai_base_url, **STRICT) as client:
        yield client


@pytest.fixture
async def aoai(simulator: SimulatorThread) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=simulator.openai_base_url, **STRICT) as client:
        yield client


@pytest.fixture
def claude(simulator: SimulatorThread) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=simulator.anthropic_base_url, **STRICT) as client:
        yield client


@pytest.fixture
async def aclaude(simulator: SimulatorThread) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=simulator.anthropic_base_url, **STRICT) as client:
        yield client
