"""Event ids: UUIDv7 (RFC 9562), time-ordered.

Random (v4) ids land on random pages of the id index, so every commit dirties many pages and
the WAL grows several times faster; time-ordered ids append at the index's right edge.
"""

from __future__ import annotations

import os
import time

# The variant nibble (binary 10xx) from any hex digit of randomness.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid7_batch(count: int) -> list[str]:
    """``count`` fresh UUIDv7 strings: one millisecond timestamp, 74 random bits each."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{stamp[:8]}-{stamp[8:12]}-7"
    noise = os.urandom(10 * count).hex()
    ids = []
    for start in range(0, 20 * count, 20):
        rand = noise[start : start + 20]
        ids.append(f"{head}{rand[:3]}-{_VARIANT[rand[3]]}{rand[4:7]}-{rand[7:19]}")
    return ids
