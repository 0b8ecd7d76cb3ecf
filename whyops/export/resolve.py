"""Turn the ``exporter=`` option (or ``WHYOPS_EXPORTER``) into exporter objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whyops._config import Config, exporter_problem, load_otlp_options
from whyops.export import Exporter

__all__ = ["resolve_exporters"]


def resolve_exporters(config: Config) -> list[Exporter]:
    """``http``, ``otlp``, ``console``, ``memory``, ``none``, ``jsonl:PATH``, a path, an
    exporter, or a list of them (``["http", "otlp"]``: each gets its own flusher)."""
    spec = config.exporter
    if spec is None:
        return [_http(config)] if config.api_key else []
    specs: Sequence[Any] = spec if isinstance(spec, (list, tuple)) else [spec]
    if all(isinstance(s, str) for s in specs) and len(specs) == 1 and "," in specs[0]:
        specs = [s.strip() for s in specs[0].split(",") if s.strip()]
    return [e for s in specs for e in _one(s, config)]


def _one(spec: Any, config: Config) -> list[Exporter]:
    if not isinstance(spec, str):
        if callable(getattr(spec, "export", None)) and callable(getattr(spec, "shutdown", None)):
            return [spec]
        raise ValueError(f"exporter must be a name, a path or an Exporter, got {spec!r}")
    name = spec.strip()
    if name == "none":
        return []
    if name == "http":
        return [_http(config)]
    if name == "otlp":
        return [_otlp(config)]
    if name == "console":
        from whyops.export.console import ConsoleExporter

        return [ConsoleExporter()]
    if name == "memory":
        from whyops.export.memory import InMemoryExporter

        return [InMemoryExporter(config.limits)]
    problem = exporter_problem(name)
    if problem:
        raise ValueError(f"exporter {problem}")
    path = name[len("jsonl:") :] if name.startswith("jsonl:") else name
    from whyops.export.jsonl import JsonlExporter

    return [JsonlExporter(path, limits=config.limits)]


def _http(config: Config) -> Exporter:
    if not config.api_key:
        raise ValueError("the http exporter needs an api_key (or WHYOPS_API_KEY)")
    from whyops.export.http import HttpExporter

    return HttpExporter(
        analyse_url=config.analyse_url,
        api_key=config.api_key,
        limits=config.limits,
        timeout=config.export_timeout,
        max_retries=config.max_retries,
        default_agent_name=config.agent_name,
    )


def _otlp(config: Config) -> Exporter:
    options = load_otlp_options(agent_name=config.agent_name)
    from whyops.export.otlp import OtlpExporter

    try:  # building it imports the protobuf bindings (here, not on the flusher)
        return OtlpExporter(
            options,
            limits=config.limits,
            max_retries=config.max_retries,
            default_agent_name=config.agent_name,
        )
    except ImportError as exc:
        raise ValueError(
            f"the otlp exporter needs opentelemetry-proto: pip install 'whyops[otlp]' ({exc})"
        ) from None
