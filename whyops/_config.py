"""Configuration: every default and every ``WHYOPS_*`` variable in one place.

``configure()`` arguments win over environment variables, which win over defaults. A bad
value raises ``ValueError`` naming the argument or variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from whyops.wire.headers import configured_header

__all__ = [
    "DEFAULT_ANALYSE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_PROXY_URL",
    "Config",
    "Limits",
    "OtlpOptions",
    "Redactor",
    "load_config",
    "load_otlp_options",
    "resolve_urls",
    "url_problem",
]

#: The hosted WhyOps services, used when no URL is given (as in WhyOps 0.1.1).
DEFAULT_PROXY_URL = "https://proxy.whyops.com"
DEFAULT_ANALYSE_URL = "https://a.whyops.com/api"
#: Where a server that serves both (``whyops serve``) has its analyse API, under its root.
ANALYSE_SUFFIX = "/api"

#: ``redact(path, value) -> value``: called for every leaf (str, number, bool, None) of a
#: captured value, after secret masking; ``path`` is the keys/indices from the top.
Redactor = Callable[[tuple[Any, ...], Any], Any]


@attrs.frozen(slots=True)
class Limits:
    """How much of a captured value survives into the wire format, and how much may wait.

    ``max_queue_bytes``: the export queue's budget in bytes (the captured values' estimated
    size), next to its record cap ``max_queue_size``; past either, new records are dropped
    and counted.
    """

    max_string_length: int = 32_768
    max_items: int = 200
    max_depth: int = 12
    max_yielded_items: int = 100
    mask_secrets: bool = True
    redact: Redactor | None = None
    max_queue_bytes: int = 64 * 2**20


DEFAULT_LIMITS = Limits()


@attrs.frozen(slots=True)
class Config:
    """Settled configuration of the tracer (see docs/core.md for every field)."""

    api_key: str | None = None
    base_url: str | None = None
    analyse_url: str = DEFAULT_ANALYSE_URL  # see resolve_urls
    proxy_url: str = DEFAULT_PROXY_URL
    agent_name: str | None = None
    disabled: bool = False
    exporter: Any = None
    capture_inputs: bool = True
    capture_outputs: bool = True
    limits: Limits = DEFAULT_LIMITS
    max_queue_size: int = 10_000
    max_batch_size: int = 512
    flush_interval: float = 1.0
    exit_timeout: float = 2.0
    export_timeout: float = 10.0
    max_retries: int = 5
    propagate_to_threads: bool = True


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_ENV_NUMBERS: Mapping[str, tuple[str, type]] = {
    "max_queue_size": ("WHYOPS_QUEUE_SIZE", int),
    "max_batch_size": ("WHYOPS_BATCH_SIZE", int),
    "flush_interval": ("WHYOPS_FLUSH_INTERVAL", float),
    "exit_timeout": ("WHYOPS_EXIT_TIMEOUT", float),
}
# Numbers that only configure() sets. Each must be > 0, except these, which may be 0
# (no wait at exit, no retries).
_ARG_NUMBERS: dict[str, type] = {"export_timeout": float, "max_retries": int}
_ZERO_ALLOWED = frozenset({"exit_timeout", "max_retries"})
_KIND_NAMES = {int: "an integer", float: "a number"}
_URL_FIELDS = ("base_url", "analyse_url", "proxy_url")
_ENV_STRINGS = {
    "api_key": "WHYOPS_API_KEY",
    "base_url": "WHYOPS_BASE_URL",
    "analyse_url": "WHYOPS_ANALYSE_URL",
    "proxy_url": "WHYOPS_PROXY_URL",
    "agent_name": "WHYOPS_AGENT_NAME",
    "exporter": "WHYOPS_EXPORTER",
}
_ENV_FLAGS = {
    "disabled": "WHYOPS_DISABLED",
    "capture_inputs": "WHYOPS_CAPTURE_INPUTS",
    "capture_outputs": "WHYOPS_CAPTURE_OUTPUTS",
    "propagate_to_threads": "WHYOPS_PROPAGATE_TO_THREADS",
}


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def _number(name: str, raw: Any, kind: type, field: str | None = None) -> Any:
    """``raw`` as ``kind``; > 0 (or >= 0 where 0 means "none"), finite."""
    try:
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):
            raise TypeError
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be {_KIND_NAMES[kind]}, got {raw!r}") from None
    if (field or name) in _ZERO_ALLOWED:
        if not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be zero or positive, got {raw!r}")
    elif not 0 < value < float("inf"):
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL without query or fragment, or None."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{value!r} is not an absolute http(s) URL"
    if parts.query or parts.fragment:
        return f"{value!r} must not carry a query or fragment"
    return None


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field, var in _ENV_STRINGS.items():
        if env.get(var):
            found[field] = env[var]
    for field, var in _ENV_FLAGS.items():
        if var in env:
            found[field] = _flag(var, env[var])
    for field, (var, kind) in _ENV_NUMBERS.items():
        if env.get(var):
            found[field] = _number(var, env[var], kind, field)
    return found


def _check_urls(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    for field in _URL_FIELDS:
        value = values.get(field)
        if not value:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{field} must be a string, got {type(value).__name__}")
        problem = url_problem(value.strip().rstrip("/"))
        if problem:
            name = field if field in overrides else _ENV_STRINGS[field]
            raise ValueError(f"{name}: {problem}")


def resolve_urls(base: str, proxy: str, analyse: str) -> tuple[str, str]:
    """``(proxy_url, analyse_url)``: the one rule, for ``configure()`` and ``WhyOps(...)``.

    Takes validated URLs without trailing slashes, ``""`` when not given. A proxy or
    analyse URL given alone implies the other on a server that serves both (analyse =
    proxy + ``/api``; proxy = analyse without its ``/api``) rather than silently sending a
    self-hosted deployment's data to the hosted one; then the base URL names the server
    root (proxy = base, analyse = base + ``/api``); then the hosted WhyOps.
    """
    if proxy and not analyse:
        analyse = proxy + ANALYSE_SUFFIX
    elif analyse and not proxy and analyse.endswith(ANALYSE_SUFFIX):
        proxy = analyse[: -len(ANALYSE_SUFFIX)]
    proxy = proxy or base or DEFAULT_PROXY_URL
    analyse = analyse or (base + ANALYSE_SUFFIX if base else DEFAULT_ANALYSE_URL)
    return proxy, analyse


def _derive_urls(values: dict[str, Any]) -> None:
    given = {key: str(values.get(key) or "").strip().rstrip("/") for key in _URL_FIELDS}
    values["base_url"] = given["base_url"] or None
    values["proxy_url"], values["analyse_url"] = resolve_urls(
        given["base_url"], given["proxy_url"], given["analyse_url"]
    )


def load_config(overrides: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Merge ``configure()`` arguments over ``WHYOPS_*`` variables over the defaults."""
    unknown = set(overrides) - set(attrs.fields_dict(Config))
    if unknown:
        raise ValueError(f"configure() got unknown option(s): {', '.join(sorted(unknown))}")
    values = _from_env(os.environ if env is None else env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    numbers = {field: kind for field, (_, kind) in _ENV_NUMBERS.items()} | _ARG_NUMBERS
    for field, kind in numbers.items():
        if overrides.get(field) is not None:
            values[field] = _number(field, overrides[field], kind)
    if "limits" in values and not isinstance(values["limits"], Limits):
        raise ValueError("limits must be a whyops.Limits instance")
    if "limits" in values:
        _number("limits.max_queue_bytes", values["limits"].max_queue_bytes, int)
    _check_urls(values, overrides)
    _check_exporter(values.get("exporter"), "exporter" if "exporter" in overrides else None)
    _derive_urls(values)
    return Config(**values)


#: The exporters ``exporter=`` / ``WHYOPS_EXPORTER`` name (besides ``jsonl:PATH`` or a path).
EXPORTER_NAMES = ("http", "console", "memory", "none", "otlp")


def exporter_problem(spec: str) -> str | None:
    """Why ``spec`` names no exporter (a name, ``jsonl:PATH`` or a ``.jsonl``/``/`` path)."""
    name = spec.strip()
    if name in EXPORTER_NAMES:
        return None
    path = name[len("jsonl:") :] if name.startswith("jsonl:") else name
    if path and (name.startswith("jsonl:") or "/" in path or path.endswith(".jsonl")):
        return None
    return f"{spec!r} is not one of {', '.join(EXPORTER_NAMES)}, jsonl:PATH or a path"


def _check_exporter(spec: Any, option: str | None) -> None:
    """A bad exporter name fails ``configure()``, naming the option or the variable."""
    names = spec if isinstance(spec, (list, tuple)) else [spec]
    if len(names) == 1 and isinstance(names[0], str) and "," in names[0]:
        names = [n for n in names[0].split(",") if n.strip()]
    for name in names:
        problem = exporter_problem(name) if isinstance(name, str) else None
        if problem:
            raise ValueError(f"{option or _ENV_STRINGS['exporter']}: {problem}")


# -- the otlp exporter: the standard OpenTelemetry variables ------------------------------

OTLP_DEFAULT_ENDPOINT = "http://localhost:4318"
OTLP_TRACES_PATH = "/v1/traces"
OTLP_PROTOCOLS = ("http/protobuf", "http/json")
OTLP_DEFAULT_SERVICE = "unknown_service"  # the OpenTelemetry default
_OTLP_COMPRESSIONS = ("gzip", "none")
#: What a value the exporter refuses most likely meant.
_OTLP_HINTS = {
    "grpc": " (the otlp exporter speaks OTLP/HTTP only: use http/protobuf and the receiver's"
    " HTTP port, 4318 by default, not gRPC's 4317)"
}


@attrs.frozen(slots=True)
class OtlpOptions:
    """Where and how the ``otlp`` exporter sends (``OTEL_EXPORTER_OTLP_*``, ``OTEL_SERVICE_NAME``,
    ``OTEL_RESOURCE_ATTRIBUTES``). ``timeout`` is in seconds (the variables give ms)."""

    endpoint: str = OTLP_DEFAULT_ENDPOINT + OTLP_TRACES_PATH
    headers: tuple[tuple[str, str], ...] = ()
    compression: str = "none"
    timeout: float = 10.0
    protocol: str = "http/protobuf"
    service_name: str = OTLP_DEFAULT_SERVICE
    resource: tuple[tuple[str, str], ...] = ()


def _otlp_var(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(variable, value) of the traces-specific variable, else the general one."""
    for var in (f"OTEL_EXPORTER_OTLP_TRACES_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        if env.get(var, "").strip():
            return var, env[var].strip()
    return None


def _pairs(var: str, text: str) -> tuple[tuple[str, str], ...]:
    """``k=v,k2=v2`` with URL-encoded keys and values (the W3C baggage form)."""
    pairs = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{var}: {item.strip()!r} is not key=value")
        pairs.append((unquote(key.strip()), unquote(value.strip())))
    return tuple(pairs)


def _otlp_headers(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The headers variable's pairs, each one HTTP can carry: checked here, since a header
    the HTTP client refuses would fail every send, and so lose every span, later."""
    found = _otlp_var(env, "HEADERS")
    if found is None:
        return ()
    var, text = found
    return tuple(configured_header(item, var) for item in text.split(",") if item.strip())


def _otlp_endpoint(env: Mapping[str, str]) -> str:
    var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    endpoint = env.get(var, "").strip()
    if not endpoint:  # the base endpoint, with the traces path added
        var = "OTEL_EXPORTER_OTLP_ENDPOINT"
        base = env.get(var, "").strip() or OTLP_DEFAULT_ENDPOINT
        endpoint = base.rstrip("/") + OTLP_TRACES_PATH
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{var}: {endpoint!r} is not an absolute http(s) URL")
    return endpoint


def _otlp_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    found = _otlp_var(env, name)
    if found is None:
        return None
    var, value = found
    if value.lower() not in choices:
        hint = _OTLP_HINTS.get(value.lower(), "")
        raise ValueError(f"{var} must be one of {', '.join(choices)}, got {value!r}{hint}")
    return value.lower()


def load_otlp_options(
    env: Mapping[str, str] | None = None, agent_name: str | None = None
) -> OtlpOptions:
    """The ``otlp`` exporter's options from the OpenTelemetry variables; a bad value raises
    ``ValueError`` naming the variable. The service is ``OTEL_SERVICE_NAME``, else
    ``service.name`` of ``OTEL_RESOURCE_ATTRIBUTES``, else the agent name."""
    env = os.environ if env is None else env
    timeout = _otlp_var(env, "TIMEOUT")
    resource = _pairs("OTEL_RESOURCE_ATTRIBUTES", env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    service = (
        env.get("OTEL_SERVICE_NAME", "").strip()
        or dict(resource).get("service.name")
        or agent_name
        or OTLP_DEFAULT_SERVICE
    )
    return OtlpOptions(
        endpoint=_otlp_endpoint(env),
        headers=_otlp_headers(env),
        compression=_otlp_choice(env, "COMPRESSION", _OTLP_COMPRESSIONS) or "none",
        timeout=_number(timeout[0], timeout[1], float) / 1000 if timeout else 10.0,
        protocol=_otlp_choice(env, "PROTOCOL", OTLP_PROTOCOLS) or "http/protobuf",
        service_name=service,
        resource=tuple((k, v) for k, v in resource if k != "service.name"),
    )


def env_requests_tracing(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment alone asks for tracing (an API key or an exporter)."""
    env = os.environ if env is None else env
    return bool(env.get("WHYOPS_API_KEY") or env.get("WHYOPS_EXPORTER"))
