"""Where a WhyOps client sends things: arguments first, then environment, then WhyOps defaults.

Pure: reads a mapping of environment variables, touches no network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from whyops._config import resolve_urls, url_problem

from ._exceptions import ConfigurationError


@attrs.frozen(slots=True)
class ClientSettings:
    """Resolved, validated client configuration (URLs have no trailing slash)."""

    api_key: str
    agent_name: str
    proxy_url: str
    analyse_url: str

    @property
    def openai_base_url(self) -> str:
        # OpenAI paths are relative ("chat/completions"), so the base carries /v1.
        return self.proxy_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        # Anthropic paths already start with /v1 ("/v1/messages").
        return self.proxy_url


def resolve_settings(
    api_key: str | None,
    agent_name: str | None,
    proxy_base_url: str | None,
    analyse_base_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> ClientSettings:
    """Apply the fallbacks and validate; raises :class:`ConfigurationError` naming the field."""
    env = os.environ if environ is None else environ
    key = _text("api_key", api_key) or env.get("WHYOPS_API_KEY", "").strip()
    if not key:
        raise ConfigurationError(
            "api_key: missing; pass api_key= or set WHYOPS_API_KEY (e.g. whyops_... or YOPS-...)"
        )
    name = _text("agent_name", agent_name) or env.get("WHYOPS_AGENT_NAME", "").strip()
    if not name:
        raise ConfigurationError("agent_name: missing; pass agent_name= or set WHYOPS_AGENT_NAME")
    if len(name) > 255:
        raise ConfigurationError(f"agent_name: {len(name)} characters, at most 255 allowed")
    proxy, analyse = _resolve_urls(proxy_base_url, analyse_base_url, env)
    return ClientSettings(api_key=key, agent_name=name, proxy_url=proxy, analyse_url=analyse)


def _resolve_urls(
    proxy_arg: str | None, analyse_arg: str | None, env: Mapping[str, str]
) -> tuple[str, str]:
    base = _url("WHYOPS_BASE_URL", env.get("WHYOPS_BASE_URL"))
    proxy = _url("proxy_base_url", _text("proxy_base_url", proxy_arg)) or _url(
        "WHYOPS_PROXY_URL", env.get("WHYOPS_PROXY_URL")
    )
    analyse = _url("analyse_base_url", _text("analyse_base_url", analyse_arg)) or _url(
        "WHYOPS_ANALYSE_URL", env.get("WHYOPS_ANALYSE_URL")
    )
    return resolve_urls(base, proxy, analyse)


def _text(field: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigurationError(f"{field}: expected a string, got {type(value).__name__}")
    return value.strip()


def _url(field: str, value: str | None) -> str:
    """Validate an absolute http(s) URL and drop trailing slashes; empty stays empty."""
    if not value or not value.strip():
        return ""
    url = value.strip().rstrip("/")
    problem = url_problem(url)
    if problem:
        raise ConfigurationError(f"{field}: {problem}")
    return url
