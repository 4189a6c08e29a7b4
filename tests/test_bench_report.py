"""Outputs of a small run: headline table, CSV summary, self-contained HTML report, CLI."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from ponder.bench.correct import CorrectSettings, run_correct
from ponder.bench.outputs import break_even_lines
from ponder.bench.registry import register_suite, unregister_suite
from ponder.bench.stats import Summary
from ponder.bench.strength import CODE_MUTATION, SQL_MUTATION
from ponder.cli import main
from tests.bench_support import ToySuite, fake_config


@pytest.fixture(autouse=True)
def toy_suite() -> Iterator[None]:
    register_suite("toy", ToySuite)
    yield
    unregister_suite("toy")


def test_small_run_writes_csv_and_a_self_contained_report(tmp_path: Path) -> None:
    result = run_correct(
        fake_config(never=[1]),
        CorrectSettings(suites=("toy",), models=("fast", "deep"), out=tmp_path, n_per_level=2),
        progress_stream=io.StringIO(),
    )
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    overall = {r["model"]: r for r in rows if r["suite"] == "all"}
    assert set(overall) == {"fast", "deep"}
    assert float(overall["deep"]["pass_at_1"]) == 1.0
    assert float(overall["fast"]["pass_at_k"]) == 0.5
    assert {(r["suite"], r["level"]) for r in rows if r["suite"] != "all"} == {
        ("toy", "1"),
        ("toy", "2"),
    }
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3
    for title in ("TTFA vs pass rate", "Time-to-correct CDF", "Expected time-to-correct"):
        assert title in html
    # self-contained: no external scripts, styles, images or fonts
    assert not re.search(r"(src|href)\s*=", html)
    assert "<script" not in html and "@import" not in html
    assert "pass@1" in result.text and "fast" in result.text
    assert "Why answers were rejected" in html and "is not the sum" in html


def test_break_even_is_reported_when_the_slow_mode_is_more_accurate(tmp_path: Path) -> None:
    config = fake_config(never=[1, 2])
    result = run_correct(
        config,
        CorrectSettings(suites=("toy",), models=("fast", "deep"), out=tmp_path, n_per_level=1, k=1),
        progress_stream=io.StringIO(),
    )
    assert set(result.break_even_s) == {"fast"} or set(result.break_even_s) == {"deep"}
    assert "break-even" in result.text
    assert "break-even" in (tmp_path / "report.html").read_text()


def test_cli_runs_the_bench_and_prints_the_headline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ponder.toml"
    config.write_text(
        '[models.fast]\nprovider = "fake"\nthinking = { enabled = false }\nwrong_first = [2]\n'
        '[models.deep]\nprovider = "fake"\nthinking = { enabled = true }\n'
    )
    out = tmp_path / "run"
    argv = [
        "--config",
        str(config),
        "bench",
        "correct",
        "--suite",
        "toy",
        "--models",
        "fast,deep",
        "-k",
        "2",
        "--n-per-level",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pass@2" in printed and "E[TTC]" in printed
    assert (out / "attempts.jsonl").exists() and (out / "report.html").exists()
    assert main([*argv[:-3], "--out", str(out), "--report-only"]) == 0
    assert "pass@2" in capsys.readouterr().out


def test_cli_lists_the_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "correct", "--list-suites"]) == 0
    listed = capsys.readouterr().out
    for name in ("arith", "ledger", "sql", "code", "toy"):
        assert name in listed



def test_a_mode_that_never_wins_says_why() -> None:
    # deep spends less machine time per task (fast retried its wrong answers) and is more
    # accurate: fast has no break-even against it, and the line gives both reasons.
    deep = SimpleNamespace(model="deep", spent_mean_ms=50.0)
    fast = SimpleNamespace(model="fast", spent_mean_ms=60.0)
    rows = cast("list[Summary]", [deep, fast])
    assert break_even_lines(rows, {"fast": None}) == [
        "break-even: fast never beats deep: it is no more accurate, and deep spends less"
        " machine time per task (tries included)."
    ]


def test_the_report_says_how_each_suite_judges_and_how_strong_it_measured(
    tmp_path: Path,
) -> None:
    run_correct(
        fake_config(),
        CorrectSettings(
            suites=("toy", "sql", "code"), models=("fast",), out=tmp_path, n_per_level=1, k=1
        ),
        progress_stream=io.StringIO(),
    )
    html = (tmp_path / "report.html").read_text()
    section = html.split("How answers are judged</h2>", 1)[1].split("<h2>", 1)[0]
    rows = re.findall(r"<tr><td>(\w+)</td><td>([^<]*)</td></tr>", section)
    judged = dict(rows)
    assert list(judged) == ["toy", "sql", "code"]
    assert judged["toy"] == "not stated by the suite"
    assert judged["sql"].startswith("test-suite accuracy: the query&#x27;s rows must match")
    assert f"sqlite: {SQL_MUTATION['sqlite'].text()}" in judged["sql"]
    assert f"duckdb: {SQL_MUTATION['duckdb'].text()}" in judged["sql"]
    assert judged["code"].endswith(f"Mutation score: {CODE_MUTATION.text()}.")
    assert "714/714 non-equivalent mutants rejected" in judged["sql"]
