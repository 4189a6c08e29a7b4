"""The local journal: traces (and saved reasoning) that could not reach the database wait
here, one JSON object a line.

The writer spills to it when its in-memory queue passes its bound (the database slow or
down) and replays it, then empties it, once a write succeeds again. A journal left by a
process that died is replayed by the next one that takes its slot: each writer holds an
exclusive ``flock`` on its own ``journal-N.jsonl`` in the directory, so two gateways on one
machine never share a file, and a restart finds what the last run left.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

from ponder.store.record import ReasoningRecord, ResponseRecord, TraceRecord

StoreItem = TraceRecord | ReasoningRecord | ResponseRecord
_REASONING = "reasoning"
_RESPONSE = "response"


def _encode(item: StoreItem) -> str:
    if isinstance(item, ReasoningRecord):
        return json.dumps({"kind": _REASONING, **asdict(item)})
    if isinstance(item, ResponseRecord):
        return json.dumps({"kind": _RESPONSE, **asdict(item)})
    return json.dumps(item.to_dict())


def _decode(line: str) -> StoreItem:
    data = json.loads(line)
    kind = data.pop("kind", None)
    if kind == _REASONING:
        return ReasoningRecord(**data)
    if kind == _RESPONSE:
        return ResponseRecord(**data)
    return TraceRecord(**data)

log = logging.getLogger("ponder.store")
JOURNAL_ENV = "PONDER_JOURNAL_DIR"
MAX_SLOTS = 64


def default_journal_dir() -> Path:
    """``$PONDER_JOURNAL_DIR``, else ``$XDG_STATE_HOME/ponder/journal`` (``~/.local/state``)."""
    explicit = os.environ.get(JOURNAL_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ponder" / "journal"


class Journal:
    """An append-only JSONL file of traces, at most ``limit`` of them, locked to this process."""

    def __init__(self, directory: str | Path, limit: int = 100_000) -> None:
        self.directory = Path(directory)
        self.limit = limit
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path, self._file = self._take_slot()
        self.count = sum(1 for line in self._lines() if line.strip())

    def _take_slot(self) -> tuple[Path, IO[str]]:
        for slot in range(MAX_SLOTS):
            path = self.directory / f"journal-{slot}.jsonl"
            handle = path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return path, handle
        raise OSError(f"every journal slot in {self.directory} is held by another process")

    def _lines(self) -> list[str]:
        self._file.seek(0)
        return self._file.read().splitlines()

    def append(self, records: Sequence[StoreItem]) -> int:
        """Append as many of ``records`` as the limit allows (durably); return how many."""
        room = max(0, self.limit - self.count)
        kept = records[:room]
        if not kept:
            return 0
        self._file.seek(0, os.SEEK_END)
        self._file.write("".join(_encode(r) + "\n" for r in kept))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.count += len(kept)
        return len(kept)

    def load(self) -> tuple[list[StoreItem], int]:
        """Everything journaled, and the byte offset it ends at (for :meth:`consume`).

        A torn last line (a crash mid-write) is skipped and logged.
        """
        self._file.seek(0)
        text = self._file.read()
        end = self._file.tell()
        records: list[StoreItem] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(_decode(line))
            except (ValueError, TypeError):
                log.warning("trace journal %s: line %d is not a trace; skipped", self.path, number)
        return records, end

    def consume(self, end: int) -> None:
        """Forget the first ``end`` bytes (traces now written to the store), keeping
        whatever was appended after :meth:`load` read them."""
        self._file.seek(end)
        rest = self._file.read()
        self._file.truncate(0)
        if rest:
            self._file.write(rest)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.count = sum(1 for line in rest.splitlines() if line.strip())

    def close(self) -> None:
        self._file.close()  # closing drops the lock
