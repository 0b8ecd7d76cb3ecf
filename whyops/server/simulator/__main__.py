"""`python -m whyops.server.simulator [--host H] [--port P]`: serve the simulator alone."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m whyops.server.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    args = parser.parse_args(argv)
    print(f"OpenAI base URL:    http://{args.host}:{args.port}/v1", flush=True)
    print(f"Anthropic base URL: http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
