"""When a write cannot be taken now: how long the client is asked to wait (``Retry-After``),
and how deep the writer's queue may grow before OTLP exports are asked to come back later."""

from __future__ import annotations

# The store cannot commit (disk full, I/O error, database away): answered 503.
STORAGE_RETRY_AFTER_S = 10
# The server is shutting down (the store takes no more writes): answered 503.
SHUTDOWN_RETRY_AFTER_S = 5
# The writer is behind: answered 429 to OTLP exporters, which retry after it.
BUSY_RETRY_AFTER_S = 1
# Writer jobs waiting for their transaction. One OTLP export is one job (a batch of ~100
# spans); at a few thousand jobs the writer is seconds behind, and memory holds every body.
MAX_QUEUED_WRITES = 2048
