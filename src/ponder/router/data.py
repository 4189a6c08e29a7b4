"""Router training data: first attempts from the bench's attempts JSONL.

The bench writes one line per model call (``docs/attempts-schema.md``). The router learns
from **first attempts only**: a retry's prompt carries the verifier's feedback, which a live
request never has. Calls that failed (network, upstream) say nothing about the prompt and
are skipped.

:class:`Outcome` is one (prompt, mode) observation; :class:`Case` pairs a prompt's fast and
deep outcomes, which evaluation needs (the oracle and every policy are scored per case).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from ponder.events import Mode

MODES: tuple[Mode, Mode] = ("fast", "deep")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One first attempt: did ``mode`` answer ``prompt`` correctly, and how long did it take."""

    prompt: str
    mode: Mode
    correct: bool
    e2e_ms: float
    ttfa_ms: float
    # ``suite/template``: held-out splits never share one between train and test.
    template: str
    # ``suite/task_id/seed``: the same prompt under both modes shares a key.
    key: str
    level: int = 0


@dataclass(frozen=True, slots=True)
class ModeResult:
    pass_rate: float
    e2e_ms: float
    ttfa_ms: float

    def cost_ms(self, d_ms: float) -> float:
        """Expected time-to-correct E2E + (1 − p)·D (DESIGN.md)."""
        return self.e2e_ms + (1.0 - self.pass_rate) * d_ms


@dataclass(frozen=True, slots=True)
class Case:
    """A prompt with measured results in both modes."""

    key: str
    prompt: str
    template: str
    level: int
    fast: ModeResult
    deep: ModeResult

    def result(self, mode: Mode) -> ModeResult:
        return self.fast if mode == "fast" else self.deep

    def oracle(self, d_ms: float) -> Mode:
        """The mode with the lower realised expected time-to-correct (fast on a tie)."""
        return "deep" if self.deep.cost_ms(d_ms) < self.fast.cost_ms(d_ms) else "fast"


def outcome_from_row(row: Mapping[str, Any]) -> Outcome | None:
    """The outcome in one attempts-JSONL row, or None when the row is not a usable first try."""
    mode = row.get("mode")
    if mode not in MODES or row.get("error") or int(row.get("attempt", 1)) != 1:
        return None
    meter = row.get("meter") or {}
    e2e = meter.get("e2e_ms")
    if not isinstance(e2e, int | float):
        return None
    ttfa = meter.get("ttfa_ms")
    verdict = row.get("verdict") or {}
    suite = str(row.get("suite", ""))
    return Outcome(
        prompt=str(row["prompt"]),
        mode=mode,
        correct=bool(verdict.get("ok", False)),
        e2e_ms=float(e2e),
        # No answer token at all: the reader waited the whole call.
        ttfa_ms=float(ttfa) if isinstance(ttfa, int | float) else float(e2e),
        template=f"{suite}/{row.get('template', '')}",
        key=f"{suite}/{row.get('task_id', '')}/{row.get('seed', '')}",
        level=int(row.get("level", 0)),
    )


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    """JSON objects of a JSONL file (gzipped when it ends in .gz); torn or blank lines skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def load_outcomes(path: Path | str) -> list[Outcome]:
    outcomes = (outcome_from_row(row) for row in iter_rows(Path(path)))
    return [o for o in outcomes if o is not None]


def pair_cases(outcomes: Iterable[Outcome]) -> list[Case]:
    """Prompts observed in both modes; repeated first attempts are averaged. Sorted by key."""
    grouped: dict[str, dict[Mode, list[Outcome]]] = {}
    for o in outcomes:
        grouped.setdefault(o.key, {}).setdefault(o.mode, []).append(o)
    cases = []
    for key in sorted(grouped):
        by_mode = grouped[key]
        if "fast" not in by_mode or "deep" not in by_mode:
            continue
        first = by_mode["fast"][0]
        cases.append(
            Case(
                key=key,
                prompt=first.prompt,
                template=first.template,
                level=first.level,
                fast=_summarise(by_mode["fast"]),
                deep=_summarise(by_mode["deep"]),
            )
        )
    return cases


def _summarise(outcomes: list[Outcome]) -> ModeResult:
    return ModeResult(
        pass_rate=fmean(1.0 if o.correct else 0.0 for o in outcomes),
        e2e_ms=fmean(o.e2e_ms for o in outcomes),
        ttfa_ms=fmean(o.ttfa_ms for o in outcomes),
    )
