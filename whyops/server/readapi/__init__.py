"""The read API: threads (traces), events, agents, the graph and span views, stats, health."""

from __future__ import annotations

from starlette.routing import Route

from whyops.server.readapi.entities import get_entity, list_entities
from whyops.server.readapi.events import get_event, list_events
from whyops.server.readapi.graph import get_graph
from whyops.server.readapi.health import health
from whyops.server.readapi.spans import get_spans
from whyops.server.readapi.stats import get_stats
from whyops.server.readapi.stats_top import get_top
from whyops.server.readapi.threads import get_thread, list_threads


def routes() -> list[Route]:
    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/api/threads", list_threads, methods=["GET"]),
        Route("/api/threads/{thread_id:path}/graph", get_graph, methods=["GET"]),
        Route("/api/threads/{thread_id:path}", get_thread, methods=["GET"]),
        Route("/api/traces/{trace_id:path}/spans", get_spans, methods=["GET"]),
        Route("/api/events", list_events, methods=["GET"]),
        Route("/api/events/{event_id}", get_event, methods=["GET"]),
        Route("/api/entities", list_entities, methods=["GET"]),
        Route("/api/entities/{entity_id}", get_entity, methods=["GET"]),
        Route("/api/stats", get_stats, methods=["GET"]),
        Route("/api/stats/top", get_top, methods=["GET"]),
    ]
