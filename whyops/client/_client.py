"""``WhyOps``: the WhyOps SDK's client surface on top of the whyops tracer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from whyops import _context, _tracer
from whyops._internal_errors import log_internal_error
from whyops.wire.records import DeliveryReport

from ._exceptions import AgentMetadataError
from ._init import AgentInfo, InitFlight, plan_init
from ._metadata import normalize_agent_metadata, version_hash
from ._patch import apply_patch, plan_patch
from ._registration import Registration
from ._settings import ClientSettings, resolve_settings
from ._trace import WhyOpsTrace

if TYPE_CHECKING:
    from ._detect import Provider

C = TypeVar("C")


class WhyOps:
    """One agent's connection to a WhyOps-compatible server (``whyops serve`` or WhyOps).

    Arguments fall back to the environment: ``WHYOPS_API_KEY``, ``WHYOPS_AGENT_NAME``,
    ``WHYOPS_PROXY_URL`` / ``WHYOPS_ANALYSE_URL``, or ``WHYOPS_BASE_URL`` for a server that
    serves both (proxy = base, analyse = base + "/api"); then the hosted WhyOps URLs.
    ``agent_metadata`` is validated here; a problem raises :class:`AgentMetadataError`
    naming the field.

    Creating a client configures the whyops tracer (key, URLs, agent name) through
    ``whyops.configure``'s path when nothing configured it (neither a ``configure()`` call
    nor the ``WHYOPS_*`` environment), so ``@whyops.tool`` and friends report under this
    agent. :meth:`shutdown` stops only a tracer set-up this client made.
    """

    def __init__(
        self,
        api_key: str | None = None,
        agent_name: str | None = None,
        agent_metadata: Mapping[str, Any] | None = None,
        proxy_base_url: str = "",
        analyse_base_url: str = "",
    ) -> None:
        settings = resolve_settings(api_key, agent_name, proxy_base_url, analyse_base_url)
        if agent_metadata is None:
            raise AgentMetadataError(
                "agent_metadata: required, e.g. {'systemPrompt': '...', 'tools': []}"
            )
        self._settings: ClientSettings = settings
        self._metadata = normalize_agent_metadata(agent_metadata)
        self._flight = InitFlight(plan_init(settings, self._metadata))
        submit = _tracer.TRACER.submit  # the process's one tracer: bound once, not per event
        self._registration = Registration(self._flight, submit, settings.agent_name)
        self._tracer_token = _adopt_tracer(settings)

    def __repr__(self) -> str:
        return f"WhyOps(agent_name={self.agent_name!r}, proxy={self.proxy_base_url!r})"

    @property
    def agent_name(self) -> str:
        return self._settings.agent_name

    @property
    def proxy_base_url(self) -> str:
        return self._settings.proxy_url

    @property
    def analyse_base_url(self) -> str:
        return self._settings.analyse_url

    @property
    def agent_metadata(self) -> dict[str, Any]:
        """The metadata as sent: dict schemas as JSON text, every tool with four fields."""
        return {**self._metadata, "tools": [dict(t) for t in self._metadata["tools"]]}

    @property
    def version_hash(self) -> str:
        """The version hash the server computes for this metadata."""
        return version_hash(self._metadata)

    @property
    def agent_info(self) -> AgentInfo | None:
        """The registration answer, once the agent is registered."""
        return self._flight.result

    def init_agent_sync(self) -> AgentInfo:
        """Register the agent now; raises :class:`AgentInitError` if that fails.

        Call it at start-up to find a bad key or an unreachable server early. Without
        it, the first event registers the agent in the background and never raises.
        """
        with _context.suppressed():
            return self._flight.run_sync()

    async def init_agent(self) -> AgentInfo:
        """Async twin of :meth:`init_agent_sync` (concurrent callers share one request)."""
        with _context.suppressed():
            return await self._flight.run_async()

    def trace(self, trace_id: str | None = None) -> WhyOpsTrace:
        """A builder for the events of ``trace_id`` (default: the ambient trace's id)."""
        if trace_id is None:
            trace_id = _context.current_trace_id()
            if trace_id is None:
                raise ValueError("trace_id: required outside a whyops trace")
        return WhyOpsTrace(trace_id, self._settings.agent_name, self._registration.emit)

    def openai(self, client: C) -> C:
        """Route an ``OpenAI``/``AsyncOpenAI`` client through the proxy (in place).

        Requests go to ``{proxy}/v1`` with the WhyOps key and ``X-Agent-Name``, and carry
        the ambient trace (``X-Trace-ID``, ``X-Thread-ID``, ``X-Parent-Span-ID``,
        ``X-External-User-Id``) unless the caller set those headers. Returns ``client``.
        """
        return self._patch(client, "openai")

    def anthropic(self, client: C) -> C:
        """Route an ``Anthropic``/``AsyncAnthropic`` client through the proxy (in place)."""
        return self._patch(client, "anthropic")

    def flush(self, timeout: float = 5.0) -> DeliveryReport:
        """Send everything queued so far; returns the tracer's delivery report."""
        return self._finish("flush", timeout)

    def shutdown(self, timeout: float = 5.0) -> DeliveryReport:
        """Flush; stop the tracer too, but only if this client configured it.

        A tracer set up by ``whyops.configure()``, by ``WHYOPS_*`` or by another client
        keeps running (this is then a flush); stop it with ``whyops.shutdown()``.
        """
        return self._finish("shutdown", timeout)

    def _patch(self, client: C, provider: Provider) -> C:
        apply_patch(plan_patch(client, provider, self._settings))
        self._registration.start()
        return client

    def _finish(self, how: str, timeout: float) -> DeliveryReport:
        deadline = time.monotonic() + timeout
        self._registration.wait(timeout)
        remaining = max(0.0, deadline - time.monotonic())
        tracer = _tracer.TRACER
        if how == "shutdown":
            report = tracer.release(self._tracer_token, remaining)
        else:
            report = tracer.flush(remaining)
        held = self._registration.held
        if held:
            report = attrs.evolve(report, pending=report.pending + held, timed_out=True)
        return report


def _adopt_tracer(settings: ClientSettings) -> int | None:
    """Set the tracer up for this client unless something else did (see ``Tracer.adopt``)."""
    try:
        return _tracer.TRACER.adopt(
            {
                "api_key": settings.api_key,
                "analyse_url": settings.analyse_url,
                "proxy_url": settings.proxy_url,
                "agent_name": settings.agent_name,
            }
        )
    except ValueError:
        raise  # a malformed WHYOPS_* variable: a configuration error like ours
    except Exception:
        log_internal_error("configure")
        return None
