"""Request checks shared by the endpoints: every failure names the field, like the real APIs."""

from __future__ import annotations

from typing import Any

from . import catalog, errors, phrases
from .conversation import Conversation

OVERLOADED_STATUS = {errors.OPENAI: 503, errors.ANTHROPIC: 529}


def require_str(provider: str, body: dict[str, Any], field: str) -> str:
    if field not in body or body[field] is None:
        raise errors.missing_field(provider, field)
    if not isinstance(body[field], str) or not body[field]:
        raise errors.invalid_field(provider, field, "expected a non-empty string")
    return str(body[field])


def require_list(provider: str, body: dict[str, Any], field: str) -> list[Any]:
    if field not in body or body[field] is None:
        raise errors.missing_field(provider, field)
    value = body[field]
    if not isinstance(value, list):
        raise errors.invalid_field(provider, field, "expected an array")
    if not value:
        raise errors.invalid_field(provider, field, "expected a non-empty array")
    return value


def optional_int(provider: str, body: dict[str, Any], field: str, minimum: int = 1) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise errors.invalid_field(provider, field, f"expected an integer >= {minimum}")
    return value


def optional_bool(provider: str, body: dict[str, Any], field: str, default: bool = False) -> bool:
    value = body.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise errors.invalid_field(provider, field, "expected a boolean")
    return value


def optional_list(provider: str, body: dict[str, Any], field: str) -> list[Any]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.invalid_field(provider, field, "expected an array")
    return value


def require_dict(provider: str, value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid_field(provider, field, "expected an object")
    return value


def check_model_and_triggers(
    provider: str, model: str, conversation: Conversation, stream: bool
) -> None:
    """Raise the error a trigger asks for; a stream-error trigger fails non-streaming calls."""
    text = conversation.last_user_text
    status = phrases.error_status(catalog.base_name(model), text, OVERLOADED_STATUS[provider])
    if status is not None:
        raise errors.ApiError(status)
    catalog.check_model(provider, model)
    if not stream and phrases.wants_stream_error(catalog.base_name(model), text):
        raise errors.ApiError(500)
