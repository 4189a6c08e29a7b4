"""The attempts JSONL: one line per model call, the learned router's training data.

The schema is documented in ``docs/attempts-schema.md`` and versioned by ``schema``; fields
are only ever added. Reading tolerates a torn last line (a run killed mid-write).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1
ATTEMPTS_FILE = "attempts.jsonl"


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    ok: bool
    reason: str
    extracted: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """Set when the model call itself failed (network, upstream, config), not the answer."""

    side: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    suite: str
    task_id: str
    family: str
    level: int
    template: str
    seed: int
    prompt: str
    model: str
    mode: str
    attempt: int
    k: int
    retry_policy: str
    feedback: str | None
    verdict: VerdictRecord
    thinking: str
    answer: str
    meter: Mapping[str, Any]
    verify_ms: float
    started_at: str
    reference: str | None = None
    route_reason: str | None = None
    error: ErrorRecord | None = None
    # What the attempt cost in USD at the model's price (None: the model has no price).
    cost_usd: float | None = None
    ponder_version: str = ""
    schema: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, int, str]:
        """The (task, model) chain this attempt belongs to."""
        return (self.suite, self.task_id, self.seed, self.model)

    @property
    def e2e_ms(self) -> float:
        value = self.meter.get("e2e_ms")
        return float(value) if isinstance(value, int | float) else 0.0

    @property
    def tokens_spent(self) -> int:
        """Every token generated for this attempt: thoughts and answer as metered, plus what a
        hedge generated and never served (``extra.unserved_tokens``)."""
        total = 0
        for key in ("thinking_tokens", "answer_tokens"):
            value = self.meter.get(key)
            total += int(value) if isinstance(value, int | float) else 0
        unserved = self.extra.get("unserved_tokens")
        return total + (int(unserved) if isinstance(unserved, int | float) else 0)

    @property
    def cancelled_tokens(self) -> int:
        """Tokens the losing side of a hedge had generated (streamed thoughts included)."""
        raw = self.extra.get("cancelled_tokens")
        if not isinstance(raw, Mapping):
            return 0
        return sum(int(v) for v in raw.values() if isinstance(v, int | float))

    @property
    def served_by(self) -> str | None:
        value = self.extra.get("served_by")
        return value if isinstance(value, str) else None

    @property
    def ttfa_ms(self) -> float | None:
        value = self.meter.get("ttfa_ms")
        return float(value) if isinstance(value, int | float) else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptRecord:
        fields = dict(data)
        fields["verdict"] = VerdictRecord(**fields["verdict"])
        error = fields.get("error")
        fields["error"] = ErrorRecord(**error) if error else None
        known = set(cls.__dataclass_fields__)
        extra = {k: v for k, v in fields.items() if k not in known}
        clean = {k: v for k, v in fields.items() if k in known}
        if extra:
            clean["extra"] = {**clean.get("extra", {}), **extra}
        return cls(**clean)


def read_attempts(path: Path) -> list[AttemptRecord]:
    """Every complete record in ``path`` (none when it does not exist)."""
    if not path.exists():
        return []
    records: list[AttemptRecord] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(AttemptRecord.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn line from an interrupted run; that attempt is redone
    return records


class AttemptLog:
    """Appends records, one flushed line each, so a crash loses at most the attempt in flight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def __enter__(self) -> AttemptLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = (
            self.path.exists()
            and self.path.stat().st_size > 0
            and not _ends_with_newline(self.path)
        )
        self._handle = self.path.open("a", encoding="utf-8")
        if torn:
            self._handle.write("\n")  # never glue a new record onto a torn one
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def append(self, record: AttemptRecord) -> None:
        if self._handle is None:
            raise RuntimeError("AttemptLog used outside its with-block")
        self._handle.write(record.to_json() + "\n")
        self._handle.flush()

    def extend(self, records: Iterable[AttemptRecord]) -> None:
        for record in records:
            self.append(record)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"
