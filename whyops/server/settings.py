"""Server settings: one frozen record built from CLI flags and environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

DEFAULT_PORT = 8787
DEFAULT_DB_PATH = os.path.join(".whyops", "whyops.db")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"
# A batch of this many bytes is already far beyond what an SDK flushes at once
# (hundreds of KiB); the cap protects the process, and is answered with 413.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_BATCH_EVENTS = 10_000
# The graph and span views load a whole trace into memory; past this many events they answer
# with the first ones and say so ("truncated": true, "totalEvents").
DEFAULT_MAX_TRACE_EVENTS = 100_000
# Open client connections; one more is answered 503 and closed at once (docs/server.md).
DEFAULT_MAX_CONNECTIONS = 4096
# Seconds a client has to send a whole request head, and the longest pause inside a body.
DEFAULT_HEADER_TIMEOUT_S = 10.0


@attrs.frozen(slots=True)
class KeySpec:
    """One configured API key and the project it belongs to (None: a project of its own)."""

    key: str
    project: str | None = None

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """``KEY`` or ``KEY=project-name`` (keys never contain ``=``)."""
        key, sep, project = text.strip().partition("=")
        if not key:
            raise ValueError(f"empty API key in {text!r}")
        return cls(key=key, project=(project.strip() or None) if sep else None)


_AGENT_NAME: Any = attrs.validators.and_(attrs.validators.min_len(1), attrs.validators.max_len(255))


@attrs.frozen(kw_only=True)
class ServerSettings:
    """Everything ``whyops serve`` is configured with.

    ``api_keys`` holds the raw ``KEY`` / ``KEY=project`` strings; when empty, the keys stored
    in the database are used (one is generated on the first start).
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db_path: str = DEFAULT_DB_PATH
    api_keys: tuple[str, ...] = ()
    simulate: bool = False
    openai_base_url: str = OPENAI_DEFAULT_BASE_URL
    openai_api_key: str | None = None
    anthropic_base_url: str = ANTHROPIC_DEFAULT_BASE_URL
    anthropic_api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS
    max_trace_events: int = DEFAULT_MAX_TRACE_EVENTS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_S
    # A file of keys, one ``KEY[=PROJECT]`` a line, so they need not be on the command line.
    api_key_file: str | None = None
    log_level: str = "info"
    # The proxy: the agent of calls without X-Agent-Name (or refuse them), and the signature.
    default_agent: str = attrs.field(default="default", validator=_AGENT_NAME)
    require_agent_name: bool = False
    signature: bool = True
    # OTLP forwarding of everything stored (whyops/server/otlp_export/): endpoint and headers.
    otlp_export_url: str | None = None
    otlp_export_headers: tuple[str, ...] = ()
    # Cost: a price file over the shipped table (whyops/pricing/), and proxy budgets.
    prices_path: str | None = None
    budgets: tuple[str, ...] = ()

    @property
    def key_specs(self) -> tuple[KeySpec, ...]:
        texts = self.api_keys + read_key_file(self.api_key_file)
        return tuple(KeySpec.parse(text) for text in texts)

    @property
    def loopback_base_url(self) -> str:
        """How this server reaches itself (the simulator upstream with ``--simulate``)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "localhost") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def with_port(self, port: int) -> ServerSettings:
        """The settings once the listening port is known; resolves simulated upstreams."""
        settings = attrs.evolve(self, port=port)
        if not settings.simulate:
            return settings
        base = settings.loopback_base_url
        return attrs.evolve(
            settings,
            openai_base_url=f"{base}/simulator/v1",
            anthropic_base_url=f"{base}/simulator",
            openai_api_key=settings.openai_api_key or "simulator",
            anthropic_api_key=settings.anthropic_api_key or "simulator",
        )


def read_key_file(path: str | None) -> tuple[str, ...]:
    """The keys of ``--api-key-file``: one ``KEY[=PROJECT]`` a line; blank lines and lines
    starting with ``#`` are skipped."""
    if path is None:
        return ()
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.strip() for line in file]
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"--api-key-file {path}: cannot read it ({reason})") from exc
    keys = tuple(line for line in lines if line and not line.startswith("#"))
    if not keys:
        raise ValueError(f"--api-key-file {path}: holds no key")
    return keys


def _env_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def env_defaults(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Settings taken from the environment (flags override them)."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    plain = {
        "WHYOPS_SERVER_HOST": "host",
        "WHYOPS_SERVER_DB": "db_path",
        "OPENAI_BASE_URL": "openai_base_url",
        "OPENAI_API_KEY": "openai_api_key",
        "ANTHROPIC_BASE_URL": "anthropic_base_url",
        "ANTHROPIC_API_KEY": "anthropic_api_key",
        "WHYOPS_SERVER_LOG_LEVEL": "log_level",
        "WHYOPS_SERVER_API_KEY_FILE": "api_key_file",
        "WHYOPS_SERVER_DEFAULT_AGENT": "default_agent",
        "WHYOPS_SERVER_OTLP_EXPORT": "otlp_export_url",
        "WHYOPS_SERVER_PRICES": "prices_path",
    }
    for name, field in plain.items():
        if env.get(name):
            values[field] = env[name]
    numbers = {
        "WHYOPS_SERVER_PORT": "port",
        "WHYOPS_SERVER_MAX_BODY_BYTES": "max_body_bytes",
        "WHYOPS_SERVER_MAX_BATCH_EVENTS": "max_batch_events",
        "WHYOPS_SERVER_MAX_TRACE_EVENTS": "max_trace_events",
        "WHYOPS_SERVER_MAX_CONNECTIONS": "max_connections",
    }
    for name, field in numbers.items():
        if env.get(name):
            values[field] = int(env[name])
    if env.get("WHYOPS_SERVER_HEADER_TIMEOUT"):
        values["header_timeout"] = float(env["WHYOPS_SERVER_HEADER_TIMEOUT"])
    if env.get("WHYOPS_SERVER_API_KEYS"):
        keys = [k.strip() for k in env["WHYOPS_SERVER_API_KEYS"].split(",") if k.strip()]
        values["api_keys"] = tuple(keys)
    if env.get("WHYOPS_SERVER_OTLP_EXPORT_HEADERS"):
        headers = env["WHYOPS_SERVER_OTLP_EXPORT_HEADERS"].split(",")
        values["otlp_export_headers"] = tuple(h.strip() for h in headers if h.strip())
    if env.get("WHYOPS_SERVER_BUDGETS"):
        budgets = env["WHYOPS_SERVER_BUDGETS"].split(";")
        values["budgets"] = tuple(b.strip() for b in budgets if b.strip())
    if "WHYOPS_SERVER_SIMULATE" in env:
        values["simulate"] = _env_bool(env["WHYOPS_SERVER_SIMULATE"])
    if "WHYOPS_SERVER_REQUIRE_AGENT_NAME" in env:
        values["require_agent_name"] = _env_bool(env["WHYOPS_SERVER_REQUIRE_AGENT_NAME"])
    if "WHYOPS_SERVER_NO_SIGNATURE" in env:
        values["signature"] = not _env_bool(env["WHYOPS_SERVER_NO_SIGNATURE"])
    return values
