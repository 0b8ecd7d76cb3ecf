"""Which provider client is this? Decided from class names, without importing the SDKs.

Supported: ``openai.OpenAI``/``AsyncOpenAI`` (and user subclasses) and exactly
``anthropic.Anthropic``/``AsyncAnthropic``. Refused, each with its reason:

- ``AzureOpenAI``/``AsyncAzureOpenAI``: Azure's request shape (``/deployments/<name>/...``,
  ``api-key`` header) is not the OpenAI API the proxy serves.
- OpenAI clients built with ``provider=`` (Bedrock, Vertex, ...) or ``workload_identity=``:
  they sign or mint credentials for their own hosts.
- Anthropic platform clients (Bedrock, Vertex, Foundry, AWS, Google Cloud): same reason.

A plain ``OpenAI`` pointed at an OpenAI-compatible server (vLLM, Ollama, a gateway) is
accepted: patching means "send this traffic through the proxy", and the proxy's upstream
is the server's configuration, not the client's.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import attrs

from ._exceptions import UnsupportedClientError

Provider = Literal["openai", "anthropic"]

OPENAI_CLASSES = frozenset({"OpenAI", "AsyncOpenAI"})
ANTHROPIC_CLASSES = frozenset({"Anthropic", "AsyncAnthropic"})
AZURE_CLASSES = frozenset({"AzureOpenAI", "AsyncAzureOpenAI", "BaseAzureClient"})


@attrs.frozen(slots=True)
class Detected:
    provider: Provider
    is_async: bool
    client_class: type  # the class before patching (the user's own subclass included)


def detect(client: object, expected: Provider) -> Detected:
    """Classify ``client`` for ``sdk.<expected>()``; raise :class:`UnsupportedClientError`."""
    cls: type = getattr(type(client), "_whyops_base", type(client))
    mro = [(klass.__module__.split(".")[0], klass.__name__) for klass in cls.__mro__]
    provider = _provider_of(mro)
    label = f"{cls.__module__.split('.')[0]}.{cls.__name__}"
    if provider is None:
        raise UnsupportedClientError(
            f"sdk.{expected}() expects an {_wanted(expected)} client, got {label}"
        )
    if provider != expected:
        raise UnsupportedClientError(
            f"sdk.{expected}() got an {provider} client ({label}); use sdk.{provider}() for it"
        )
    _refuse_platform(client, provider, mro, label)
    return Detected(provider=provider, is_async=_is_async(client, label), client_class=cls)


def _provider_of(mro: list[tuple[str, str]]) -> Provider | None:
    packages = {package for package, _ in mro}
    if "openai" in packages:
        return "openai"
    if "anthropic" in packages:
        return "anthropic"
    return None


def _refuse_platform(
    client: Any, provider: Provider, mro: list[tuple[str, str]], label: str
) -> None:
    names = {name for package, name in mro if package == provider}
    if provider == "openai":
        if names & AZURE_CLASSES:
            raise UnsupportedClientError(
                f"{label} is not supported: the proxy serves the OpenAI API, not Azure "
                "deployments. Patch a plain openai.OpenAI client and configure Azure as the "
                "proxy's upstream instead."
            )
        if not names & OPENAI_CLASSES:
            raise UnsupportedClientError(f"{label} is not an OpenAI API client")
        runtime = getattr(client, "_provider_runtime", None)
        if runtime is not None:
            name = getattr(runtime, "name", "a provider")
            raise UnsupportedClientError(
                f"{label} was built with provider={name}: it signs requests for its own "
                "host and cannot be routed through the proxy"
            )
        if getattr(client, "workload_identity", None) is not None:
            raise UnsupportedClientError(
                f"{label} authenticates with workload_identity, which the proxy cannot use"
            )
        return
    first = next(name for package, name in mro if package == "anthropic")
    if first not in ANTHROPIC_CLASSES:
        raise UnsupportedClientError(
            f"{label} is an Anthropic platform client (Bedrock, Vertex, Foundry, ...); only "
            "anthropic.Anthropic and AsyncAnthropic can be routed through the proxy"
        )


def _is_async(client: Any, label: str) -> bool:
    http: Any = getattr(client, "_client", None)
    hooks = getattr(http, "event_hooks", None)
    if not isinstance(hooks, dict) or not isinstance(hooks.get("request"), list):
        raise UnsupportedClientError(f"{label} has no httpx client with request hooks")
    return inspect.iscoroutinefunction(type(http).send)


def _wanted(provider: Provider) -> str:
    if provider == "openai":
        return "openai.OpenAI / AsyncOpenAI"
    return "anthropic.Anthropic / AsyncAnthropic"
