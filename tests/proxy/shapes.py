"""The error shapes of the two providers, as their SDKs read them."""

from __future__ import annotations

from typing import Any

import httpx2


def openai_message(body: Any) -> str:
    """The message of an OpenAI-shaped error: ``{"error": {message, type, param, code}}``."""
    assert ["error"] == list(body), body
    assert {"message", "type", "param", "code"} == set(body["error"]), body
    assert isinstance(body["error"]["type"], str)
    return str(body["error"]["message"])


def anthropic_message(body: Any) -> str:
    """The message of an Anthropic-shaped error: ``{"type": "error", "error": {type, message}}``."""
    assert "error" == body["type"], body
    assert {"type", "message"} == set(body["error"]), body
    assert isinstance(body["error"]["type"], str)
    return str(body["error"]["message"])


def error_message(answer: httpx2.Response, provider: str) -> str:
    """The message of ``answer``, checking it is in ``provider``'s error shape."""
    shaped = anthropic_message if provider == "anthropic" else openai_message
    return shaped(answer.json())


def provider_of(path: str, headers: Any = ()) -> str:
    """Which provider's shape a proxy path answers in (the proxy's own rule)."""
    names = {str(k).lower() for k, _ in (headers.items() if hasattr(headers, "items") else headers)}
    shared = path.startswith("/v1/models")  # the model routes speak for one provider each
    anthropic = path.startswith("/v1/messages") or (shared and "anthropic-version" in names)
    return "anthropic" if anthropic else "openai"
