"""The learned router: features, fitting, persistence, decisions, evaluation, shipped default."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.config import parse_config
from ponder.errors import ConfigError
from ponder.request import ChatRequest, ThinkingSettings
from ponder.router.data import Case, ModeResult, Outcome, load_outcomes, pair_cases
from ponder.router.default import load_default_router, shipped_router_path
from ponder.router.evaluate import (
    Policy,
    apgr,
    cpt,
    evaluate,
    format_report,
    pgr_curve,
    score_policy,
    template_folds,
)
from ponder.router.features import STRUCTURE, Featurizer, clip
from ponder.router.latency import LatencyTracker
from ponder.router.learned import Estimate, LearnedRouter, LinearScorer, choose
from ponder.router.rules import RuleRouter
from ponder.router.train import fit_scorer
from tests.router_synthetic import write_synthetic

D_MS = 15 * 60_000.0
quick_fit = partial(fit_scorer, c_grid=(1.0,))


@pytest.fixture(scope="module")
def attempts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("router") / "attempts.jsonl", n_per_level=4)


@pytest.fixture(scope="module")
def outcomes(attempts: Path) -> list[Outcome]:
    return load_outcomes(attempts)


@pytest.fixture(scope="module")
def scorer(outcomes: list[Outcome]) -> LinearScorer:
    return quick_fit(outcomes)


# --- features -------------------------------------------------------------------------------


def test_features_see_number_shapes_not_values() -> None:
    f = Featurizer()
    a_cols, a_vals = f.transform("What is 4821 × 37?")
    b_cols, b_vals = f.transform("What is 9134 × 52?")
    assert a_cols.tolist() == b_cols.tolist()
    differ = [STRUCTURE[i] for i, (a, b) in enumerate(
        zip(a_vals[-len(STRUCTURE):], b_vals[-len(STRUCTURE):], strict=True)) if a != b]
    assert differ == ["carries"]  # 4821 × 37 has 5 carrying digit pairs, 9134 × 52 has 4
    c_cols, _ = f.transform("What is 48 × 3?")
    assert c_cols.tolist() != a_cols.tolist()


def test_expression_shape_is_shared_across_phrasings() -> None:
    f = Featurizer()
    for text in ("What is 4821 × 37?", "4821*37", "How much is 4821 times 37?"):
        assert "x:4*2" in f.tokens(text)


def test_structure_columns_measure_the_prompt() -> None:
    f = Featurizer()
    cols, vals = f.transform("```py\nx = 1\n```\nWhat is 12345 + 678? Answer exactly.")
    assert cols.min() >= 0 and cols.max() < f.dim
    assert len(cols) == len(set(cols.tolist()))
    structure = dict(zip(STRUCTURE, vals[-len(STRUCTURE):].tolist(), strict=True))
    assert structure["code_fences"] == 1
    assert structure["max_operand_digits"] == 5
    assert structure["add_sub_digits"] == 5 and structure["mul_div_digits"] == 0
    assert structure["carries"] == 3  # 12345 + 678: 5+8, 4+7+1, 3+6+1
    assert structure["constraint_words"] >= 1
    assert f.tokens("hi").count("rule:" + RuleRouter.categorise("hi")) == 1


def test_featurizer_params_round_trip_and_reject_other_structure() -> None:
    f = Featurizer(hash_bits=12, char_ngrams=(3,))
    assert Featurizer.from_params(f.params()) == f
    bad = {**f.params(), "structure": ["something_else"]}
    with pytest.raises(ValueError):
        Featurizer.from_params(bad)


def test_features_are_cheap() -> None:
    f = Featurizer()
    prompts = ["What is 4821 × 37?", "hello there", "Orders: ann 12, bob 40, cy 7. Refunds: bob 40."
               " Who is the top spender, excluding customers who refunded more than half?"]
    times = []
    for _ in range(200):
        for p in prompts:
            start = time.perf_counter()
            f.transform(p)
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 1e-3


# --- fit, save, load --------------------------------------------------------------------------


def test_fit_learns_that_big_operands_need_deep(scorer: LinearScorer) -> None:
    easy = scorer.estimate("What is 7 * 8? Reply with the number only.")
    hard = scorer.estimate("What is 734521 * 918273? Reply with the number only.")
    assert easy.p_fast > 0.7 and hard.p_fast < 0.3
    assert hard.p_deep > 0.8
    assert hard.e2e_deep_ms > easy.e2e_deep_ms > easy.e2e_fast_ms


def test_save_load_round_trip_is_json_and_exact(scorer: LinearScorer, tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    scorer.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "ponder.router/linear" and set(data["heads"]) >= {"p_fast", "p_deep"}
    loaded = LinearScorer.load(path)
    for text in ("Compute 123 × 456.", "What is 3 * 4?", "hello"):
        a, b = scorer.estimate(text), loaded.estimate(text)
        assert a.p_fast == pytest.approx(b.p_fast, rel=1e-4)
        assert a.p_deep == pytest.approx(b.p_deep, rel=1e-4)
        assert a.e2e_deep_ms == pytest.approx(b.e2e_deep_ms, rel=1e-4)


def test_load_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "pickle", "version": 1}))
    with pytest.raises(ValueError):
        LinearScorer.load(path)


def test_fit_needs_both_modes(outcomes: list[Outcome]) -> None:
    with pytest.raises(ValueError, match="deep"):
        quick_fit([o for o in outcomes if o.mode == "fast"])


# --- decisions --------------------------------------------------------------------------------


def _estimate(p_fast: float, p_deep: float, ttfa_deep: float = 3000.0) -> Estimate:
    return Estimate(p_fast, p_deep, 300.0, 4000.0, 50.0, ttfa_deep)


class FixedScorer:
    def __init__(self, estimate: Estimate) -> None:
        self.value = estimate

    def estimate(self, text: str, category: str | None = None) -> Estimate:
        return self.value


def test_choose_minimises_expected_time_to_correct() -> None:
    mode, reason = choose(_estimate(0.31, 0.97), D_MS)
    assert mode == "deep" and reason.startswith("P(fast correct) 0.31 → deep")
    assert choose(_estimate(0.999, 0.999), D_MS)[0] == "fast"  # same odds: the quicker one
    # A cheap wrong answer (D small) makes fast worth it even at lower odds.
    assert choose(_estimate(0.8, 0.97), 1_000.0)[0] == "fast"


def test_decision_respects_latency_budget() -> None:
    router = LearnedRouter(FixedScorer(_estimate(0.1, 0.95, ttfa_deep=3000.0)))
    assert router.decide(ChatRequest.from_prompt("What is 4821 × 37?")).mode == "deep"
    tight = router.decide(ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=500))
    assert tight.mode == "fast" and "latency budget 500 ms" in tight.reason
    roomy = router.decide(ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=10_000))
    assert roomy.mode == "deep"
    assert tight.estimates is not None and set(tight.estimates) >= {
        "p_fast", "p_deep", "e2e_fast_ms", "e2e_deep_ms"}


def test_live_latency_can_rule_out_deep() -> None:
    tracker = LatencyTracker({"deep": 100.0})
    router = LearnedRouter(FixedScorer(_estimate(0.1, 0.95, ttfa_deep=200.0)), latency=tracker)
    request = ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=1000)
    assert router.decide(request).mode == "deep"  # configured default: the estimate decides
    tracker.seed([("deep", 5000.0)] * 5)
    assert router.decide(request).mode == "fast"  # real requests were slower than the budget


def test_explicit_intent_and_client_switch_override_the_model() -> None:
    router = LearnedRouter(FixedScorer(_estimate(0.99, 0.99)))
    asked = router.decide(ChatRequest.from_prompt("Think step by step: what is 2 + 2?"))
    assert asked.mode == "deep" and "think" in asked.reason
    rushed = LearnedRouter(FixedScorer(_estimate(0.1, 0.95))).decide(
        ChatRequest.from_prompt("Quick answer: what is 4821 × 37?"))
    assert rushed.mode == "fast"
    off = ChatRequest.from_prompt("What is 4821 × 37?", thinking=ThinkingSettings(enabled=False))
    assert LearnedRouter(FixedScorer(_estimate(0.1, 0.95))).decide(off).mode == "fast"
    on = ChatRequest.from_prompt("hi", thinking=ThinkingSettings(enabled=True))
    assert router.decide(on).mode == "deep"
    budget = ChatRequest.from_prompt("Think step by step: 2 + 2?", max_ttfa_ms=10)
    assert router.decide(budget).mode == "fast"


# --- evaluation -------------------------------------------------------------------------------


def _case(key: str, fast: float, deep: float, template: str = "t") -> Case:
    return Case(key, key, template, 1, ModeResult(fast, 1000.0, 100.0),
                ModeResult(deep, 5000.0, 4000.0))


HAND = [
    _case("a", 0.0, 1.0), _case("b", 0.0, 1.0), _case("c", 1.0, 1.0), _case("d", 1.0, 0.0),
]


def test_pgr_curve_apgr_and_cpt_on_a_hand_made_set() -> None:
    # fast passes 2/4, deep 3/4: a gap of one prompt's worth (0.25).
    xs, ys = pgr_curve(HAND, [4.0, 3.0, 2.0, 1.0])
    assert xs == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ys == [0.0, 1.0, 2.0, 2.0, 1.0]
    assert apgr(xs, ys) == pytest.approx((0.5 + 1.5 + 2.0 + 1.5) / 4)
    assert cpt(xs, ys, 0.5) == pytest.approx(0.125)
    assert cpt(xs, ys, 0.8) == pytest.approx(0.2)
    # All tied = random order in expectation: PGR grows linearly, APGR 0.5.
    xs, ys = pgr_curve(HAND, [0.0] * 4)
    assert apgr(xs, ys) == pytest.approx(0.5)
    assert cpt(xs, ys, 0.8) == pytest.approx(0.8)


def test_score_policy_accuracy_pass_rate_and_expected_time() -> None:
    oracle = [c.oracle(D_MS) for c in HAND]
    assert oracle == ["deep", "deep", "fast", "fast"]
    row = score_policy(Policy("oracle", [1, 1, 0, 0], [1, 1, 0, 0]), HAND, D_MS)
    assert row.accuracy == 1.0 and row.deep_share == 0.5 and row.pass_rate == 1.0
    assert row.ettc_ms == pytest.approx((5000 + 5000 + 1000 + 1000) / 4)
    fast = score_policy(Policy("always-fast", [0] * 4, None), HAND, D_MS)
    assert fast.accuracy == 0.5 and fast.apgr is None
    assert fast.ettc_ms == pytest.approx(1000 + D_MS / 2)
    half = score_policy(Policy("random", [0.5] * 4, [0.0] * 4), HAND, D_MS)
    assert half.accuracy == 0.5 and half.apgr == pytest.approx(0.5)


def test_template_folds_never_leak_templates() -> None:
    templates = [f"arith/t{i}" for i in range(7)] * 3
    folds = template_folds(templates, k=5, seed=1)
    assert set().union(*folds) == set(templates)
    assert sum(len(f) for f in folds) == 7  # disjoint
    with pytest.raises(ValueError):
        template_folds(["only"] * 4)


def test_evaluate_trains_each_fold_without_its_test_templates(outcomes: list[Outcome]) -> None:
    seen: list[set[str]] = []

    def spy(train: Sequence[Outcome]) -> LinearScorer:
        seen.append({o.template for o in train})
        return quick_fit(train)

    report = evaluate(outcomes, fit=spy, k=3, knn=False)
    all_templates = {o.template for o in outcomes}
    assert len(seen) == 3
    held_out = [all_templates - s for s in seen]
    assert all(held_out) and set().union(*held_out) == all_templates
    assert sum(len(h) for h in held_out) == len(all_templates)
    names = [r.name for r in report.rows]
    assert names[:2] == ["learned", "length-only"] and "oracle" in names
    learned, oracle = report.row("learned"), report.row("oracle")
    assert learned.apgr is not None and learned.apgr > 0.55  # well above random's 0.5
    assert learned.ettc_ms < report.row("always-fast").ettc_ms
    assert oracle.ettc_ms <= min(r.ettc_ms for r in report.rows)
    text = format_report(report)
    assert "APGR" in text and "oracle" in text


def test_pair_cases_uses_first_attempts_and_both_modes(attempts: Path) -> None:
    rows = [json.loads(line) for line in attempts.read_text().splitlines()]
    rows.append({**rows[0], "attempt": 2, "prompt": "retry with feedback"})
    rows.append({**rows[0], "error": {"side": "upstream", "code": "x", "message": "down"}})
    rows.append({**rows[0], "task_id": "lonely"})
    path = attempts.parent / "extra.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn": ')
    outcomes = load_outcomes(path)
    assert all(o.prompt != "retry with feedback" for o in outcomes)
    cases = pair_cases(outcomes)
    assert len(cases) == len(rows[:-3]) // 2
    assert all("lonely" not in c.key for c in cases)


# --- default router and CLI -------------------------------------------------------------------


def test_default_router_follows_config(scorer: LinearScorer, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    scorer.save(path)
    learned = load_default_router(parse_config({"router": {"path": str(path), "D_minutes": 1}}))
    assert isinstance(learned, LearnedRouter) and learned.d_ms == 60_000.0
    assert isinstance(load_default_router(parse_config({"router": {"kind": "rules"}})), RuleRouter)
    with pytest.raises(ConfigError):
        load_default_router(parse_config({"router": {"path": str(tmp_path / "missing.json")}}))


def test_shipped_default_loads_and_routes_by_the_data() -> None:
    assert shipped_router_path() is not None
    router = load_default_router(parse_config({}))
    assert isinstance(router, LearnedRouter)
    hard = router.decide(ChatRequest.from_prompt("What is 4821 × 37?"))
    assert hard.mode == "deep" and hard.reason.startswith("P(fast correct)")
    # The embedded model's fast mode gets about 2 in 3 two-digit sums right (its bench data)
    # and almost no products, while deep's scratchpad is nearly always right: the estimates
    # say so, and with D = 15 min even easy arithmetic is worth 25 ms of thinking.
    easy = router.decide(ChatRequest.from_prompt("What is 23 + 45?"))
    assert easy.mode == "deep" and easy.estimates is not None and hard.estimates is not None
    assert easy.estimates["p_fast"] > 0.3 > 0.05 > hard.estimates["p_fast"]
    assert min(easy.estimates["p_deep"], hard.estimates["p_deep"]) > 0.9
    # Easy ledger questions: fast is right about half the time, so P(fast correct) is far from 0.
    ledger = router.decide(ChatRequest.from_prompt(
        "Orders: ann 30, bob 12, ann 7. Refunds: bob 12. Who is the top spender, excluding "
        "customers who refunded more than half of their orders?"))
    assert ledger.estimates is not None and ledger.estimates["p_fast"] > 0.3
    # Outside its data (small talk, general facts) the rules decide, and say so.
    chat = router.decide(ChatRequest.from_prompt("hello there!"))
    assert chat.mode == "fast" and "(rules:" in chat.reason
    fact = router.decide(ChatRequest.from_prompt("What is the capital of France?"))
    assert fact.mode == "fast" and "(rules:" in fact.reason


def test_cli_fit_eval_route(attempts: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.json"
    assert main(["router", "fit", "--from", str(attempts), "--out", str(out)]) == 0
    assert out.is_file() and "saved" in capsys.readouterr().out
    assert main(["router", "eval", "--from", str(attempts), "--router", str(out),
                 "--folds", "3", "--no-knn"]) == 0
    table = capsys.readouterr().out
    assert "learned" in table and "always-deep" in table and "held-out by template" in table
    assert main(["router", "route", "What is 734521 * 918273?", "--router", str(out)]) == 0
    assert capsys.readouterr().out.startswith("deep: P(fast correct)")
    assert main(["router", "fit", "--from", str(tmp_path / "nope.jsonl")]) == 1


def test_configured_ttfa_replaces_the_estimate(scorer: LinearScorer, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    scorer.save(path)
    config = parse_config({"router": {"path": str(path), "deep_ttfa_ms": 250}})
    request = ChatRequest.from_prompt("What is 734521 * 918273?", max_ttfa_ms=300)
    decision = load_default_router(config).decide(request)
    assert decision.mode == "deep"
    assert decision.estimates is not None and decision.estimates["ttfa_deep_ms"] == 250


def test_long_prompts_are_read_as_head_and_tail() -> None:
    f = Featurizer(max_chars=100)
    text = "Refactor this. " + "filler words here " * 2000 + " What is 4821 × 37?"
    assert clip(text, 100).startswith("Refactor") and clip(text, 100).endswith("× 37?")
    assert len(clip(text, 100)) <= 101
    cols, vals = f.transform(text)
    log_chars = vals[len(cols) - len(STRUCTURE)]  # the full length, not the clipped one
    assert log_chars == pytest.approx(math.log1p(len(text)))


def test_prompts_unlike_the_training_data_are_routed_by_the_rules(scorer: LinearScorer) -> None:
    assert set(scorer.meta["domain"]["categories"]) >= {"arithmetic"}
    router = LearnedRouter(scorer)
    chat = router.decide(ChatRequest.from_prompt("hello there!"))
    assert chat.mode == "fast" and "small talk" in chat.reason and "(rules:" in chat.reason
    code = router.decide(ChatRequest.from_prompt("Refactor this class to use dataclasses"))
    assert code.mode == "deep" and "(rules:" in code.reason
    _, coverage = scorer.assess("Multiply 4821 by 37 and give the product.")
    assert coverage > 0.9
    maths = router.decide(ChatRequest.from_prompt("Multiply 4821 by 37 and give the product."))
    assert maths.reason.startswith("P(fast correct)")
