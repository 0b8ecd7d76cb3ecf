"""Client settings: arguments, then environment, then the WhyOps defaults."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# (environment, proxy argument, analyse argument) -> (proxy URL, analyse URL). The module
# configuration (``whyops.configure``) and the client (``WhyOps(...)``) share one rule.
URL_TABLE = [
    ({}, None, None, ("https://proxy.whyops.com", "https://a.whyops.com/api")),
    ({"WHYOPS_BASE_URL": "http://h:1"}, None, None, ("http://h:1", "http://h:1/api")),
    ({"WHYOPS_BASE_URL": "http://h:1//"}, None, None, ("http://h:1", "http://h:1/api")),
    # The base is the server root: a base that ends in /api is taken as it is.
    ({"WHYOPS_BASE_URL": "http://h:1/api"}, None, None, ("http://h:1/api", "http://h:1/api/api")),
    ({"WHYOPS_PROXY_URL": "http://p:2/"}, None, None, ("http://p:2", "http://p:2/api")),
    ({"WHYOPS_ANALYSE_URL": "http://a:3/api/"}, None, None, ("http://a:3", "http://a:3/api")),
    (
        {"WHYOPS_ANALYSE_URL": "http://a:3/ingest"},
        None,
        None,
        ("https://proxy.whyops.com", "http://a:3/ingest"),
    ),
    (
        {"WHYOPS_BASE_URL": "http://h:1", "WHYOPS_PROXY_URL": "http://p:2"},
        None,
        None,
        ("http://p:2", "http://p:2/api"),
    ),
    (
        {"WHYOPS_BASE_URL": "http://h:1", "WHYOPS_ANALYSE_URL": "http://a:3/api"},
        None,
        None,
        ("http://a:3", "http://a:3/api"),
    ),
    (
        {
            "WHYOPS_BASE_URL": "http://h:1",
            "WHYOPS_PROXY_URL": "http://p:2",
            "WHYOPS_ANALYSE_URL": "http://a:3/x",
        },
        None,
        None,
        ("http://p:2", "http://a:3/x"),
    ),
    (
        {"WHYOPS_PROXY_URL": "http://p:2"},
        "http://arg:4/",
        None,
        ("http://arg:4", "http://arg:4/api"),
    ),
    (
        {"WHYOPS_BASE_URL": "http://h:1"},
        None,
        "http://arg:5/api",
        ("http://arg:5", "http://arg:5/api"),
    ),
    (
        {"WHYOPS_ANALYSE_URL": "http://a:3/api"},
        "http://arg:4",
        "http://arg:5/api",
        ("http://arg:4", "http://arg:5/api"),
    ),
]


def _both_ways(env, proxy_arg, analyse_arg):
    from whyops._config import load_config

    config = load_config({"proxy_url": proxy_arg, "analyse_url": analyse_arg}, env)
    settings = resolve(env, proxy_base_url=proxy_arg or "", analyse_base_url=analyse_arg or "")
    return (config.proxy_url, config.analyse_url), (settings.proxy_url, settings.analyse_url)


@pytest.mark.parametrize(("env", "proxy_arg", "analyse_arg", "expected"), URL_TABLE)
def test_module_config_and_client_resolve_urls_alike(env, proxy_arg, analyse_arg, expected):
    """``whyops.configure`` and ``WhyOps(...)`` turn the same inputs into the same URLs."""
    module, client = _both_ways(env, proxy_arg, analyse_arg)
    assert module == client == expected


_urls = st.sampled_from(["http://h:1", "http://h:1/", "http://p:2/api", "https://s/x/api//"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    env=st.dictionaries(
        st.sampled_from(["WHYOPS_BASE_URL", "WHYOPS_PROXY_URL", "WHYOPS_ANALYSE_URL"]), _urls
    ),
    proxy_arg=st.none() | _urls,
    analyse_arg=st.none() | _urls,
)
def test_any_mix_of_url_settings_resolves_alike(env, proxy_arg, analyse_arg):
    """Whatever mix of URLs is given, both sides agree, without trailing slashes."""
    module, client = _both_ways(env, proxy_arg, analyse_arg)
    assert module == client
    assert not any(url.endswith("/") for url in module)
