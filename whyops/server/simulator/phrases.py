"""Deterministic triggers: special model names and magic phrases in the last user message.

- model `sim-error-<status>` or phrase `sim:error=<status>`: answer with that HTTP error.
- model `sim-overloaded`: Anthropic 529 overloaded_error, OpenAI 503.
- model `sim-stream-error` or phrase `sim:stream-error`: a stream that fails midway
  (non-streaming requests get a 500).
- phrase `sim:echo <text>`: answer exactly <text>.
- phrase `sim:words=<n>`: answer with n words (long answers, many stream chunks).
- phrase `sim:redacted-thinking` (or Anthropic's documented test string): add a
  redacted_thinking block when thinking is enabled.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import Conversation

OVERLOADED_MODEL = "sim-overloaded"
STREAM_ERROR_MODEL = "sim-stream-error"
ANTHROPIC_REDACTED_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253"
)
_MODEL_ERROR = re.compile(r"^sim-error-(\d{3})$")
_PHRASE_ERROR = re.compile(r"sim:error=(\d{3})")
_ECHO = re.compile(r"sim:echo\s(.*)", re.DOTALL)
_WORDS = re.compile(r"sim:words=(\d{1,5})")
_VOCABULARY_TEXT = (
    "the simulator streams deterministic words so tests and demos can measure every "
    "chunk of a long answer without any network access or provider keys"
)
_VOCABULARY = _VOCABULARY_TEXT.split()


def error_status(model: str, last_user_text: str, overloaded_status: int) -> int | None:
    """The HTTP error status a request asks for, if any."""
    if model == OVERLOADED_MODEL:
        return overloaded_status
    for match in (_MODEL_ERROR.match(model), _PHRASE_ERROR.search(last_user_text)):
        if match and 400 <= int(match.group(1)) <= 599:
            return int(match.group(1))
    return None


def wants_stream_error(model: str, last_user_text: str) -> bool:
    return model == STREAM_ERROR_MODEL or "sim:stream-error" in last_user_text


def wants_redacted_thinking(conversation: Conversation) -> bool:
    text = conversation.last_user_text
    return "sim:redacted-thinking" in text or ANTHROPIC_REDACTED_TRIGGER in text


def scripted_text(last_user_text: str) -> str | None:
    """The exact answer a magic phrase asks for, or None."""
    echo = _ECHO.search(last_user_text)
    if echo:
        return echo.group(1)
    words = _WORDS.search(last_user_text)
    if words:
        count = int(words.group(1))
        return " ".join(_VOCABULARY[i % len(_VOCABULARY)] for i in range(count)) + "."
    return None
