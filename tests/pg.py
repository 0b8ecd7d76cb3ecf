"""A real PostgreSQL server for the test suite, started from the server binaries.

``initdb`` and ``pg_ctl`` (Debian's ``postgresql`` package puts them in
/usr/lib/postgresql/<version>/bin) build a throw-away cluster in a temporary directory,
listening on a free port of 127.0.0.1 only, with its unix socket in that directory. PostgreSQL
refuses to run as root, and the suite runs as root in CI: then every PostgreSQL command runs as
``nobody`` (``runuser``), which owns the directory. Each test database is a ``CREATE DATABASE``
from the template, so tests start from nothing in a few milliseconds. The cluster is stopped
and removed when the process exits, whatever happens (``atexit``).
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

# Loopback only, room for many test servers' pools, small.
SERVER_OPTIONS = "-c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=32MB"
# What the tests add: durability against power loss is not under test (a clean or immediate
# stop still keeps every committed row), and fsync on a shared CI disk is slow.
TEST_OPTIONS = "-c fsync=off -c full_page_writes=off"
UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"
# Clusters live in /tmp/whyops-pg-*: short enough for a unix socket path, and reachable by
# the unprivileged user (a TMPDIR under /root would not be). "owner" holds the test process's
# pid, so a later run can remove clusters whose process was killed before its atexit ran.
PREFIX = "whyops-pg-"
OWNER_FILE = "owner"


class PostgresMissing(RuntimeError):
    """The server binaries are not installed (``.ci/run`` installs Debian's package)."""


def find_binaries() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    on_path = shutil.which("initdb")
    candidates = [str(Path(on_path).resolve().parent)] if on_path else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if all(os.access(Path(directory, name), os.X_OK) for name in ("initdb", "pg_ctl")):
            return Path(directory)
    raise PostgresMissing("no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL cluster: ``start()``, ``database()`` per test, ``restart()``, ``stop()``."""

    def __init__(self, durable: bool = False) -> None:
        """``durable``: PostgreSQL's own defaults (fsync on every commit), for benchmarks."""
        self.options = SERVER_OPTIONS if durable else f"{SERVER_OPTIONS} {TEST_OPTIONS}"
        self.bin = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._as_user = os.geteuid() == 0
        if self._as_user:
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "--no-sync",
                  "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        atexit.register(self.remove)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self._as_user:
            command = ["runuser", "-u", UNPRIVILEGED_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}{done.stdout}")

    @property
    def admin_dsn(self) -> str:
        return self.dsn("postgres")

    def dsn(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"{self.options} -p {self.port} -c unix_socket_directories={self.root}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def database(self, prefix: str = "whyops") -> str:
        """A new empty database; its connection URL."""
        import psycopg

        with self._lock:
            name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop(self, dsn: str) -> None:
        """Drop a database made by ``database()``, closing whatever still uses it."""
        import psycopg

        name = dsn.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        """Stop the server (if it runs) and delete the cluster's directory."""
        _remove(self.bin, self.root)


def _remove(binaries: Path, root: Path) -> None:
    data = root / "data"
    if (data / "postmaster.pid").exists():
        command = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", UNPRIVILEGED_USER, "--", *command]
        subprocess.run(command, capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans() -> None:
    """Stop and delete the clusters of test processes that died without cleaning up."""
    binaries = find_binaries()
    for owner in Path("/tmp").glob(f"{PREFIX}*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            _remove(binaries, owner.parent)


_shared: Cluster | None = None
_shared_lock = threading.Lock()


def cluster() -> Cluster:
    """This process's cluster, started on first use (each xdist worker has its own)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            remove_orphans()
            started = Cluster()
            started.start()
            _shared = started
        return _shared


def missing_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg[binary,pool] is not installed (pip install -e '.[dev]')"
    try:
        find_binaries()
    except PostgresMissing as exc:
        return f"{exc} (apt-get install postgresql)"
    return None
