"""Client settings: arguments, then environment, then the WhyOps defaults."""

from __future__ import annotations

import pytest

from whyops.client import ConfigurationError
from whyops.client._settings import resolve_settings


def resolve(env=None, **kwargs):
    args = {"api_key": "k", "agent_name": "a", "proxy_base_url": "", "analyse_base_url": ""}
    args.update(kwargs)
    return resolve_settings(
        args["api_key"],
        args["agent_name"],
        args["proxy_base_url"],
        args["analyse_base_url"],
        env or {},
    )


def test_defaults_are_the_hosted_whyops():
    """With nothing set, the hosted WhyOps URLs apply (as in WhyOps 0.1.1)."""
    settings = resolve()
    assert settings.proxy_url == "https://proxy.whyops.com"
    assert settings.analyse_url == "https://a.whyops.com/api"
    assert settings.openai_base_url == "https://proxy.whyops.com/v1"
    assert settings.anthropic_base_url == "https://proxy.whyops.com"


def test_base_url_env_serves_both():
    """WHYOPS_BASE_URL points proxy and analyse at one server."""
    settings = resolve({"WHYOPS_BASE_URL": "http://127.0.0.1:8787/"})
    assert settings.proxy_url == "http://127.0.0.1:8787"
    assert settings.analyse_url == "http://127.0.0.1:8787/api"


def test_specific_env_wins_over_base_and_arguments_over_env():
    """WHYOPS_PROXY_URL/WHYOPS_ANALYSE_URL beat WHYOPS_BASE_URL; arguments beat both."""
    env = {
        "WHYOPS_API_KEY": "env-key",
        "WHYOPS_BASE_URL": "http://base:1",
        "WHYOPS_PROXY_URL": "http://proxy:2",
        "WHYOPS_ANALYSE_URL": "http://analyse:3/api",
    }
    settings = resolve(env, api_key=None)
    assert (settings.api_key, settings.proxy_url, settings.analyse_url) == (
        "env-key",
        "http://proxy:2",
        "http://analyse:3/api",
    )
    settings = resolve(
        env, api_key="arg", proxy_base_url="http://p:9", analyse_base_url="http://a:9/api"
    )
    assert (settings.api_key, settings.proxy_url, settings.analyse_url) == (
        "arg",
        "http://p:9",
        "http://a:9/api",
    )


def test_one_url_implies_the_other():
    """A proxy URL alone never sends events to the hosted analyse service."""
    assert resolve(proxy_base_url="http://127.0.0.1:9/").analyse_url == "http://127.0.0.1:9/api"
    assert resolve(analyse_base_url="http://127.0.0.1:9/api").proxy_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"api_key": None}, "api_key"),
        ({"api_key": "  "}, "api_key"),
        ({"agent_name": None}, "agent_name"),
        ({"agent_name": "x" * 256}, "agent_name"),
        ({"agent_name": 42}, "agent_name"),
        ({"proxy_base_url": "proxy.whyops.com"}, "proxy_base_url"),
        ({"analyse_base_url": "ftp://x/api"}, "analyse_base_url"),
        ({"proxy_base_url": "http://x/?a=1"}, "proxy_base_url"),
    ],
)
def test_errors_name_the_field(kwargs, field):
    """Missing or malformed settings raise ConfigurationError starting with the field."""
    with pytest.raises(ConfigurationError) as caught:
        resolve(**kwargs)
    assert str(caught.value).startswith(field + ":")


def test_agent_name_from_env():
    """WHYOPS_AGENT_NAME fills a missing agent name."""
    assert resolve({"WHYOPS_AGENT_NAME": "bot"}, agent_name=None).agent_name == "bot"
