"""sdk.openai() / sdk.anthropic(): real SDK clients against a recording loopback server."""

from __future__ import annotations

import inspect

import anthropic
import openai
import pytest
from client_helpers import KEY

import whyops
from whyops.client import UnsupportedClientError
from whyops.client._hooks import find_hook

ANTHROPIC_2 = int(anthropic.__version__.split(".")[0]) >= 2
ADMIN_KEYS = "admin_api_key" in inspect.signature(openai.OpenAI).parameters
TRACE_HEADERS = ("x-trace-id", "x-thread-id", "x-parent-span-id", "x-external-user-id")
MESSAGES = [{"role": "user", "content": "Where is my order?"}]


def make_openai(**kwargs):
    return openai.OpenAI(api_key="sk-provider", max_retries=0, **kwargs)


def make_anthropic(**kwargs):
    return anthropic.Anthropic(api_key="sk-ant-provider", max_retries=0, **kwargs)


def chat(client, **kwargs):
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)


def message(client, **kwargs):
    return client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES, **kwargs)


def assert_whyops_auth(request, provider):
    """The WhyOps key, in the SDK's own auth header; no provider credential anywhere."""
    if provider == "anthropic" and not ANTHROPIC_2:
        assert request.headers["x-api-key"] == KEY
        assert "authorization" not in request.headers
    else:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert "x-api-key" not in request.headers
    assert not any("provider" in value for value in request.headers.values())


def trace_headers(request):
    return {name: request.headers[name] for name in TRACE_HEADERS if name in request.headers}


def test_openai_is_routed_in_place(recorder, sdk_factory):
    """Same object back; {proxy}/v1/chat/completions with the WhyOps key and agent name."""
    sdk = sdk_factory()
    client = make_openai()
    assert sdk.openai(client) is client
    reply = chat(client)
    assert reply.choices[0].message.content == "Your order shipped."
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.path == sdk.proxy_base_url.removeprefix(recorder.url) + "/v1/chat/completions"
    assert_whyops_auth(request, "openai")
    assert request.headers["x-agent-name"] == "customer-support-agent"
    assert trace_headers(request) == {}  # no ambient trace: nothing invented


def test_anthropic_is_routed_in_place(recorder, sdk_factory):
    """Same object back; {proxy}/v1/messages with the WhyOps key and agent name."""
    sdk = sdk_factory()
    client = make_anthropic()
    assert sdk.anthropic(client) is client
    assert message(client).content[0].text == "Your order shipped."
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.path == sdk.proxy_base_url.removeprefix(recorder.url) + "/v1/messages"
    assert_whyops_auth(request, "anthropic")
    assert request.headers["x-agent-name"] == "customer-support-agent"


def test_ambient_trace_span_and_user_travel(recorder, sdk_factory):
    """Inside a trace and a span, each request carries them, read at request time."""
    sdk = sdk_factory()
    oai, ant = sdk.openai(make_openai()), sdk.anthropic(make_anthropic())
    with whyops.trace_context(
        trace_id="session-1", thread_id="thread-1", external_user_id="user-1"
    ):
        with whyops.span("plan") as span:
            chat(oai)
            message(ant)
    chat(oai)  # after the trace: nothing
    first, second, third = recorder.calls(sdk.proxy_base_url)
    expected = {
        "x-trace-id": "session-1",
        "x-thread-id": "thread-1",
        "x-parent-span-id": span.span_id,
        "x-external-user-id": "user-1",
    }
    assert trace_headers(first) == trace_headers(second) == expected
    assert trace_headers(third) == {}


