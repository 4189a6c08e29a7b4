"""Attempts with feedback retries, the JSONL record, resumption, and the suite registry."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ponder.bench.correct import CorrectSettings, run_correct
from ponder.bench.records import ATTEMPTS_FILE, AttemptRecord, read_attempts
from ponder.bench.registry import available_suites, get_suite, register_suite, unregister_suite
from ponder.config import ModelConfig
from ponder.errors import ConfigError
from ponder.request import ChatRequest
from ponder.tasks import recognise, untrained
from ponder.verify import Judgement, register_verifier, unregister_verifier
from tests.bench_support import FakeProvider, ToySuite, fake_config


@pytest.fixture(autouse=True)
def toy_suite() -> Iterator[None]:
    register_suite("toy", ToySuite)
    yield
    unregister_suite("toy")


def settings(out: Path, **overrides: object) -> CorrectSettings:
    base = CorrectSettings(suites=("toy",), models=("fast", "deep"), out=out, n_per_level=2)
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def run(out: Path, config_options: dict[str, object] | None = None, **overrides: object):  # type: ignore[no-untyped-def]
    return run_correct(
        fake_config(**(config_options or {})),
        settings(out, **overrides),
        progress_stream=io.StringIO(),
    )


def by_chain(records: list[AttemptRecord]) -> dict[tuple[str, str], list[AttemptRecord]]:
    chains: dict[tuple[str, str], list[AttemptRecord]] = {}
    for r in records:
        chains.setdefault((r.task_id, r.model), []).append(r)
    return chains


def test_a_rejected_answer_is_retried_with_the_verifiers_reason(tmp_path: Path) -> None:
    result = run(tmp_path)
    chains = by_chain(result.records)
    first, second = chains[("toy-2-0", "fast")]
    assert not first.verdict.ok and second.verdict.ok
    assert first.feedback is None
    assert second.feedback is not None and first.verdict.reason in second.feedback
    assert [r.attempt for r in chains[("toy-1-0", "fast")]] == [1]  # right first time: stop
    assert all(len(c) == 1 for (_, m), c in chains.items() if m == "deep")


def test_never_correct_uses_all_k_attempts_and_is_censored(tmp_path: Path) -> None:
    result = run(tmp_path, {"never": [1]}, k=3)
    chains = by_chain(result.records)
    assert [r.attempt for r in chains[("toy-1-1", "fast")]] == [1, 2, 3]
    fast = next(s for s in result.headline if s.model == "fast")
    assert fast.pass_at_k == 0.5 and fast.pass_at_1 == 0.0
    assert fast.ttc_p50_ms is not None  # half solved: the median is just observable


def test_independent_policy_runs_k_fresh_samples(tmp_path: Path) -> None:
    result = run(tmp_path, retry_policy="independent", k=2)
    chains = by_chain(result.records)
    assert all(len(c) == 2 for c in chains.values())
    assert all(r.feedback is None for r in result.records)


def test_the_record_carries_what_the_router_trains_on(tmp_path: Path) -> None:
    result = run(tmp_path)
    deep = next(r for r in result.records if r.model == "deep")
    assert deep.mode == "deep" and deep.thinking.startswith("Adding")
    assert deep.answer.startswith("The answer is")
    assert deep.suite == "toy" and deep.level in (1, 2) and deep.template == "plain"
    assert deep.prompt.startswith("L") and deep.seed == 0
    for key in ("ttft_ms", "ttfa_ms", "e2e_ms", "thinking_tokens", "answer_tokens"):
        assert key in deep.meter
    assert deep.meter["tokens_estimated"] is True
    assert deep.meter["ttfa_ms"] >= deep.meter["ttft_ms"]
    on_disk = read_attempts(tmp_path / ATTEMPTS_FILE)
    assert on_disk == result.records


def test_interleave_runs_task_by_task_across_the_models(tmp_path: Path) -> None:
    run(tmp_path, interleave=True)
    order = [(r.task_id, r.model) for r in read_attempts(tmp_path / ATTEMPTS_FILE)]
    tasks_in_order = list(dict.fromkeys(task for task, _ in order))
    assert len(tasks_in_order) > 1
    # Every task's chains (fast's, then deep's) finish before the next task starts.
    assert [t for t, _ in order] == sorted([t for t, _ in order], key=tasks_in_order.index)
    assert {m for t, m in order if t == tasks_in_order[0]} == {"fast", "deep"}


def test_rerun_skips_finished_attempts(tmp_path: Path) -> None:
    first = run(tmp_path)
    calls = FakeProvider.calls
    again = run(tmp_path)
    assert FakeProvider.calls == calls
    assert again.new_attempts == 0
    assert again.records == first.records


def test_rerun_resumes_an_interrupted_run(tmp_path: Path) -> None:
    full = run(tmp_path / "full")
    log = tmp_path / "part" / ATTEMPTS_FILE
    log.parent.mkdir()
    lines = (tmp_path / "full" / ATTEMPTS_FILE).read_text().splitlines(keepends=True)
    # keep the first attempt of the retried chain, drop the rest, and tear the next line
    keep = lines[:3]
    log.write_text("".join(keep) + lines[3][:40])
    calls = FakeProvider.calls
    resumed = run(tmp_path / "part")
    assert resumed.new_attempts == len(lines) - 3
    assert FakeProvider.calls - calls == len(lines) - 3
    assert {(r.task_id, r.model, r.attempt, r.verdict.ok) for r in resumed.records} == {
        (r.task_id, r.model, r.attempt, r.verdict.ok) for r in full.records
    }


def test_raising_k_extends_only_unsolved_chains(tmp_path: Path) -> None:
    run(tmp_path, {"never": [1]}, k=1)
    more = run(tmp_path, {"never": [1]}, k=2)
    # only the fast level-1 and level-2 chains failed at k=1
    assert more.new_attempts == 4


def test_a_failed_model_call_is_recorded_and_scored_wrong(tmp_path: Path) -> None:
    from ponder.config import Config, ModelConfig

    broken = ModelConfig("broken", "scripted", options={"script": [["raise", "overloaded"]]})
    config = Config(models={"broken": broken, "nokind": ModelConfig("nokind", "no-such-kind")})
    with pytest.raises(ConfigError):
        run_correct(config, settings(tmp_path, models=("missing",)))
    with pytest.raises(ConfigError, match="no-such-kind"):
        run_correct(config, settings(tmp_path, models=("nokind",)), show_progress=False)
    result = run_correct(config, settings(tmp_path, models=("broken",), k=1), show_progress=False)
    assert result.records and all(not r.verdict.ok for r in result.records)
    assert all(r.error is not None and r.error.side == "upstream" for r in result.records)
    assert "failed" in result.records[0].verdict.reason


def test_suites_resolve_by_name_and_unknown_names_list_the_choices() -> None:
    assert {"arith", "ledger", "sql", "code", "toy"} <= set(available_suites())
    assert get_suite("toy").name == "toy"
    with pytest.raises(ConfigError, match="Available suites"):
        get_suite("nope")


def test_schema_doc_names_every_record_field() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "attempts-schema.md").read_text()
    for field in dataclasses.fields(AttemptRecord):
        assert f"`{field.name}`" in doc, field.name
    for key in (
        "ttft_ms",
        "ttfa_ms",
        "e2e_ms",
        "thinking_tokens",
        "answer_tokens",
        "tokens_estimated",
    ):
        assert f"`{key}`" in doc, key


def test_embedded_suites_retry_without_leaking_the_answer(tmp_path: Path) -> None:
    for name in ("arith", "ledger"):
        suite = get_suite(name)
        tasks = suite.generate(2, 0, tmp_path)
        assert {t.level for t in tasks} == set(suite.levels())
        task = tasks[-1]
        gold = str(task.data["answer"])
        assert suite.verify(task, gold).ok
        wrong = suite.verify(task, "0" if name == "arith" else "nobody")
        assert not wrong.ok
        message = suite.retry_prompt(task, wrong)  # type: ignore[attr-defined]
        assert message.startswith(task.prompt)
        assert gold not in message.replace(task.prompt, "")
        # the embedded model still recognises the question (it would refuse otherwise)
        for t in tasks:
            assert recognise(suite.retry_prompt(t, wrong)) == name  # type: ignore[attr-defined]
            assert untrained(suite.retry_prompt(t, wrong)) is None  # type: ignore[attr-defined]


class _ToySum:
    """Judges the toy suite's A+B for a hedge, from the first user message."""

    name: ClassVar[str] = "toy-sum"
    request_options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return True

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        return None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        a, b = (int(x) for x in re.findall(r"(\d+)\+(\d+)", request.messages[0].content)[0])
        got = re.findall(r"\d+", answer)
        return Judgement(bool(got) and int(got[-1]) == a + b, "checked the sum")


