"""Event ids: UUIDv7 (RFC 9562), time-ordered.

Random (v4) ids land on random pages of the id index, so every commit dirties many pages and
the WAL grows several times faster; time-ordered ids append at the index's right edge.
"""

from __future__ import annotations

import os
import time

_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


def uuid7_batch(count: int) -> list[str]:
    """``count`` fresh UUIDv7 strings (one timestamp, independent random parts)."""
    millis = time.time_ns() // 1_000_000
    entropy = os.urandom(10 * count)
    ids = []
    for index in range(count):
        rand = int.from_bytes(entropy[index * 10 : index * 10 + 10], "big")
        value = (
            (millis << 80)
            | (0x7 << 76)
            | (((rand >> 62) & _RAND_A) << 64)
            | (0b10 << 62)
            | (rand & _RAND_B)
        )
        text = f"{value:032x}"
        ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return ids
