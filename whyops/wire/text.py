"""Compact JSON text, exactly as ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``.

The HTTP exporter sends events as text built here: one reusable C encoder rather than one
per ``json.dumps`` call (building the encoder costs more than encoding a small event).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["json_text", "string_text"]

#: A JSON string literal, non-ASCII kept as is (``json_text`` of a value known to be a str).
string_text: Callable[[str], str] = json.encoder.encode_basestring


def _make_json_text() -> Callable[[Any], str]:
    # One reusable C encoder: ``JSONEncoder.encode`` builds a new one per call, which costs
    # more than encoding the small values spans hold. No cycle check: everything encoded
    # here is JSON data made safe beforehand, which has none.
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover  (interpreters without the C accelerator)
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
        return encoder.encode
    chunks = make_encoder(None, str, string_text, None, ":", ",", False, False, True)

    def json_text(value: Any) -> str:
        kind = type(value)
        if kind is str:
            return string_text(value)
        if kind is int:
            return int.__repr__(value)
        return "".join(chunks(value, 0))

    return json_text


#: ``value`` as compact JSON text (``value`` must be JSON data: dicts, lists, scalars).
json_text = _make_json_text()
