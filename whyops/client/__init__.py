"""The WhyOps SDK surface: agent registration, manual events, proxy helpers.

``WhyOps(...)`` keeps WhyOps 0.1.1's API (``init_agent_sync``, ``trace(id).*_sync``,
``sdk.openai(client)``, ``sdk.anthropic(client)``) on top of the whyops tracer: events
are batched by the background flusher instead of posted one by one, and patched provider
clients carry the ambient trace on every request. See docs/client.md.
"""

from __future__ import annotations

from ._client import WhyOps
from ._events import EventOptions
from ._exceptions import (
    AgentInitError,
    AgentMetadataError,
    ConfigurationError,
    UnsupportedClientError,
    WhyOpsError,
)
from ._init import AgentInfo
from ._registration import wait_for_registration
from ._trace import WhyOpsTrace

__all__ = [
    "AgentInfo",
    "AgentInitError",
    "AgentMetadataError",
    "ConfigurationError",
    "EventOptions",
    "UnsupportedClientError",
    "WhyOps",
    "WhyOpsError",
    "WhyOpsTrace",
    "wait_for_registration",
]