def test_a_hedge_is_benched_like_any_model_with_its_lanes_tokens(tmp_path: Path) -> None:
    register_verifier("toy-sum", _ToySum)
    try:
        base = fake_config()
        hedge = ModelConfig("hedge", "hedge", options={"verifier": "toy-sum"})
        config = dataclasses.replace(base, models={**base.models, "hedge": hedge})
        result = run_correct(
            config, settings(tmp_path, models=("fast", "deep", "hedge")),
            progress_stream=io.StringIO(),
        )  # fmt: skip
    finally:
        unregister_verifier("toy-sum")
    hedged = [r for r in result.records if r.model == "hedge"]
    assert all(r.verdict.ok and r.attempt == 1 for r in hedged)  # never a rejected answer
    by_level = {level: [r for r in hedged if r.level == level] for level in (1, 2)}
    assert {r.served_by for r in by_level[1]} == {"fast"}  # fast is right on level 1
    assert {r.served_by for r in by_level[2]} == {"deep"}  # and wrong first on level 2
    assert all(r.extra["unserved_tokens"] > 0 for r in by_level[2])  # fast's, spent unseen
    assert all(r.tokens_spent > r.meter["thinking_tokens"] + r.meter["answer_tokens"]
               for r in by_level[2])  # fmt: skip
    row = next(s for s in result.levels if s.model == "hedge" and s.level == "2")
    assert row.served_by == (("deep", 1.0),) and row.tokens_mean > 0
    assert "served by" in result.text and "deep 50%, fast 50%" in result.text
