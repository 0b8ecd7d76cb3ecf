"""Route an OpenAI or Anthropic client through the proxy, in place.

Everything is computed first (:func:`plan_patch` raises before touching anything), then
assigned by :func:`apply_patch`, which puts the client back as it was if an assignment
fails: a client is never left half-patched.

The patched client changes class to a subclass made once per SDK class. The subclass
adds what the WhyOps docs rely on and the SDKs lack: a ``default_headers`` setter (the
SDK property is read-only), and ``copy()``/``with_options()`` that keep the trace hook
even when given a new ``http_client``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from whyops.wire.headers import AGENT_NAME

from ._detect import Detected, Provider, detect
from ._hooks import AsyncTraceHook, SyncTraceHook, TraceHook, find_hook
from ._settings import ClientSettings

# Headers that would carry a provider credential past the WhyOps key.
AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key"})
CREDENTIAL_ATTRIBUTES = {
    "openai": ("_api_key_provider", "admin_api_key"),
    "anthropic": ("auth_token",),
}

_classes: dict[type, type] = {}
_classes_lock = threading.Lock()


@attrs.frozen(slots=True)
class PatchPlan:
    client: Any
    detected: Detected
    base_url: str
    api_key: str
    custom_headers: dict[str, Any]
    cleared: tuple[str, ...]
    hook: TraceHook
    hook_is_new: bool
    patched_class: type


def plan_patch(client: Any, provider: Provider, settings: ClientSettings) -> PatchPlan:
    detected = detect(client, provider)
    base_url = settings.openai_base_url if provider == "openai" else settings.anthropic_base_url
    existing = find_hook(client._client)
    hook = existing or (AsyncTraceHook() if detected.is_async else SyncTraceHook())
    return PatchPlan(
        client=client,
        detected=detected,
        base_url=base_url,
        api_key=settings.api_key,
        custom_headers=proxy_headers(client._custom_headers, settings.agent_name),
        cleared=tuple(a for a in CREDENTIAL_ATTRIBUTES[provider] if hasattr(client, a)),
        hook=hook,
        hook_is_new=existing is None,
        patched_class=patched_class(detected.client_class),
    )


def apply_patch(plan: PatchPlan) -> None:
    client = plan.client
    snapshot = dict(vars(client))
    original_class = type(client)
    hooks = client._client.event_hooks["request"]
    routes = plan.hook.routes
    try:
        client.base_url = plan.base_url
        client.api_key = plan.api_key
        for name in plan.cleared:
            setattr(client, name, None)
        client._custom_headers = plan.custom_headers
        plan.hook.add_route(client.base_url)
        if plan.hook_is_new:
            hooks.append(plan.hook)
        client.__class__ = plan.patched_class
    except BaseException:
        vars(client).clear()
        vars(client).update(snapshot)
        client.__class__ = original_class
        plan.hook.routes = routes
        if plan.hook_is_new and plan.hook in hooks:
            hooks.remove(plan.hook)
        raise


def proxy_headers(custom: Mapping[str, Any], agent_name: str) -> dict[str, Any]:
    """The client's own default headers without provider credentials, plus X-Agent-Name."""
    kept = {
        name: value
        for name, value in custom.items()
        if name.lower() not in AUTH_HEADERS and name.lower() != AGENT_NAME.lower()
    }
    kept[AGENT_NAME] = agent_name
    return kept


def assigned_headers(
    current: Mapping[str, Any], custom: Mapping[str, Any], value: object
) -> dict[str, Any]:
    """``_custom_headers`` after ``client.default_headers = value``.

    ``value`` usually spreads the current ``default_headers`` (SDK headers included);
    those are computed by the SDK on every request, so only what differs from them is
    kept. X-Agent-Name stays unless the assignment names another agent.
    """
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise TypeError(f"default_headers: expected a mapping, got {type(value).__name__}")
    builtin = {name: v for name, v in current.items() if name not in custom}
    headers: dict[str, Any] = {}
    for name, v in value.items():
        if name in builtin and (builtin[name] == v or not isinstance(v, str)):
            continue
        headers[name] = v
    if not any(name.lower() == AGENT_NAME.lower() for name in headers):
        agent = next((v for n, v in custom.items() if n.lower() == AGENT_NAME.lower()), None)
        if agent is not None:
            headers[AGENT_NAME] = agent
    return headers


def patched_class(base: type) -> type:
    """The subclass a patched client of class ``base`` gets (made once per class)."""
    with _classes_lock:
        cls = _classes.get(base)
        if cls is None:
            cls = _classes[base] = _make_patched_class(base)
        return cls


def _make_patched_class(base: type) -> type:
    sdk_property = _find_property(base, "default_headers")
    sdk_copy = base.copy  # type: ignore[attr-defined]

    def get_default_headers(self: Any) -> Any:
        return sdk_property.fget(self)  # type: ignore[misc]

    def set_default_headers(self: Any, value: object) -> None:
        current = sdk_property.fget(self)  # type: ignore[misc]
        self._custom_headers = assigned_headers(current, self._custom_headers, value)

    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        twin = sdk_copy(self, *args, **kwargs)
        share_hook(self, twin)
        return twin

    copy.__doc__ = sdk_copy.__doc__
    namespace = {
        "default_headers": property(get_default_headers, set_default_headers),
        "copy": copy,
        "with_options": copy,
        "_whyops_base": base,
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
    }
    return type(base.__name__, (base,), namespace)


def share_hook(source: Any, target: Any) -> None:
    """Give ``target``'s http client the routes of ``source``'s hook (a copy's new client)."""
    hook = find_hook(source._client)
    http = target._client
    if hook is None or http is source._client:
        return
    target_hook = find_hook(http)
    if target_hook is None:
        is_async = inspect.iscoroutinefunction(type(http).send)
        target_hook = AsyncTraceHook() if is_async else SyncTraceHook()
        http.event_hooks["request"].append(target_hook)
    for route in hook.routes:
        if route not in target_hook.routes:
            target_hook.routes = (*target_hook.routes, route)


def _find_property(cls: type, name: str) -> property:
    for klass in cls.__mro__:
        candidate = vars(klass).get(name)
        if isinstance(candidate, property):
            return candidate
    raise TypeError(f"{cls.__name__} has no {name} property")
