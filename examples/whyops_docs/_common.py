"""Shared by the examples: the agent's metadata and where the server is.

Every example reads ``WHYOPS_API_KEY`` and ``WHYOPS_BASE_URL`` (for ``whyops serve``:
``http://127.0.0.1:8787``), so it runs unchanged against a local server or WhyOps.
"""

from __future__ import annotations

import json
import os
import uuid

AGENT_NAME = "customer-support-agent"
AGENT_METADATA = {
    "systemPrompt": "You are a support agent. Look orders up before answering.",
    "description": "Answers questions about orders",
    "tools": [
        {
            "name": "search_orders",
            "description": "Find an order by id",
            "inputSchema": json.dumps(
                {"type": "object", "properties": {"orderId": {"type": "string"}}}
            ),
            "outputSchema": json.dumps(
                {"type": "object", "properties": {"status": {"type": "string"}}}
            ),
        }
    ],
}


def whyops_key() -> str:
    return os.environ["WHYOPS_API_KEY"]


def new_session_id() -> str:
    """A stable id per conversation; here a fresh one per run."""
    return f"session-{uuid.uuid4().hex[:12]}"


def search_orders(order_id: str) -> dict[str, str]:
    return {"orderId": order_id, "status": "shipped"}


def report(*trace_ids: str) -> None:
    """Print the traces this run wrote (the tests read these lines)."""
    for trace_id in trace_ids:
        print(f"trace: {trace_id}")
