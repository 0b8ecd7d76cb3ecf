"""Trace and span ids: random hex strings, cheap enough for the hot path."""

from __future__ import annotations

import random
import re

# ``random.getrandbits`` is a C call with no lock, several times faster than ``secrets`` or
# ``uuid4``. Ids only need to be unique, not unguessable. A child process reseeds the
# generator after ``os.fork`` (CPython does this itself), so ids never repeat across forks.
_bits = random.getrandbits

#: What WhyOps accepts as a trace or thread id: 1-128 printable ASCII characters, no
#: spaces (control characters and spaces would corrupt log lines, headers and URLs).
ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")


def new_trace_id() -> str:
    """32 lowercase hex characters (a W3C trace id)."""
    return f"{_bits(128) or 1:032x}"


def new_span_id() -> str:
    """16 lowercase hex characters (a W3C span id), never all zeros."""
    return f"{_bits(64) or 1:016x}"
