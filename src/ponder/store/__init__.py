"""The trace store: one row per request, in SQLite (default) or PostgreSQL (by DSN).

Every backend implements :class:`TraceStore`; :func:`make_store` picks one by DSN; the
:class:`TraceWriter` thread is the only writer and never blocks the stream path.
"""

from ponder.store.base import StoreUnavailable, TraceQuery, TraceStore
from ponder.store.dsn import default_dsn, make_store, migrate_store, read_traces, resolve_dsn
from ponder.store.record import STATUSES, TraceRecord, TraceStatus
from ponder.store.sqlite import default_db_path, read
from ponder.store.writer import TraceWriter, WriterStats

__all__ = [
    "STATUSES",
    "StoreUnavailable",
    "TraceQuery",
    "TraceRecord",
    "TraceStatus",
    "TraceStore",
    "TraceWriter",
    "WriterStats",
    "default_db_path",
    "default_dsn",
    "make_store",
    "migrate_store",
    "read",
    "read_traces",
    "resolve_dsn",
]
