"""The invisible trace signature, bit for bit the WhyOps encoding.

A trace id rides along inside assistant text as zero-width characters, so a
client that sends the conversation back (without any header) still lands in the
same trace. Encoding: a start marker, then every UTF-16 code unit of the id as
its binary value left-padded to 8 bits, most significant bit first (1 is
U+200C, 0 is U+200D), then an end marker.

Only prose is signed (:func:`signable`): a client that parses an answer
(``json.loads``, a fenced code block) must get exactly the model's text.
"""

from __future__ import annotations

import json
import re

START = "\u200b"
ONE = "\u200c"
ZERO = "\u200d"
END = "\u200e"

_BLOCK = re.compile(f"{START}[{ONE}{ZERO}]+{END}")
_TO_BITS = str.maketrans({"1": ONE, "0": ZERO})
_FROM_BITS = str.maketrans({ONE: "1", ZERO: "0"})
# The last line of a text that ends in a fenced code block: three or more backticks or tildes.
_CLOSING_FENCE = re.compile(r"(?:^|\n)[ \t]*(?:`{3,}|~{3,})[ \t]*$")
# Last characters of text a client may parse: a JSON object or array, a fenced block's end.
_PARSEABLE_ENDINGS = ("}", "]")


def encode(trace_id: str) -> str:
    """The signature block for ``trace_id``."""
    units = trace_id.encode("utf-16-le")
    codes = (units[i] | units[i + 1] << 8 for i in range(0, len(units), 2))
    bits = "".join(format(code, "08b") for code in codes)
    return START + bits.translate(_TO_BITS) + END


def decode(text: str) -> str | None:
    """The trace id of the first signature block in ``text``, if any.

    Like WhyOps, bits are read in groups of eight; a block whose length is not
    a multiple of eight is not a signature of ours and yields None.
    """
    if START not in text:
        return None
    match = _BLOCK.search(text)
    if match is None:
        return None
    bits = match.group()[1:-1].translate(_FROM_BITS)
    if len(bits) % 8:
        return None
    return "".join(chr(int(bits[i : i + 8], 2)) for i in range(0, len(bits), 8))


def strip(text: str) -> str:
    """``text`` without any signature block."""
    if START not in text:
        return text
    return _BLOCK.sub("", text)


def encodable(trace_id: str) -> bool:
    """Whether the id survives the 8-bit encoding (every character below U+0100)."""
    return all(ord(char) < 256 for char in trace_id)


def signable(text: str) -> bool:
    """Whether a signature may be appended to ``text`` without breaking a client's parsing.

    Not for empty text, text that parses as JSON (objects, arrays, numbers, strings,
    ``true``), text that ends in ``}`` or ``]`` (JSON after a preamble, as extractors
    that cut from the first brace to the last read it), or text that ends in a fenced
    code block (````` or ``~~~``).
    """
    trimmed = text.strip()
    if not trimmed or trimmed.endswith(_PARSEABLE_ENDINGS) or _CLOSING_FENCE.search(trimmed):
        return False
    return not _parses_as_json(trimmed)


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
