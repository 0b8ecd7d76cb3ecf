"""Starts Arize Phoenix on loopback, run by the Phoenix virtualenv's Python
(`scripts/phoenix.sh` makes it): `python phoenix_server.py`, with the environment of
`tests/receivers/phoenix_process.py` (working directory, SQLite file, telemetry off, ports 0).

Three things `phoenix serve` has no setting for, done here before it starts:
- its OTLP/gRPC receiver binds every interface (`[::]`): bound to 127.0.0.1 instead;
- with port 0 it never says which port it got: the HTTP port is printed as
  `PHOENIX_HTTP_PORT=<port>` once it listens;
- no connection may leave loopback: any other address is refused and reported on stderr as
  `PHOENIX_REFUSED <address>` (the tests fail on it).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

REFUSED = "PHOENIX_REFUSED"
HTTP_PORT = "PHOENIX_HTTP_PORT"


def _guard_loopback() -> None:
    # tests/loopback.py, loaded by its path: this runs in Phoenix's virtualenv, not as a test.
    path = Path(__file__).resolve().parent.parent / "loopback.py"
    spec = importlib.util.spec_from_file_location("whyops_tests_loopback", path)
    assert spec is not None and spec.loader is not None
    loopback = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loopback)
    loopback.guard_loopback(
        lambda address: print(f"{REFUSED} {address!r}", file=sys.stderr, flush=True),
        "Phoenix under test",
    )


def _grpc_on_loopback() -> None:
    import grpc.aio

    make_server = grpc.aio.server

    def loopback_server(*args: Any, **kwargs: Any) -> Any:
        server = make_server(*args, **kwargs)
        add_port = server.add_insecure_port
        server.add_insecure_port = lambda address: add_port(  # type: ignore[method-assign]
            address.replace("[::]", "127.0.0.1", 1)
        )
        return server

    grpc.aio.server = loopback_server


def _announce_http_port() -> None:
    import uvicorn

    startup = uvicorn.Server.startup

    async def announced(self: Any, sockets: Any = None) -> None:
        await startup(self, sockets)
        for server in getattr(self, "servers", ()):
            for bound in server.sockets:
                print(f"{HTTP_PORT}={bound.getsockname()[1]}", flush=True)
                return

    uvicorn.Server.startup = announced  # type: ignore[method-assign]


def main() -> None:
    _guard_loopback()
    _grpc_on_loopback()
    _announce_http_port()
    from phoenix.server.main import main as phoenix_main

    sys.argv = ["phoenix", "serve"]
    phoenix_main()


if __name__ == "__main__":
    main()
