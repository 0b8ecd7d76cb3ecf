"""One server per database file: an exclusive ``flock`` on ``<db>.lock`` for the server's life.

The writer keeps each trace's last step id in memory, so two servers writing the same file
would hand out the same step ids. The lock makes the second one refuse to start instead.
On PostgreSQL any number of servers share a database (their writers lock per trace): no lock.
"""

from __future__ import annotations

import fcntl
import os

import attrs

from whyops.server.store.dialect import is_postgres_url


class DatabaseInUseError(RuntimeError):
    """Another running server holds the database's lock file."""


@attrs.define
class DatabaseLock:
    """The held lock; :meth:`release` is idempotent."""

    path: str
    _fd: int | None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_path(db_path: str) -> str:
    return f"{db_path}.lock"


def acquire(db_path: str) -> DatabaseLock:
    """Lock ``<db_path>.lock`` without waiting, or raise :class:`DatabaseInUseError`."""
    if is_postgres_url(db_path):
        return DatabaseLock(db_path, None)
    path = lock_path(db_path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUseError(
            f"another whyops server uses the database {db_path} (it holds the lock {path});"
            " stop it or choose another file with --db"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return DatabaseLock(path, fd)
