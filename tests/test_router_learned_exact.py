"""The learned router's arithmetic on hand-built models whose every estimate is known: the
links and their clips, coverage and the domain check, the JSON round trip, the expected-time
choice at its boundaries, and the overrides with their reasons word for word."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ponder.request import ChatRequest, ThinkingSettings
from ponder.router.features import Featurizer
from ponder.router.latency import LatencyTracker
from ponder.router.learned import (
    HEADS,
    Estimate,
    Head,
    LearnedRouter,
    LinearScorer,
    _human,
    choose,
)

FEATURIZER = Featurizer(hash_bits=6)
NONE = np.zeros(0, dtype=np.int64)


def head(link: str, z: float, clip: tuple[float, float] | None = None,
         columns: list[int] | None = None, weights: list[float] | None = None) -> Head:
    return Head(link, z, np.asarray(columns or [], dtype=np.int64),
                np.asarray(weights or [], dtype=np.float64), clip)


def scorer(meta: dict[str, Any] | None = None, **heads: Head) -> LinearScorer:
    """Intercept-only heads: P(fast) 0.5, P(deep) 0.9, E2E 100/2000 ms, TTFA 50/1500 ms."""
    base = {
        "p_fast": head("logit", 0.0),
        "p_deep": head("logit", math.log(9)),
        "e2e_fast_ms": head("log", math.log(100)),
        "e2e_deep_ms": head("log", math.log(2000)),
        "ttfa_fast_ms": head("log", math.log(50)),
        "ttfa_deep_ms": head("log", math.log(1500)),
    }
    return LinearScorer(FEATURIZER, {**base, **heads}, meta)


def test_intercepts_through_their_links() -> None:
    estimate, _ = scorer().assess("hello")
    assert estimate.p_fast == pytest.approx(0.5)
    assert estimate.p_deep == pytest.approx(0.9)
    assert (estimate.e2e_fast_ms, estimate.e2e_deep_ms) == (pytest.approx(100), pytest.approx(2000))
    assert (estimate.ttfa_fast_ms, estimate.ttfa_deep_ms) == (pytest.approx(50),
                                                              pytest.approx(1500))
    assert scorer().estimate("hello") == estimate


def test_links_are_clipped_before_and_after() -> None:
    hot = scorer(p_fast=head("logit", 100.0), p_deep=head("logit", -100.0),
                 e2e_fast_ms=head("log", 50.0), e2e_deep_ms=head("log", -50.0))
    e = hot.estimate("x")
    assert e.p_fast == 1.0 / (1.0 + math.exp(-30.0))
    assert e.p_deep == 1.0 / (1.0 + math.exp(30.0))
    assert e.e2e_fast_ms == pytest.approx(math.exp(20.0), rel=1e-12)
    assert e.e2e_deep_ms == pytest.approx(math.exp(-20.0), rel=1e-12)
    # A head's own clip is the range latencies were seen in.
    ranged = scorer(ttfa_fast_ms=head("log", math.log(1), clip=(10.0, 1000.0)),
                    ttfa_deep_ms=head("log", math.log(5000), clip=(10.0, 1000.0)))
    r = ranged.estimate("x")
    assert (r.ttfa_fast_ms, r.ttfa_deep_ms) == (10.0, 1000.0)
    assert r.e2e_fast_ms == pytest.approx(100)  # unclipped heads keep their value


def test_weights_on_the_prompts_columns() -> None:
    columns, _ = FEATURIZER.transform("What is 2+2?")
    hashed = [int(c) for c in columns if c < FEATURIZER.hash_dim]
    s = scorer(p_fast=head("logit", 0.0, columns=[hashed[0]], weights=[math.log(3)]))
    estimate, coverage = s.assess("What is 2+2?")
    assert estimate.p_fast == pytest.approx(0.75)
    # One of the prompt's hashed features is known (structure columns do not count).
    assert coverage == pytest.approx(1 / len(hashed))
    assert scorer().assess("What is 2+2?")[1] == 0.0


def test_construction_refuses_missing_heads_and_stray_columns() -> None:
    heads = {name: head("log", 0.0) for name in HEADS if name not in ("p_fast", "e2e_deep_ms")}
    with pytest.raises(ValueError, match=r"^router model lacks heads: e2e_deep_ms, p_fast$"):
        LinearScorer(FEATURIZER, heads)
    stray = r"^head p_deep has columns outside the feature space$"
    for bad in ([-1], [FEATURIZER.dim], [0, FEATURIZER.dim + 5]):
        with pytest.raises(ValueError, match=stray):
            scorer(p_deep=head("logit", 0.0, columns=bad, weights=[1.0] * len(bad)))
    edge = scorer(p_deep=head("logit", 0.0, columns=[0, FEATURIZER.dim - 1], weights=[1.0, 1.0]))
    assert edge.heads["p_deep"].columns.tolist() == [0, FEATURIZER.dim - 1]


@pytest.mark.parametrize(
    ("meta", "category", "coverage", "inside"),
    [
        (None, "chat", 0.0, True),
        ({"domain": "all"}, "chat", 0.0, True),
        ({"domain": {"categories": ["arithmetic"]}}, "chat", 1.0, False),
        ({"domain": {"categories": ["arithmetic"]}}, "arithmetic", 0.0, True),
        ({"domain": {"min_coverage": 0.5}}, "chat", 0.5, True),
        ({"domain": {"min_coverage": 0.5}}, "chat", 0.49, False),
        ({"domain": {"categories": "any"}}, "chat", 0.0, True),
    ],
)
def test_in_domain(meta: dict[str, Any] | None, category: str, coverage: float,
                   inside: bool) -> None:
    assert scorer(meta).in_domain(category, coverage) is inside


def test_json_round_trip_keeps_links_clips_and_meta(tmp_path: Path) -> None:
    s = scorer({"domain": {"min_coverage": 0.1}, "trained_on": "x"},
               ttfa_deep_ms=head("log", 1.0, clip=(2.0, 3.0), columns=[1, 2, 3],
                                 weights=[1e-9, 0.5, -1e-8]))
    data = s.to_json()
    assert data["meta"] == {"domain": {"min_coverage": 0.1}, "trained_on": "x"}
    assert data["heads"]["ttfa_deep_ms"] == {
        "link": "log", "intercept": 1.0, "clip": [2.0, 3.0], "columns": [2, 3],
        "weights": [0.5, -1e-8],
    }
    assert data["heads"]["p_fast"]["clip"] is None
    path = tmp_path / "router.json"
    s.save(path)
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(data, separators=(",", ":")) + "\n"
    loaded = LinearScorer.load(path)
    assert loaded.meta == s.meta
    again = loaded.heads["ttfa_deep_ms"]
    assert (again.link, again.intercept, again.clip) == ("log", 1.0, (2.0, 3.0))
    assert again.columns.tolist() == [2, 3] and again.weights.tolist() == [0.5, -1e-8]
    assert loaded.heads["p_fast"].link == "logit" and loaded.heads["p_fast"].clip is None
    # Coefficients are saved to 6 significant digits.
    assert loaded.estimate("q").as_dict() == pytest.approx(s.estimate("q").as_dict(), rel=1e-5)


def test_files_that_are_not_router_models_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^not a ponder.router/linear v1 router file$"):
        LinearScorer.from_json({"format": "other", "version": 1})
    with pytest.raises(ValueError, match=r"^unknown link 'relu'$"):
        Head.from_json({"link": "relu", "intercept": 0, "columns": [], "weights": []})


def estimate(**changes: float) -> Estimate:
    base = dict(p_fast=0.5, p_deep=0.9, e2e_fast_ms=100.0, e2e_deep_ms=2000.0,
                ttfa_fast_ms=50.0, ttfa_deep_ms=1500.0)
    return Estimate(**{**base, **changes})


def test_cost_and_figures() -> None:
    e = estimate()
    assert e.cost_ms("fast", 10_000) == pytest.approx(100 + 0.5 * 10_000)
    assert e.cost_ms("deep", 10_000) == pytest.approx(2000 + 0.1 * 10_000)
    assert estimate(p_fast=0.123456).as_dict()["p_fast"] == 0.1235
    assert list(e.as_dict()) == list(HEADS)


def test_choose_by_expected_time_to_correct() -> None:
    # fast: 100 + 0.5·D; deep: 2000 + 0.1·D; equal at D = 4750 ms.
    assert choose(estimate(), 10_000) == (
        "deep",
        "P(fast correct) 0.50 → deep (P(deep correct) 0.90; expected time-to-correct"
        " 5.1 s fast vs 3.0 s deep)",
    )
    assert choose(estimate(), 4750)[0] == "fast"  # a tie goes to the faster mode
    assert choose(estimate(), 4000)[0] == "fast"


def test_choose_within_a_latency_budget() -> None:
    e = estimate()
    assert choose(e, 10_000, max_ttfa_ms=1500)[0] == "deep"  # exactly at the budget fits
    assert choose(e, 10_000, max_ttfa_ms=1000) == (
        "fast",
        "latency budget 1000 ms < deep TTFA ~1500 ms → fast (P(fast correct) 0.50,"
        " P(deep correct) 0.90; expected time-to-correct 5.1 s fast vs 3.0 s deep)",
    )
    assert choose(e, 10_000, max_ttfa_ms=50)[0] == "fast"  # fast exactly meets it
    # Neither fits: the faster of the two to a first answer.
    assert choose(e, 10_000, max_ttfa_ms=10)[0] == "fast"
    slow_fast = estimate(ttfa_fast_ms=3000.0, p_fast=0.99, e2e_fast_ms=10.0)
    assert choose(slow_fast, 10_000, max_ttfa_ms=1500) == (
        "deep",
        "latency budget 1500 ms < fast TTFA ~3000 ms → deep (P(fast correct) 0.99,"
        " P(deep correct) 0.90; expected time-to-correct 110 ms fast vs 3.0 s deep)",
    )
    both_slow = estimate(ttfa_fast_ms=900.0, ttfa_deep_ms=800.0, p_fast=0.99, e2e_fast_ms=10.0)
    assert choose(both_slow, 10_000, max_ttfa_ms=100)[0] == "deep"
    stuck = estimate(ttfa_fast_ms=800.0, ttfa_deep_ms=900.0, p_fast=0.99, e2e_fast_ms=10.0)
    assert choose(stuck, 10_000, max_ttfa_ms=100) == (
        "fast",
        "P(fast correct) 0.99 → fast (P(deep correct) 0.90; expected time-to-correct 110 ms"
        " fast vs 3.0 s deep; no mode meets the 100 ms budget)",
    )


def test_choose_keeps_the_best_when_the_other_is_no_quicker_to_answer() -> None:
    level = estimate(ttfa_fast_ms=800.0, ttfa_deep_ms=800.0)
    assert choose(level, 10_000, max_ttfa_ms=100) == (
        "deep",
        "P(fast correct) 0.50 → deep (P(deep correct) 0.90; expected time-to-correct 5.1 s"
        " fast vs 3.0 s deep; no mode meets the 100 ms budget)",
    )


@pytest.mark.parametrize(
    ("ms", "text"),
    [(999.0, "999 ms"), (1000.0, "1.0 s"), (1050.0, "1.1 s"), (59_949.0, "59.9 s"),
     (60_000.0, "1.0 min"), (63_000.0, "1.1 min"), (90_000.0, "1.5 min")],
)
def test_human(ms: float, text: str) -> None:
    assert _human(ms) == text


class Recording:
    """A scorer that is not a LinearScorer: it records what it was asked."""

    def __init__(self, e: Estimate) -> None:
        self.e = e
        self.calls: list[tuple[str, str | None]] = []

    def estimate(self, text: str, category: str | None = None) -> Estimate:
        self.calls.append((text, category))
        return self.e


def ask(text: str, **kwargs: Any) -> ChatRequest:
    return ChatRequest.from_prompt(text, **kwargs)


def test_a_plain_scorer_gets_the_prompt_and_its_category() -> None:
    s = Recording(estimate())
    router = LearnedRouter(s, d_minutes=10_000 / 60_000)
    decision = router.decide(ask("What is 23 + 45?"))
    assert s.calls == [("What is 23 + 45?", "simple_fact")]
    assert decision.mode == "deep" and decision.estimates == estimate().as_dict()


def test_the_client_switch_and_explicit_asks_win() -> None:
    router = LearnedRouter(Recording(estimate()), d_minutes=10_000 / 60_000)
    on = router.decide(ask("hi", thinking=ThinkingSettings(enabled=True)))
    assert (on.mode, on.reason) == ("deep", "the client set thinking.enabled=true → deep")
    off = router.decide(ask("What is 23 + 45?", thinking=ThinkingSettings(enabled=False)))
    assert (off.mode, off.reason) == ("fast", "the client set thinking.enabled=false → fast")
    budget = router.decide(ask("hi", thinking=ThinkingSettings(enabled=True), max_ttfa_ms=1000))
    assert budget == type(budget)(
        "fast",
        "latency budget 1000 ms < deep TTFA ~1500 ms → fast, although the client set"
        " thinking.enabled=true",
        estimate().as_dict(),
    )
    exact = router.decide(ask("hi", thinking=ThinkingSettings(enabled=True), max_ttfa_ms=1500))
    assert exact == type(exact)(
        "deep", "the client set thinking.enabled=true → deep", estimate().as_dict()
    )  # the budget exactly met, and the figures kept


def test_configured_and_live_ttfa() -> None:
    configured = LearnedRouter(Recording(estimate()), configured_ttfa={"fast": 7.0, "deep": 9.0})
    figures = configured.decide(ask("hi")).estimates
    assert figures is not None
    assert (figures["ttfa_fast_ms"], figures["ttfa_deep_ms"]) == (7.0, 9.0)
    tracker = LatencyTracker({"deep": 99_999.0})
    waiting = LearnedRouter(Recording(estimate()), latency=tracker)
    figures = waiting.decide(ask("hi")).estimates
    assert figures is not None and figures["ttfa_deep_ms"] == 1500.0  # defaults are not live
    for ms in (4000.0, 5000.0, 6000.0):
        tracker.observe("deep", ms)
    figures = waiting.decide(ask("hi")).estimates
    assert figures is not None and figures["ttfa_deep_ms"] == 5500.0  # p75 of what was seen
    quick = LatencyTracker()
    for ms in (10.0, 10.0, 10.0):
        quick.observe("deep", ms)
    figures = LearnedRouter(Recording(estimate()), latency=quick).decide(ask("hi")).estimates
    assert figures is not None and figures["ttfa_deep_ms"] == 1500.0  # never lowered


class Clipping(Recording):
    """A plain scorer with a featurizer: the router categorises what that featurizer reads."""

    def __init__(self, e: Estimate, max_chars: int) -> None:
        super().__init__(e)
        self.featurizer = Featurizer(hash_bits=6, max_chars=max_chars)


def test_the_category_is_read_from_the_text_the_featurizer_reads() -> None:
    text = "x " * 30 + "Think step by step about this." + " y" * 30
    s = Clipping(estimate(), max_chars=40)
    LearnedRouter(s).decide(ask(text))
    clipped = Recording(estimate())
    LearnedRouter(clipped).decide(ask(text))
    assert clipped.calls == [(text, "explicit_deep")]  # 2000 characters by default
    assert s.calls[0][0] == text and s.calls[0][1] != "explicit_deep"


def test_the_default_clip_is_2000_characters() -> None:
    # the phrase straddles character 1500, where a 2000-character clip of a 2001-character
    # text cuts one character out
    text = "x" * 1490 + " think step by step " + "y" * 491
    assert len(text) == 2001 and text[1500] == "p"
    s = Recording(estimate())
    LearnedRouter(s).decide(ask(text))
    assert s.calls[0][1] != "explicit_deep"
    short = text[:-1]
    LearnedRouter(s).decide(ask(short))
    assert s.calls[1] == (short, "explicit_deep")


def test_outside_the_domain_the_rules_decide_with_the_latency_they_know() -> None:
    s = scorer({"domain": {"categories": ["arithmetic"], "min_coverage": 0.0}})
    tracker = LatencyTracker()
    for ms in (9000.0, 9000.0, 9000.0):
        tracker.observe("deep", ms)
    router = LearnedRouter(s, latency=tracker)
    # 5 s: above the rules' own default deep TTFA (4 s), below the live 9 s
    decision = router.decide(ask("Think step by step: why is the sky blue?", max_ttfa_ms=5000))
    assert decision.mode == "fast"  # the rules saw deep's live 9 s TTFA miss the budget
    assert decision.reason.endswith(
        "(rules: unlike the learned router's data, 0% of features known)"
    )
