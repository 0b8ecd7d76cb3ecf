"""Constants shared by the client tests (a plain module: test files import it)."""

from __future__ import annotations

KEY = "whyops_test_key"
METADATA = {
    "systemPrompt": "You help customers with their orders.",
    "description": "Support agent",
    "tools": [
        {
            "name": "search_orders",
            "description": "Find a customer's orders",
            "inputSchema": '{"type":"object","properties":{"orderId":{"type":"string"}}}',
            "outputSchema": '{"type":"object"}',
        }
    ],
}
