"""The support agent's tools: order look-up, shipment tracking, refunds.

They work on a small in-memory shop, so the example runs anywhere. ``track_shipment``
talks to a flaky carrier that times out on its first request, to show what a failing
tool looks like in a trace (and that the agent recovers by retrying).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import whyops

ORDERS: dict[str, dict[str, Any]] = {
    "A1001": {"item": "Trail running shoes", "status": "shipped", "total": 129.0},
    "B2002": {"item": "Espresso grinder", "status": "in transit", "total": 249.0},
    "C3003": {"item": "Ceramic teapot", "status": "delivered", "total": 42.5},
    "D4004": {"item": "Wool blanket", "status": "delivered", "total": 89.0},
}
TRACKING = {
    "A1001": {"carrier": "ParcelNow", "eta": "tomorrow", "last_scan": "Leipzig hub"},
    "B2002": {"carrier": "ParcelNow", "eta": "in 2 days", "last_scan": "Rotterdam port"},
}


class CarrierTimeout(Exception):
    """The carrier's tracking API did not answer in time."""


class FlakyCarrier:
    """Times out on the first request it gets, then answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed_once = False

    def reset(self) -> None:
        with self._lock:
            self._failed_once = False

    def check_timeout(self) -> None:
        with self._lock:
            if not self._failed_once:
                self._failed_once = True
                raise CarrierTimeout("tracking API did not answer within 2.0s")


CARRIER = FlakyCarrier()


@whyops.tool
async def get_order_status(order_id: str) -> dict[str, Any]:
    """The order's item, status and total."""
    await asyncio.sleep(0.02)
    order = ORDERS.get(order_id.upper())
    if order is None:
        return {"order_id": order_id, "found": False}
    return {"order_id": order_id.upper(), "found": True, **order}


@whyops.tool
async def track_shipment(order_id: str) -> dict[str, Any]:
    """Where the parcel is, from the carrier's tracking API."""
    await asyncio.sleep(0.05)
    CARRIER.check_timeout()
    return {"order_id": order_id.upper(), **TRACKING.get(order_id.upper(), {"status": "unknown"})}


@whyops.tool
async def issue_refund(order_id: str, reason: str = "") -> dict[str, Any]:
    """Refund a delivered order in full."""
    await asyncio.sleep(0.03)
    order = ORDERS.get(order_id.upper())
    if order is None:
        return {"order_id": order_id, "refunded": False, "reason": "no such order"}
    return {"order_id": order_id.upper(), "refunded": True, "amount": order["total"]}


TOOL_FUNCTIONS = {
    "get_order_status": get_order_status,
    "track_shipment": track_shipment,
    "issue_refund": issue_refund,
}

_ORDER_ID = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
}
TOOL_SPECS: list[dict[str, Any]] = [
    {
        "name": "get_order_status",
        "description": "Look up an order's item, status and total by order id.",
        "parameters": _ORDER_ID,
    },
    {
        "name": "track_shipment",
        "description": "Track the shipment of an order: carrier, last scan, ETA.",
        "parameters": _ORDER_ID,
    },
    {
        "name": "issue_refund",
        "description": "Refund a delivered order in full.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
            "required": ["order_id"],
        },
    },
]


def openai_tools() -> list[Any]:
    """The tools in OpenAI's chat completions format."""
    return [{"type": "function", "function": spec} for spec in TOOL_SPECS]


def agent_metadata_tools() -> list[dict[str, str]]:
    """The tools as WhyOps agent metadata (schemas as JSON text), for versioning."""
    return [
        {
            "name": spec["name"],
            "description": spec["description"],
            "inputSchema": json.dumps(spec["parameters"]),
            "outputSchema": json.dumps({"type": "object"}),
        }
        for spec in TOOL_SPECS
    ]
