"""What reading a returned provider answer costs the caller: the work an LLM span does on the
caller's thread when it ends (``extract``), and ``span.record_usage`` (``usage_from``,
``add_usage``).

    python bench/bench_providers.py [--quick] [--against PATH]

The answers are the recorded ones of tests/core/provider_answers.py, as parsed JSON and as
the openai/anthropic SDK objects. Each case runs in a fresh interpreter (best of several
runs, CPU time of the calling thread); ``--against PATH`` runs every case also with the
whyops found at PATH (another checkout), interleaved with this one, and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import copy, sys, time, timeit
from provider_answers import ANTHROPIC_ANSWER, CHAT_ANSWER, RESPONSES_ANSWER
import anthropic.types, openai.types.chat, openai.types.responses
from whyops._providers import add_usage, extract, usage_from
try:
    from whyops.wire.records import TokenUsage
except ImportError:  # a checkout from before the wire package (--against)
    from whyops.models import TokenUsage

responses = copy.deepcopy(RESPONSES_ANSWER)
responses["usage"]["input_tokens_details"].setdefault("cache_write_tokens", 0)
SDK = {
    "chat": openai.types.chat.ChatCompletion.model_validate(CHAT_ANSWER),
    "anthropic": anthropic.types.Message.model_validate(ANTHROPIC_ANSWER),
    "responses": openai.types.responses.Response.model_validate(responses),
}
DICT = {"chat": CHAT_ANSWER, "anthropic": ANTHROPIC_ANSWER, "responses": RESPONSES_ANSWER}
a, b = TokenUsage(1, 2, 3, 4, 5), TokenUsage(10, 20, 30, None, None)
CASES = {
    **{f"extract {k} json": (lambda v=v: extract(v)) for k, v in DICT.items()},
    **{f"extract {k} sdk": (lambda v=v: extract(v)) for k, v in SDK.items()},
    "extract other value": lambda: extract({"answer": 42}),
    **{f"usage_from {k} sdk": (lambda v=v.usage: usage_from(v)) for k, v in SDK.items()},
    **{f"usage_from {k} json": (lambda v=v["usage"]: usage_from(v)) for k, v in DICT.items()},
    "add_usage": lambda: add_usage(a, b),
}
case, number = sys.argv[1], int(sys.argv[2])
if case == "list":
    print("\n".join(CASES))
else:
    timer = timeit.Timer(CASES[case], timer=time.thread_time)
    print(min(timer.repeat(5, number)) / number * 1e6)
"""


def run(tree: Path, case: str, number: int) -> str:
    paths = [str(tree), str(ROOT / "tests" / "core")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    argv = [sys.executable, "-c", WORKER, case, str(number)]
    # cwd: ``-c`` puts the working directory first on sys.path
    done = subprocess.run(argv, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per case")
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    number = 2_000 if args.quick else 20_000
    print(f"{'case':28s} {'µs':>7s}" + (f" {'before':>7s} {'ratio':>6s}" if args.against else ""))
    for case in run(ROOT, "list", 0).splitlines():
        here = float(run(ROOT, case, number))
        line = f"{case:28s} {here:7.2f}"
        if args.against:
            there = float(run(args.against, case, number))
            line += f" {there:7.2f} {here / there:6.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
