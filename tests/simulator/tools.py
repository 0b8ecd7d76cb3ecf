"""A small support-agent toolset, written once and shaped for each provider."""

from __future__ import annotations

import json
from typing import Any

SUPPORT_TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_order",
        "description": "Look up an order by its id and return its status and total.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "The order id"}},
            "required": ["order_id"],
        },
    },
    {
        "name": "check_shipping",
        "description": "Tracking details for an order's parcel.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "carrier": {"type": "string", "enum": ["ups", "dhl", "fedex"]},
            },
            "required": ["order_id"],
        },
    },
    {
        "name": "issue_refund",
        "description": "Refund an order, fully or partly.",
        "parameters": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string"},
                "amount": {"type": "number"},
                "reason": {"type": "string"},
            },
            "required": ["order_id", "amount"],
        },
    },
]

ORDERS = {"1234": {"order_id": "1234", "status": "delivered", "total": 42.5, "currency": "EUR"}}


def openai_chat_tools() -> list[dict[str, Any]]:
    return [{"type": "function", "function": tool} for tool in SUPPORT_TOOLS]


def openai_responses_tools() -> list[dict[str, Any]]:
    return [{"type": "function", **tool} for tool in SUPPORT_TOOLS]


def anthropic_tools() -> list[dict[str, Any]]:
    return [
        {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
        for t in SUPPORT_TOOLS
    ]


def run_tool(name: str, arguments: dict[str, Any]) -> str:
    """What the support agent's tools return."""
    order = ORDERS.get(str(arguments.get("order_id")))
    if order is None:
        return json.dumps({"error": f"no order {arguments.get('order_id')}"})
    if name == "get_order":
        return json.dumps(order)
    if name == "check_shipping":
        return json.dumps({"carrier": "UPS", "tracking_number": "1Z999", "eta": "2026-12-01"})
    if name == "issue_refund":
        return json.dumps({"refund_id": "rf_1", "amount": arguments.get("amount"), "ok": True})
    raise AssertionError(f"unexpected tool {name}")
