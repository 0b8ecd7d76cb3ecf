"""Facts the simulated model pulls out of a conversation: order ids, emails, amounts, results."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import attrs

from .conversation import Conversation

MAX_LITERAL_RESULT = 20_000  # characters; longer Python reprs of results are quoted as text
_ORDER_PATTERNS = (
    re.compile(r"\b((?:ORD|ORDER)[-_]?\d{2,})\b", re.IGNORECASE),
    re.compile(r"#\s?([A-Za-z]{0,4}-?\d+)\b"),
    re.compile(r"\border\s+(?:number\s+|no\.?\s*|id\s+)?([A-Za-z]{0,4}-?\d{2,})\b", re.IGNORECASE),
    re.compile(r"\b([A-Z]{2,5}-\d{2,})\b"),
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MONEY = re.compile(
    r"(?:[$€£]\s?(\d+(?:[.,]\d{1,2})?))|(?:\b(\d+(?:\.\d{1,2})?)\s?(?:usd|eur|dollars|euros)\b)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?\b")
_PLACE = re.compile(r"\b(?:in|at|for|to)\s+([A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)")


def find_order_id(text: str) -> str | None:
    """`#1234` and `order 1234` give "1234"; `ORD-123` is kept as written, upper-cased."""
    for pattern in _ORDER_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    return None


def parse_result(content: str) -> Any:
    """A tool result as a value: JSON, or the Python repr of a dict or list (openai-agents
    sends `str(result)`), else the text itself."""
    try:
        return json.loads(content)
    except (ValueError, TypeError):
        pass
    text = content.strip() if isinstance(content, str) else ""
    if text[:1] in ("{", "[") and len(text) <= MAX_LITERAL_RESULT:
        try:
            value = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return content
        if isinstance(value, (dict, list)):
            return value
    return content


def flatten_scalars(value: Any, depth: int = 0) -> dict[str, Any]:
    """Scalar fields of a JSON result, nested objects flattened one level deep."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, (str, int, float)):
            found.setdefault(str(key), item)
        elif isinstance(item, dict) and depth < 1:
            for nested_key, nested in flatten_scalars(item, depth + 1).items():
                found.setdefault(nested_key, nested)
    return found


@attrs.frozen
class Facts:
    user_text: str
    order_id: str | None
    email: str | None
    amount: float | None
    numbers: tuple[float, ...]
    place: str | None
    result_fields: dict[str, Any]

    @classmethod
    def from_conversation(cls, conversation: Conversation) -> Facts:
        texts = list(reversed(conversation.user_texts()))
        user_text = texts[0] if texts else ""
        return cls(
            user_text=user_text,
            order_id=_first(find_order_id(text) for text in texts),
            email=_first(_search(_EMAIL, text) for text in texts),
            amount=_money(user_text),
            numbers=tuple(float(n) for n in _NUMBER.findall(user_text)),
            place=_search(_PLACE, user_text, group=1),
            result_fields=_result_fields(conversation),
        )


def _first(values: Any) -> Any:
    for value in values:
        if value:
            return value
    return None


def _search(pattern: re.Pattern[str], text: str, group: int = 0) -> str | None:
    match = pattern.search(text)
    return match.group(group) if match else None


def _money(text: str) -> float | None:
    match = _MONEY.search(text)
    if not match:
        return None
    return float((match.group(1) or match.group(2)).replace(",", "."))


def _result_fields(conversation: Conversation) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for turn in conversation.turns_since_last_user():
        for result in turn.results:
            fields.update(flatten_scalars(parse_result(result.content)))
    return fields
