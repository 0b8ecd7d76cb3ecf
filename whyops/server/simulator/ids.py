"""Ids and timestamps derived from a hash of the request, so equal requests get equal answers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
_YEAR = 365 * 24 * 3600
_STREAM_KEYS = ("stream", "stream_options")


def request_seed(endpoint: str, body: Mapping[str, Any]) -> str:
    """Hash of the request without its streaming flags: stream and non-stream answers match."""
    canonical = {key: value for key, value in body.items() if key not in _STREAM_KEYS}
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{encoded}".encode()).hexdigest()


def derive_id(seed: str, prefix: str, label: str = "", length: int = 24) -> str:
    digest = hashlib.sha256(f"{seed}:{prefix}:{label}".encode()).hexdigest()
    return f"{prefix}{digest[:length]}"


def derive_created(seed: str) -> int:
    return EPOCH + int(seed[:8], 16) % _YEAR


def derive_signature(seed: str, text: str) -> str:
    digest = hashlib.sha512(f"{seed}:{text}".encode()).digest()
    return base64.b64encode(digest).decode()
