"""The trace writer: a thread that owns the store's write connection, fed by a queue.

:meth:`TraceWriter.submit` is one ``deque.append``: no lock hand-off, no wake-up, no I/O, so
the stream path can call it. The thread wakes every ``interval_s`` (or when the queue passes
``batch_size``) and writes everything queued in one transaction. :meth:`TraceWriter.close`
drains the queue before it returns; a record submitted after that is written at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from pathlib import Path

from ponder.store.record import ReasoningRecord, TraceRecord
from ponder.store.sqlite import connect, insert

log = logging.getLogger("ponder.store")


class TraceWriter:
    def __init__(self, path: str | Path, interval_s: float = 0.05, batch_size: int = 256) -> None:
        self.path = Path(path)
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._queue: deque[TraceRecord | ReasoningRecord] = deque()
        self._conn: sqlite3.Connection = connect(path)  # migrate now: errors surface at start
        self._lock = threading.Lock()  # one writer of the connection at a time
        self._wake = threading.Event()
        self._closed = False
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="ponder-trace-writer", daemon=True)
        self._thread.start()

    def submit(self, record: TraceRecord | ReasoningRecord) -> None:
        if self._closed:  # a straggler after shutdown: write it now rather than lose it
            self._flush()
            with self._lock:
                self._write([record])
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            while self._queue:
                batch: list[TraceRecord | ReasoningRecord] = []
                while self._queue and len(batch) < self._batch_size:
                    batch.append(self._queue.popleft())
                self._write(batch)

    def _write(self, batch: list[TraceRecord | ReasoningRecord]) -> None:
        if not batch:
            return
        traces = [r for r in batch if isinstance(r, TraceRecord)]
        reasoning = [r for r in batch if isinstance(r, ReasoningRecord)]
        try:
            insert(self._conn, traces, reasoning)
            self.written += len(traces)
        except sqlite3.Error:
            log.exception("trace store: could not write %d trace(s)", len(batch))

    def flush(self) -> None:
        """Write everything submitted so far (tests and ``close`` use it)."""
        self._flush()

    def close(self, timeout: float = 10.0) -> None:
        """Write everything submitted so far, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self._flush()
