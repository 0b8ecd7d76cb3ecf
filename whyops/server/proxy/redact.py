"""Keys never reach storage: the server's provider keys, and anything shaped like a key.

An upstream may echo the key it was called with (in an answer, an error body, a stream error
frame); a prompt may carry one. Every event the proxy records passes through
:meth:`Redactor.events` first. The events are serialized once and searched with one cheap
pattern; only when that finds a candidate is the text rewritten and parsed back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from whyops.server.proxy.providers import PROVIDERS

REDACTED = "[redacted]"
# ``sk-…`` (OpenAI, and Anthropic's ``sk-ant-…``) and ``Bearer …`` credentials. Applied to JSON
# text, so a key right after an escaped newline or tab (``\nsk-…``) counts as a word start.
# Every alternative starts with a literal character, which lets the regex engine skip ahead.
_KEY_SHAPES = (
    r"sk-(?:(?<=\\[nrt]sk-)|(?<![A-Za-z0-9_]sk-))[A-Za-z0-9_-]{16,}",
    r"Bearer [A-Za-z0-9._~+/=-]{16,}",
)
BEARER = "Bearer "
# Substrings that make an event worth the closer look (``in`` is a fast C search).
_CANDIDATES = ("sk-", BEARER)
MIN_SECRET = 8  # shorter configured "keys" (placeholders) would redact ordinary words


class Redactor:
    """Replaces ``secrets`` (the configured provider keys) and key-shaped text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # in JSON text a key appears escaped, as json.dumps writes it
        escaped = sorted({_json(s)[1:-1] for s in secrets if s and len(s) >= MIN_SECRET})
        self._candidates = (*escaped, *_CANDIDATES)
        literal = [re.escape(s) for s in sorted(escaped, key=len, reverse=True)]
        self._keys = re.compile("|".join([*literal, *_KEY_SHAPES]))

    def text(self, text: str) -> str:
        return self._keys.sub(_replacement, text)

    def events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``events`` with every key replaced by ``[redacted]`` (the same list when none)."""
        try:
            serialized = _json(events)
        except (ValueError, TypeError, RecursionError):
            return events  # not storable either: the recorder refuses it and counts it
        if not any(candidate in serialized for candidate in self._candidates):
            return events
        redacted = self.text(serialized)
        if redacted == serialized:
            return events
        value: list[dict[str, Any]] = json.loads(redacted)
        return value


def _replacement(match: re.Match[str]) -> str:
    """``Bearer [redacted]`` keeps saying what the text was; anything else is just gone."""
    return BEARER + REDACTED if match.group().startswith(BEARER) else REDACTED


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def for_app(app: Any) -> Redactor:
    """The app's redactor, built once from its settings' provider keys (with ``--simulate``
    they are never sent anywhere, and may be a placeholder word such as ``simulator``)."""
    redactor: Redactor | None = getattr(app.state, "proxy_redactor", None)
    if redactor is None:
        settings = app.state.settings
        providers = () if settings.simulate else PROVIDERS
        redactor = Redactor(getattr(settings, f"{p.name}_api_key", None) for p in providers)
        app.state.proxy_redactor = redactor
    return redactor
