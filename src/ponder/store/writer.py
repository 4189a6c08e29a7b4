"""The trace writer: a thread with its own event loop that owns the store's write side.

:meth:`TraceWriter.submit` is one ``deque.append`` (plus a wake-up for a full batch, or for
the first record after a quiet spell): no lock hand-off, no I/O, so the stream path can call
it. The thread writes ``interval_s`` after the first record of a batch came (or at once when
the queue reaches ``batch_size``), in batches of one transaction each; with nothing queued it
sleeps without a timer, so an idle gateway's writer costs nothing.

When the database is slow or down, requests keep flowing and traces wait: in memory up to
``queue_limit``, past that in a local :class:`~ponder.store.journal.Journal` (fsynced JSONL),
which is replayed once a write succeeds again. Only past the journal's own limit is a trace
dropped, and then it is counted (``ponder_traces_dropped_total`` in ``/metrics``) and logged.
Writes are idempotent by request id, so a replay that overlaps a half-finished batch never
makes a duplicate. :meth:`TraceWriter.close` writes what is left, or journals it if the
database is away, so a restart replays it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ponder.store.base import StoreUnavailable, TraceStore
from ponder.store.dsn import DEFAULT_POOL_SIZE, make_store, scheme
from ponder.store.journal import JOURNAL_ENV, Journal, StoreItem, default_journal_dir
from ponder.store.record import ReasoningRecord, ResponseRecord, TraceRecord

log = logging.getLogger("ponder.store")
MAX_BACKOFF_S = 1.0
WRITE_TIMEOUT_S = 30.0
SLOW_WRITE_S = 1.0  # a write in flight this long: the database is slow, spill past the bound


@dataclass(frozen=True, slots=True)
class WriterStats:
    up: bool  # the last write succeeded
    queued: int  # in memory, waiting for the next batch
    journaled_pending: int  # in the journal, waiting for the database
    written: int
    journaled: int  # spilled to the journal, in total
    replayed: int  # written from the journal once the database was back
    dropped: int  # lost: past the queue bound with the journal full or unwritable
    failed_writes: int  # batches the database refused or did not answer


def default_journal_for(dsn: str) -> Path:
    """``$PONDER_JOURNAL_DIR``; else beside a SQLite file (its disk, its lifetime); else the
    per-user state directory."""
    if os.environ.get(JOURNAL_ENV):
        return Path(os.environ[JOURNAL_ENV])
    if scheme(dsn) == "sqlite":
        return Path(dsn.removeprefix("sqlite:///") + ".spill")
    return default_journal_dir()


class TraceWriter:
    def __init__(
        self,
        target: str | Path,
        interval_s: float = 0.05,
        batch_size: int = 256,
        *,
        queue_limit: int = 10_000,
        journal_dir: str | Path | None = None,
        journal_limit: int = 100_000,
        pool_size: int = DEFAULT_POOL_SIZE,
        open_timeout_s: float = 30.0,
    ) -> None:
        self.dsn = str(target)
        self.pool_size = pool_size
        self._store: TraceStore = make_store(self.dsn, pool_size=2)
        self.label = self._store.label
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._queue_limit = queue_limit
        self._journal_dir = Path(journal_dir) if journal_dir else default_journal_for(self.dsn)
        self._journal_limit = journal_limit
        self._journal: Journal | None = None
        self._queue: deque[StoreItem] = deque()
        self._waiters: dict[int, concurrent.futures.Future[bool]] = {}  # by id() of the record
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._wake_pending = False
        # The writer sleeps without a timer while it has nothing to write: the next submit
        # wakes it (an idle gateway's writer thread then costs nothing).
        self._idle = False
        self._spiller: asyncio.Task[None] | None = None  # runs only while the store lags
        self._drain_lock: asyncio.Lock | None = None
        self._stopping = False
        self._closed = False
        self._up = True
        self._write_started: float | None = None  # loop time the write in flight began
        self._delay_s = interval_s
        self.written = self.journaled = self.replayed = self.dropped = self.failed_writes = 0
        self.reasoning_written = 0
        self.applied: list[str] = []  # migrations applied when this writer opened the store
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(ready),), name="ponder-trace-writer", daemon=True
        )
        self._thread.start()
        ready.result(open_timeout_s)  # a store that cannot open fails the start, loudly

    # -- the stream path -------------------------------------------------------------------

    def submit(self, record: StoreItem) -> None:
        if self._closed:  # a straggler after shutdown: write it now rather than lose it
            self._write_late([record])
            return
        self._queue.append(record)
        if (self._idle or len(self._queue) >= self._batch_size) and not self._wake_pending:
            self._wake_now()

    def submit_durable(self, record: StoreItem) -> concurrent.futures.Future[bool]:
        """Submit and wake the writer at once; the future says True once the record is in the
        database, False if it went to the journal instead (the database lagging).

        For what another gateway may need within milliseconds (a tool-call turn's reasoning,
        looked up when the client's next turn lands elsewhere): the caller may wait on it.
        """
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        if self._closed:
            self._write_late([record])
            future.set_result(False)
            return future
        self._waiters[id(record)] = future
        self._queue.append(record)
        self._wake_now()
        return future

    def _wake_now(self) -> None:
        self._wake_pending = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    def _settle(self, batch: Sequence[StoreItem], durable: bool) -> None:
        if not self._waiters:
            return
        for item in batch:
            future = self._waiters.pop(id(item), None)
            if future is not None and not future.done():
                future.set_result(durable)

    # -- the writer thread -----------------------------------------------------------------

    async def _main(self, ready: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        try:
            self.applied = await self._store.open()
            if self._journal_dir.exists():  # what an earlier run could not write
                self._open_journal()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        while not self._stopping:
            # Nothing queued: sleep until a submit comes. Then let the batch fill for the
            # interval (or the backoff while the store is down); a full batch, a durable
            # record or close cut that short.
            self._idle = True
            if self._nothing_to_write():
                await self._sleep(None)
            self._idle = False
            self._wake_pending = False
            if not self._stopping:
                await self._sleep(self._delay_s)
            self._wake_pending = False
            await self._drain()
        if self._spiller is not None:
            self._spiller.cancel()
        await self._final_drain()
        await self._store.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None  # a late straggler that cannot be written opens it again

    def _nothing_to_write(self) -> bool:
        return not self._queue and (self._journal is None or not self._journal.count)

    async def _sleep(self, timeout: float | None) -> None:
        """Until woken or ``timeout`` seconds passed (one timer, no task: the loop wakes
        once per batch, not a handful of times)."""
        wake = self._wake
        assert wake is not None
        if not wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()
        wake.clear()

    def _spill_when_lagging(self) -> None:
        """Start the spiller (the store is down, or a write has been in flight a while)."""
        if self._spiller is None and not self._stopping:
            self._spiller = asyncio.get_running_loop().create_task(self._spill_loop())

    def _open_journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self._journal_dir, self._journal_limit)
            if self._journal.count:
                log.warning(
                    "trace journal %s holds %d trace(s); replaying them when the store answers",
                    self._journal.path, self._journal.count,
                )  # fmt: skip
        return self._journal

    async def _drain(self) -> None:
        assert self._drain_lock is not None
        async with self._drain_lock:
            if self._journal is not None and self._journal.count and not await self._replay():
                return
            while self._queue:
                batch = self._take(self._batch_size)
                if not await self._write(batch):
                    self._queue.extendleft(reversed(batch))  # back at the front, in order
                    return

    def _take(self, n: int) -> list[StoreItem]:
        batch: list[StoreItem] = []
        while self._queue and len(batch) < n:
            batch.append(self._queue.popleft())
        return batch

    async def _replay(self) -> bool:
        assert self._journal is not None
        records, end = self._journal.load()
        for start in range(0, len(records), self._batch_size):
            if not await self._write(records[start : start + self._batch_size]):
                return False  # the rest stays journaled; idempotent writes make a retry safe
        # Only what was loaded: the spiller may have appended more while these were written.
        self._journal.consume(end)
        self.replayed += len(records)
        log.warning("trace store: replayed %d journaled trace(s)", len(records))
        return True

    async def _write(self, batch: Sequence[StoreItem], timeout: float = WRITE_TIMEOUT_S) -> bool:
        """Write one batch; False when the store is unavailable (the caller keeps the batch)."""
        loop = asyncio.get_running_loop()
        self._write_started = loop.time()
        slow = loop.call_later(SLOW_WRITE_S, self._spill_when_lagging)
        traces = [r for r in batch if isinstance(r, TraceRecord)]
        reasoning = [r for r in batch if isinstance(r, ReasoningRecord)]
        responses = [r for r in batch if isinstance(r, ResponseRecord)]
        try:
            async with asyncio.timeout(timeout):
                if reasoning:  # first: a gateway may be waiting for it
                    await self._store.write_reasoning(reasoning)
                if responses:  # so may a client continuing a response on another gateway
                    await self._store.write_responses(responses)
                if traces:
                    await self._store.write(traces)
        except (StoreUnavailable, TimeoutError) as exc:
            self.failed_writes += 1
            if self._up:
                log.warning(
                    "trace store unavailable (%s): traces queue in memory up to %d, then go"
                    " to the journal in %s until it answers", exc, self._queue_limit,
                    self._journal_dir,
                )  # fmt: skip
            self._up = False
            self._delay_s = min(MAX_BACKOFF_S, max(self._delay_s * 2, self._interval_s))
            self._spill_when_lagging()
            return False
        except Exception:  # a trace the database refuses: find it, keep the rest
            if len(batch) == 1:
                self.dropped += 1
                log.exception("trace store refused %r; dropped", batch[0])
                self._settle(batch, False)
                return True
            for record in batch:
                if not await self._write([record], timeout):
                    return False
            return True
        finally:
            self._write_started = None
            slow.cancel()
        self.written += len(traces)
        self.reasoning_written += len(reasoning)
        self._settle(batch, True)
        if not self._up:
            log.warning("trace store is back: writing queued and journaled traces")
        self._up = True
        self._delay_s = self._interval_s
        return True

    async def _spill_loop(self) -> None:
        """Past the bound, spill the oldest, but only when the store lags (down, or a write
        in flight for a while): a burst the next batch absorbs stays in memory. Runs while
        the store lags, from when a write fails or has been in flight ``SLOW_WRITE_S``."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                excess = len(self._queue) - self._queue_limit
                started = self._write_started
                slow = started is not None and loop.time() - started > SLOW_WRITE_S
                if excess > 0 and (not self._up or slow):
                    self._spill(self._take(excess))
                elif self._up and not slow:
                    return  # caught up: the next lag starts it again
        finally:
            self._spiller = None

    def _spill(self, records: list[StoreItem]) -> None:
        if not records:
            return
        try:
            kept = self._open_journal().append(records)
        except OSError:
            log.exception("trace journal in %s is not writable", self._journal_dir)
            kept = 0
        self.journaled += kept
        self._settle(records, False)
        lost = len(records) - kept
        if lost:
            self.dropped += lost
            log.error(
                "trace store: dropped %d trace(s): the queue (%d) and the journal (%d) are full",
                lost, self._queue_limit, self._journal_limit,
            )  # fmt: skip

    async def _final_drain(self) -> None:
        if self._up:
            await self._drain()
        self._spill(self._take(len(self._queue)))  # the store is away: keep them for next run

    def _write_late(self, records: list[StoreItem]) -> None:
        async def once() -> None:
            store = make_store(self.dsn, pool_size=1)
            await store.open()
            try:
                await store.write([r for r in records if isinstance(r, TraceRecord)])
                await store.write_reasoning([r for r in records if isinstance(r, ReasoningRecord)])
                await store.write_responses([r for r in records if isinstance(r, ResponseRecord)])
            finally:
                await store.close()

        outcome: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(once())
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run, name="ponder-trace-late")
        thread.start()
        thread.join()
        if outcome:
            log.warning("trace store: a late trace could not be written (%s)", outcome[0])
            self._spill(records)
        else:
            self.written += sum(isinstance(r, TraceRecord) for r in records)

    # -- control, from any thread ----------------------------------------------------------

    def stats(self) -> WriterStats:
        pending = self._journal.count if self._journal is not None else 0
        return WriterStats(
            up=self._up, queued=len(self._queue), journaled_pending=pending,
            written=self.written, journaled=self.journaled, replayed=self.replayed,
            dropped=self.dropped, failed_writes=self.failed_writes,
        )  # fmt: skip

    def reader(self) -> TraceStore:
        """A new, unopened backend on the same store for reads (open it in the reading loop)."""
        return make_store(self.dsn, pool_size=self.pool_size)

    def flush(self, timeout: float = 30.0) -> None:
        """Try to write everything submitted so far (tests and benchmarks use it)."""
        if self._closed or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._drain(), self._loop).result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write everything submitted so far (or journal it), then stop the thread."""
        if self._closed:
            return
        self._stopping = True
        if self._loop is not None and self._wake is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._wake.set)
        self._thread.join(timeout)
        self._closed = True
        if self._queue:  # submitted while the thread was finishing
            self._write_late(self._take(len(self._queue)))
