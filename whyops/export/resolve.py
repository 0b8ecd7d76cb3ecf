"""Turn the ``exporter=`` option (or ``WHYOPS_EXPORTER``) into exporter objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whyops._config import Config
from whyops.export import Exporter

__all__ = ["resolve_exporters"]


def resolve_exporters(config: Config) -> list[Exporter]:
    """``http``, ``console``, ``memory``, ``none``, ``jsonl:PATH``, a path, an exporter, a list."""
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
    if name == "console":
        from whyops.export.console import ConsoleExporter

        return [ConsoleExporter()]
    if name == "memory":
        from whyops.export.memory import InMemoryExporter

        return [InMemoryExporter(config.limits)]
    path = name[len("jsonl:") :] if name.startswith("jsonl:") else name
    if not path or not (name.startswith("jsonl:") or "/" in path or path.endswith(".jsonl")):
        raise ValueError(
            f"exporter {spec!r} is not one of http, console, memory, none, jsonl:PATH or a path"
        )
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
