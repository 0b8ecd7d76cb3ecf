"""What keeping keys out of storage costs a proxied call: ``Redactor.events`` against the
validation every recorded batch already goes through (``validate_events``), same run.

    python bench/bench_redact.py [--rounds 300]

Prints, per answer size, microseconds per batch for validation alone and for redaction, and
their ratio; the clean case (no key-like text: one serialization and one search) and the case
where a key is found (rewritten and parsed back) are measured separately.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from whyops.server.proxy.events import CallInfo, Draft, build_events
from whyops.server.proxy.redact import Redactor
from whyops.server.validation import validate_events

CALL = CallInfo("thread_bench", "bench", "span0001", "openai.chat", "llm")
SECRET = "sk-proj-" + "A1b2C3d4" * 8


def batch(answer_chars: int, leak: bool) -> list[dict[str, Any]]:
    """A chat call's events: the request and an answer of ``answer_chars`` characters."""
    text = ("The weather in Paris is mild today. " * (answer_chars // 36 + 1))[:answer_chars]
    if leak:
        text = text[: answer_chars // 2] + SECRET + text[answer_chars // 2 :]
    request = Draft("user_message", {"messages": [{"role": "user", "content": "weather?"}]})
    metadata = {"model": "gpt-4o", "provider": "openai", "latencyMs": 5}
    response = Draft("llm_response", {"content": text, "finishReason": "stop"}, metadata)
    return build_events(CALL, [request, response], 1_700_000_000.0, 0)


def per_call_us(work: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    redactor = Redactor([SECRET, "sk-ant-" + "Z9y8X7w6" * 8])
    print(f"{'answer':>10} {'case':>6} {'validate us':>12} {'redact us':>10} {'ratio':>6}")
    for size in (200, 5_000, 100_000):
        for leak in (False, True):
            events = batch(size, leak)
            validate = per_call_us(lambda: validate_events(events, received_us=1), rounds)
            redact = per_call_us(lambda: redactor.events(events), rounds)
            case = "key" if leak else "clean"
            print(f"{size:>10} {case:>6} {validate:12.1f} {redact:10.1f} {redact / validate:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
