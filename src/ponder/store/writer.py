"""The trace writer: a thread that owns the store's write connection, fed by a queue.

:meth:`TraceWriter.submit` never blocks and never does I/O, so the stream path can call it.
The thread wakes on the first record and writes everything queued by then in one transaction.
:meth:`TraceWriter.close` drains the queue before it returns.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from pathlib import Path

from ponder.store.record import TraceRecord
from ponder.store.sqlite import connect, insert

log = logging.getLogger("ponder.store")
_STOP = object()


class TraceWriter:
    def __init__(self, path: str | Path, batch_size: int = 256) -> None:
        self.path = Path(path)
        self._batch_size = batch_size
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._conn: sqlite3.Connection = connect(path)  # migrate now: errors surface at start
        self._closed = False
        self._lock = threading.Lock()
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="ponder-trace-writer", daemon=True)
        self._thread.start()

    def submit(self, record: TraceRecord) -> None:
        if self._closed:  # a straggler after shutdown: write it now rather than lose it
            with self._lock:
                self._write([record])
            return
        self._queue.put(record)

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[TraceRecord] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, TraceRecord):
                    batch.append(item)
                if len(batch) >= self._batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            with self._lock:
                self._write(batch)

    def _write(self, batch: list[TraceRecord]) -> None:
        if not batch:
            return
        try:
            insert(self._conn, batch)
            self.written += len(batch)
        except sqlite3.Error:
            log.exception("trace store: could not write %d trace(s)", len(batch))

    def close(self, timeout: float = 10.0) -> None:
        """Write everything submitted so far, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        leftovers: list[TraceRecord] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, TraceRecord):
                leftovers.append(item)
        with self._lock:
            self._write(leftovers)
