"""Start-up checks of ``whyops serve`` that name what is wrong and where: the database path,
the listening address."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from whyops.server.settings import DEFAULT_DB_PATH, ServerSettings
from whyops.server.store.dialect import is_postgres_url


class StartupError(Exception):
    """A start-up problem the operator can fix, said in one line: what is wrong, and where."""


SQLITE_HEADER = b"SQLite format 3\x00"
# The only directory created when missing: the default home of the database files.
DEFAULT_DB_DIR = Path(DEFAULT_DB_PATH).parent


def check_db_path(db_path: str) -> None:
    """Refuse a database path that cannot work, naming it and the problem (before any lock)."""
    if is_postgres_url(db_path):
        _check_postgres_driver()
        return
    path = Path(db_path)
    if path.is_dir():
        raise StartupError(
            f"--db {db_path} is a directory, not a database file; e.g. --db {path / 'whyops.db'}"
        )
    above = next((p for p in path.parents if p.exists()), Path("."))
    if not above.is_dir():
        raise StartupError(f"--db {db_path} is under {above}, which is a file, not a directory")
    if not path.parent.exists():
        if path.parent.absolute() != DEFAULT_DB_DIR.absolute():
            raise StartupError(
                f"--db {db_path}: the directory {path.parent} does not exist; create it first"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        _check_sqlite_header(db_path)


def _check_postgres_driver() -> None:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise StartupError(
            "--db postgresql://... needs the PostgreSQL driver: pip install 'whyops[postgres]'"
        ) from None


def _check_sqlite_header(db_path: str) -> None:
    try:
        with open(db_path, "rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StartupError(f"--db {db_path} cannot be read: {exc.strerror}") from exc
    if head and head != SQLITE_HEADER[: len(head)]:
        raise StartupError(f"--db {db_path} is not a SQLite database (it holds something else)")


def bind(settings: ServerSettings) -> socket.socket:
    """The listening socket; a :class:`StartupError` naming the address when it is not free."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose
    # listener says so, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise _bind_error(settings, exc) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _bind_error(settings: ServerSettings, exc: OSError) -> Exception:
    where = f"{settings.host}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {settings.port} is in use on {settings.host} (another server?);"
            " choose another with --port, or --port 0 for any free port"
        )
    if exc.errno == errno.EACCES:
        return StartupError(f"not allowed to listen on {where}; choose a port above 1023 (--port)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(f"{settings.host} is not an address of this machine (--host)")
    return StartupError(f"cannot listen on {where} (--host, --port): {exc.strerror or exc}")
