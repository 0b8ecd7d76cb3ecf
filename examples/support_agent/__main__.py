"""Run the example against the server in WHYOPS_BASE_URL with the key in WHYOPS_API_KEY."""

from __future__ import annotations

import asyncio
import os
import sys

from whyops.demo_agent import run_sessions


def main() -> int:
    base_url = os.environ.get("WHYOPS_BASE_URL", "http://127.0.0.1:8787").rstrip("/")
    api_key = os.environ.get("WHYOPS_API_KEY")
    if not api_key:
        print("set WHYOPS_API_KEY (the key `whyops serve` printed)", file=sys.stderr)
        return 2
    for turn in asyncio.run(run_sessions(base_url, api_key)):
        print(f"{turn.trace_id}  {turn.user_id}: {turn.question}\n    -> {turn.reply}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
