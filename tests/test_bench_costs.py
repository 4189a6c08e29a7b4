"""The bench prices correctness: cost per attempt, per task until correct, per correct answer,
expected cost-to-correct with D in dollars and its break-even, on a synthetic attempts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.bench.correct import CorrectSettings, summarize_run
from ponder.bench.records import AttemptLog, AttemptRecord, VerdictRecord, read_attempts
from ponder.bench.stats import break_even_usd, headline, reduce_chains


def attempt(model: str, task: str, n: int, ok: bool, cost: float | None) -> AttemptRecord:
    return AttemptRecord(
        suite="toy", task_id=task, family="toy", level=1, template="t", seed=0,
        prompt="p", model=model, mode="deep" if model == "deep" else "fast", attempt=n, k=3,
        retry_policy="feedback", feedback=None, verdict=VerdictRecord(ok, "r"), thinking="",
        answer="a", meter={"e2e_ms": 10.0, "ttfa_ms": 5.0}, verify_ms=0.0,
        started_at="2026-12-01T00:00:00.000+00:00", cost_usd=cost,
    )  # fmt: skip


def records() -> list[AttemptRecord]:
    # cheap: 4 tasks, $0.001 an attempt; right first time on 2, after a retry on 1, never on 1.
    cheap = [
        attempt("cheap", "a", 1, True, 0.001),
        attempt("cheap", "b", 1, True, 0.001),
        attempt("cheap", "c", 1, False, 0.001),
        attempt("cheap", "c", 2, True, 0.001),
        *(attempt("cheap", "d", n, False, 0.001) for n in (1, 2, 3)),
    ]
    # dear: $0.01 an attempt, right first time on every task.
    dear = [attempt("dear", t, 1, True, 0.01) for t in "abcd"]
    unpriced = [attempt("unpriced", t, 1, True, None) for t in "abcd"]
    return [*cheap, *dear, *unpriced]


def test_cost_per_attempt_task_and_correct_answer() -> None:
    rows = {r.model: r for r in headline(reduce_chains(records()), ["cheap", "dear", "unpriced"])}
    cheap, dear, unpriced = rows["cheap"], rows["dear"], rows["unpriced"]
    assert cheap.cost_per_attempt_usd == pytest.approx(0.001)
    # until correct: a 1, b 1, c 2, d 3 attempts -> 7 attempts over 4 tasks
    assert cheap.cost_per_task_usd == pytest.approx(0.007 / 4)
    assert cheap.cost_per_correct_usd == pytest.approx(0.007 / 3)  # 3 of 4 right
    assert dear.cost_per_correct_usd == pytest.approx(0.01)
    assert cheap.expected_cost_usd(25.0) == pytest.approx(0.007 / 4 + 0.25 * 25.0)
    assert dear.expected_cost_usd(25.0) == pytest.approx(0.01)
    # dear is worth it once a wrong answer costs more than (0.01 - 0.00175) / 0.25 to fix
    assert break_even_usd(cheap, dear) == pytest.approx((0.01 - 0.007 / 4) / 0.25)
    assert unpriced.cost_per_correct_usd is None and unpriced.expected_cost_usd(25.0) is None


def test_run_summary_prints_and_writes_the_costs(tmp_path: Path) -> None:
    with AttemptLog(tmp_path / "attempts.jsonl") as log:
        log.extend(records())
    loaded = read_attempts(tmp_path / "attempts.jsonl")
    assert [r.cost_usd for r in loaded][:2] == [0.001, 0.001]
    settings = CorrectSettings(
        suites=("toy",), models=("cheap", "dear", "unpriced"), out=tmp_path, d_dollars=25.0
    )
    result = summarize_run(loaded, settings, 0)
    header = result.text.splitlines()[0]
    assert "$/correct" in header and "E[$] @ D=$25.00" in header
    lines = {line.split()[0]: line for line in result.text.splitlines()[2:5]}
    assert "$0.0023" in lines["cheap"] and "$0.010" in lines["dear"]
    assert lines["unpriced"].split()[-2:] == ["—", "—"]
    assert "break-even in money: dear beats cheap once a wrong answer costs" in result.text
    csv_text = (tmp_path / "summary.csv").read_text()
    assert "cost_per_correct_usd" in csv_text.splitlines()[0]
    html = (tmp_path / "report.html").read_text()
    assert "Cost per correct answer vs time-to-correct" in html
