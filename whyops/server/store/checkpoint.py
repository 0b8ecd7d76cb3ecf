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

log = logging.getLogger("whyops.server.store")

# Seconds between checkpoints. A passive checkpoint of an unchanged WAL costs next to nothing.
INTERVAL_S = 0.5


class Checkpointer:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="whyops-store-checkpoint", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                log.exception("WAL checkpoint failed (will retry)")

    def close(self) -> None:
        """Stop, then checkpoint everything and truncate the WAL (call after the writer closed)."""
        self._stop.set()
        self._thread.join()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            log.exception("final WAL checkpoint failed; the WAL is kept and replayed on open")
        self._conn.close()
