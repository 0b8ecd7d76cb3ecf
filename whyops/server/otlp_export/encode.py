"""Spans ready to send → one OTLP/HTTP protobuf request body (the mapping is ``whyops.otlp``'s)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from whyops.server.otlp_export.source import StoredEvent

SERVICE_NAME = "whyops"
PROJECT_ATTRIBUTE = "whyops.project"


def request_body(spans: Sequence[Sequence[StoredEvent]], projects: Mapping[str, str]) -> bytes:
    """One resource per project (``whyops.project`` names it), every span passed included.

    Protobuf messages concatenated are the message holding both lists, so each project's
    ``ExportTraceServiceRequest`` is encoded on its own (span by span, never the whole batch
    as dicts at once) and the bytes joined."""
    from whyops.otlp.outbound import request_body as project_body

    by_project: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        events = by_project.setdefault(span[0].project_id, [])
        events.extend(stored.event for stored in span)
    return b"".join(
        project_body(
            events,
            service_name=SERVICE_NAME,
            resource={PROJECT_ATTRIBUTE: projects.get(project_id, project_id)},
            include_open=True,
        )
        for project_id, events in by_project.items()
    )