def test_explicit_headers_win(recorder, sdk_factory):
    """extra_headers naming another trace are kept, with nothing from the ambient one."""
    sdk = sdk_factory()
    client = sdk.openai(make_openai())
    with whyops.trace_context(trace_id="ambient", external_user_id="u"), whyops.span("s"):
        chat(client, extra_headers={"X-Trace-ID": "explicit"})
        chat(client, extra_headers={"X-External-User-Id": "someone-else"})
    first, second = recorder.calls(sdk.proxy_base_url)
    assert trace_headers(first) == {"x-trace-id": "explicit"}
    assert second.headers["x-trace-id"] == "ambient"
    assert second.headers["x-external-user-id"] == "someone-else"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_default_headers_recipe(recorder, sdk_factory, provider):
    """The documented `client.default_headers = {...}` works after patching."""
    sdk = sdk_factory()
    client = sdk.openai(make_openai()) if provider == "openai" else sdk.anthropic(make_anthropic())
    client.default_headers = {
        **(client.default_headers or {}),
        "X-Trace-ID": "pinned",
        "X-Thread-ID": "pinned",
    }
    assert client.default_headers["X-Trace-ID"] == "pinned"
    with whyops.trace_context(trace_id="ambient"):
        chat(client) if provider == "openai" else message(client)
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.headers["x-trace-id"] == request.headers["x-thread-id"] == "pinned"
    assert request.headers["x-agent-name"] == "customer-support-agent"
    assert_whyops_auth(request, provider)


def test_default_headers_assignment_keeps_the_agent(sdk_factory):
    """Assigning headers without spreading the old ones still keeps X-Agent-Name."""
    client = sdk_factory().openai(make_openai())
    client.default_headers = {"X-Trace-ID": "t"}
    assert client._custom_headers == {"X-Trace-ID": "t", "X-Agent-Name": "customer-support-agent"}
    with pytest.raises(TypeError, match="default_headers"):
        client.default_headers = ["not", "a", "mapping"]


def test_provider_credentials_cannot_leak(recorder, sdk_factory):
    """Callable OpenAI keys, Anthropic auth tokens and auth default headers are all replaced."""
    sdk = sdk_factory()
    oai = sdk.openai(
        openai.OpenAI(
            api_key=lambda: "sk-provider-callable",
            **({"admin_api_key": "sk-provider-admin"} if ADMIN_KEYS else {}),
            max_retries=0,
            default_headers={"Authorization": "Bearer sk-provider-header"},
        )
    )
    ant = sdk.anthropic(
        anthropic.Anthropic(
            auth_token="sk-provider-token",
            max_retries=0,
            default_headers={"X-Api-Key": "sk-provider-header"},
        )
    )
    chat(oai)
    message(ant)
    first, second = recorder.calls(sdk.proxy_base_url)
    assert_whyops_auth(first, "openai")
    assert_whyops_auth(second, "anthropic")
    assert getattr(oai, "admin_api_key", None) is None  # never sent to the proxy either


def test_patching_twice_changes_nothing(recorder, sdk_factory):
    """One hook, one route, the same headers; a second agent's patch renames the agent."""
    sdk = sdk_factory()
    client = sdk.openai(make_openai())
    state = (type(client), dict(client._custom_headers), str(client.base_url))
    sdk.openai(client)
    assert (type(client), dict(client._custom_headers), str(client.base_url)) == state
    hooks = client._client.event_hooks["request"]
    assert len([h for h in hooks if h is find_hook(client._client)]) == 1 and len(hooks) == 1
    other = sdk_factory("billing-agent", base=sdk.proxy_base_url)
    other.openai(client)
    assert len(client._client.event_hooks["request"]) == 1
    with whyops.trace_context(trace_id="twice"):
        chat(client)
    (request,) = recorder.calls(sdk.proxy_base_url)
    assert request.headers["x-agent-name"] == "billing-agent"
    assert request.headers["x-trace-id"] == "twice"


def test_copies_keep_the_patch(recorder, sdk_factory):
    """copy()/with_options() keep route, key, agent and trace headers, new http client too."""
    sdk = sdk_factory()
    client = sdk.openai(make_openai())
    http = openai.DefaultHttpxClient()
    copies = [client.copy(), client.with_options(timeout=5), client.with_options(http_client=http)]
    with whyops.trace_context(trace_id="copies"):
        for copy in copies:
            chat(copy)
        copies[0].default_headers = {**copies[0].default_headers, "X-Trace-ID": "copy-pinned"}
        chat(copies[0])
    requests = recorder.calls(sdk.proxy_base_url)
    assert [r.headers["x-trace-id"] for r in requests] == ["copies"] * 3 + ["copy-pinned"]
    for request in requests:
        assert_whyops_auth(request, "openai")
        assert request.headers["x-agent-name"] == "customer-support-agent"


