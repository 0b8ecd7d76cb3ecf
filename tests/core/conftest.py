"""Fixtures for the tracing core: an in-memory exporter, a local HTTP sink, sync/async runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from core_helpers import Sink

from whyops import _internal_errors
from whyops._tracer import TRACER
from whyops.export.memory import InMemoryExporter


@pytest.fixture(autouse=True)
def _internal_errors_fail_tests() -> Iterator[None]:
    """A swallowed internal error of whyops fails the test instead of being logged."""
    _internal_errors.RAISE = True
    try:
        yield
    finally:
        _internal_errors.RAISE = False


@pytest.fixture
def memory() -> Iterator[InMemoryExporter]:
    """Tracing on, every span kept in memory for the test."""
    exporter = InMemoryExporter()
    with TRACER.use_exporter(exporter):
        yield exporter


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    """Run a behaviour once with plain functions and once with coroutines."""
    return str(request.param)


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = Sink()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def tracing_off() -> Iterator[None]:
    """Tracing explicitly off for the test, restored afterwards."""
    tracer = TRACER
    with tracer.use_exporter(InMemoryExporter()):
        tracer.set_exporter(None)
        yield


@pytest.fixture
def restore_tracer() -> Iterator[None]:
    """For tests that call ``whyops.configure``: shut down and forget it afterwards."""
    tracer = TRACER
    saved = tracer.config
    yield
    tracer.shutdown(1.0)
    tracer.config = saved
