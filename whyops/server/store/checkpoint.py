"""WAL checkpoints on their own thread, off the writer's path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, fsync
included, so one unlucky ingest request pays for everyone's pages. Here the writer connection
never checkpoints; this thread copies the WAL back into the database in PASSIVE mode (never
blocking the writer or the readers) whenever it has grown, and once more in full at shutdown.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from whyops.server.store.connection import unwritable

log = logging.getLogger("whyops.server.store")

# Seconds between checkpoints. A passive checkpoint of an unchanged WAL costs next to nothing.
INTERVAL_S = 0.5


class Checkpointer:
    def __init__(self, path: str) -> None:
        self._path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="whyops-store-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        failing = False  # logged when checkpoints start and stop failing, not every time
        while not self._stop.wait(INTERVAL_S):
            try:
                _refuse_unwritable(self._path)
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                if not failing:
                    log.error("WAL checkpoint failed: %s (retrying quietly until one works)", exc)
                failing = True
            else:
                if failing:
                    log.warning("WAL checkpoints work again")
                failing = False

    def close(self) -> None:
        """Stop, then checkpoint everything and truncate the WAL (call after the writer closed)."""
        self._stop.set()
        self._thread.join()
        try:
            _refuse_unwritable(self._path)
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.error("final WAL checkpoint failed (%s); the WAL is kept and replayed on open", exc)
            return  # closing would try again, on files that may kill the process (SIGBUS)
        self._conn.close()


def _refuse_unwritable(path: str) -> None:
    problem = unwritable(path)
    if problem is not None:
        raise sqlite3.OperationalError(problem)