def test_anthropic_copies_keep_the_patch(recorder, sdk_factory):
    """The same for Anthropic."""
    sdk = sdk_factory()
    client = sdk.anthropic(make_anthropic())
    with whyops.trace_context(trace_id="a-copies"):
        message(client.with_options(max_retries=1))
        message(client.with_options(http_client=anthropic.DefaultHttpxClient()))
    for request in recorder.calls(sdk.proxy_base_url):
        assert request.headers["x-trace-id"] == "a-copies"
        assert_whyops_auth(request, "anthropic")


def test_shared_http_client_other_hosts_get_nothing(recorder, sdk_factory):
    """A user's http client shared with other code only gains headers on proxy requests."""
    sdk = sdk_factory()
    http = openai.DefaultHttpxClient()
    sdk.openai(make_openai(http_client=http))
    elsewhere = recorder.base()
    with whyops.trace_context(trace_id="shared"):
        http.post(elsewhere + "/v1/chat/completions", json={})
    (request,) = recorder.calls(elsewhere)
    assert trace_headers(request) == {}


def snapshot(client):
    return type(client), dict(vars(client)), list(client._client.event_hooks["request"])


UNSUPPORTED = [
    (
        "openai",
        lambda: openai.AzureOpenAI(
            api_key="k", api_version="2024-06-01", azure_endpoint="https://x.openai.azure.com"
        ),
        "Azure",
    ),
    (
        "anthropic",
        lambda: anthropic.AnthropicBedrock(
            aws_access_key="a", aws_secret_key="b", aws_region="us-east-1"
        ),
        "platform client",
    ),
    (
        "anthropic",
        lambda: anthropic.AnthropicVertex(region="us-east5", project_id="p", access_token="t"),
        "platform client",
    ),
    ("openai", lambda: anthropic.Anthropic(api_key="k"), "use sdk.anthropic()"),
    ("anthropic", lambda: openai.OpenAI(api_key="k"), "use sdk.openai()"),
]


@pytest.mark.parametrize(("method", "build", "reason"), UNSUPPORTED)
def test_unsupported_clients_are_refused_untouched(sdk_factory, method, build, reason):
    """A clear error, and the client exactly as it was."""
    client = build()
    before = snapshot(client)
    with pytest.raises(UnsupportedClientError, match=reason):
        getattr(sdk_factory(), method)(client)
    assert snapshot(client) == before


def test_openai_provider_clients_are_refused(sdk_factory):
    """OpenAI(provider=bedrock(...)) signs for its own host: refused, untouched."""
    providers = pytest.importorskip("openai.providers")
    client = openai.OpenAI(provider=providers.bedrock(region="us-east-1", api_key="x"))
    before = snapshot(client)
    with pytest.raises(UnsupportedClientError, match="provider=bedrock"):
        sdk_factory().openai(client)
    assert snapshot(client) == before


@pytest.mark.parametrize("thing", [object(), "client", None])
def test_non_clients_are_refused(sdk_factory, thing):
    """Anything that is not an SDK client gets a clear error."""
    with pytest.raises(UnsupportedClientError, match=r"expects an openai\.OpenAI"):
        sdk_factory().openai(thing)


def test_a_failing_patch_is_rolled_back(sdk_factory):
    """If an assignment fails half-way, the client is put back exactly as it was."""
    from whyops.client import _patch

    sdk = sdk_factory()
    client = make_openai()
    before = snapshot(client)
    plan = _patch.plan_patch(client, "openai", sdk._settings)
    broken = _patch.PatchPlan(
        **{
            **{f: getattr(plan, f) for f in plan.__slots__ if not f.startswith("__")},
            "patched_class": int,
        }
    )
    with pytest.raises(TypeError):
        _patch.apply_patch(broken)
    assert snapshot(client) == before
    assert str(client.base_url) == "https://api.openai.com/v1/" and client.api_key == "sk-provider"
