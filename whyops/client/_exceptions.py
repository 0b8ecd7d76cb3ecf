"""Exceptions the WhyOps client raises, and only where the caller asked for a decision.

Tracing itself never raises into user code. These are raised by construction
(bad configuration), by an explicit ``init_agent_sync()``/``await init_agent()``,
and by ``sdk.openai()``/``sdk.anthropic()`` on a client they cannot route.
"""

from __future__ import annotations


class WhyOpsError(Exception):
    """Base class of the client's exceptions."""


class ConfigurationError(WhyOpsError, ValueError):
    """A constructor argument or environment variable is missing or malformed.

    The message starts with the name of the field, e.g. ``proxy_base_url: ...``.
    """


class AgentMetadataError(ConfigurationError):
    """``agent_metadata`` would be rejected by the server; the message names the field,
    e.g. ``agent_metadata.tools[1].inputSchema: not valid JSON (...)``."""


class AgentInitError(WhyOpsError):
    """An explicit agent registration failed.

    ``status`` is the HTTP status of the last answer (``None`` when the server was
    unreachable), ``attempts`` one line per URL tried.
    """

    def __init__(self, message: str, *, status: int | None, attempts: tuple[str, ...]) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class UnsupportedClientError(WhyOpsError, TypeError):
    """``sdk.openai()``/``sdk.anthropic()`` got a client it cannot route through the proxy.

    The client is left exactly as it was.
    """
