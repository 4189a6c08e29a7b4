"""The trace store: one row per request, in SQLite (WAL) with append-only migrations."""

from ponder.store.record import STATUSES, TraceRecord, TraceStatus
from ponder.store.sqlite import TraceQuery, default_db_path, read
from ponder.store.writer import TraceWriter

__all__ = [
    "STATUSES",
    "TraceQuery",
    "TraceRecord",
    "TraceStatus",
    "TraceWriter",
    "default_db_path",
    "read",
]
