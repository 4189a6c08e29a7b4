from __future__ import annotations

import pytest

from ponder.events import Answer, Failed, Finished, Started, Thinking, Usage
from ponder.meter import Meter, percentile
from ponder.tokens import estimate_tokens

MS = 1_000_000


def started(at_ms: float) -> Started:
    return Started("r", "deep", "deep", "test", at_ns=int(at_ms * MS))


def test_every_metric_from_a_known_schedule() -> None:
    meter = Meter()
    for event in (
        started(0),
        Thinking("Let me", at_ns=100 * MS),
        Thinking(" think.", at_ns=150 * MS),
        Answer("42", at_ns=400 * MS),
        Answer(".", at_ns=450 * MS),
        Usage(input_tokens=10, thinking_tokens=8, answer_tokens=2, at_ns=460 * MS),
        Finished("stop", at_ns=500 * MS),
    ):
        meter.feed(event)
    m = meter.metrics()
    assert m.ttft_ms == 100
    assert m.ttfa_ms == 400
    assert m.thinking_ms == 300
    assert m.e2e_ms == 500
    assert (m.thinking_tokens, m.answer_tokens, m.tokens_estimated) == (8, 2, False)
    assert m.decode_tps == pytest.approx((10 - 1) / 0.4)
    assert m.effective_tps == pytest.approx(2 / 0.5)
    assert m.itl_p50_ms == 50
    assert m.finish_reason == "stop"
    assert meter.thinking_text == "Let me think."


def test_no_thoughts_means_zero_thinking_time_and_estimated_tokens() -> None:
    meter = Meter()
    for event in (
        started(0),
        Answer("Paris is the capital.", at_ns=30 * MS),
        Finished("stop", at_ns=60 * MS),
    ):
        meter.feed(event)
    m = meter.metrics()
    assert (m.ttft_ms, m.ttfa_ms, m.thinking_ms) == (30, 30, 0)
    assert m.tokens_estimated is True
    assert m.answer_tokens == estimate_tokens("Paris is the capital.")
    assert m.thinking_tokens == 0


def test_stream_that_ends_inside_the_thoughts() -> None:
    meter = Meter()
    for event in (
        started(0),
        Thinking("hmm", at_ns=10 * MS),
        Failed("upstream", "stream_broken", "dropped", at_ns=90 * MS),
    ):
        meter.feed(event)
    m = meter.metrics()
    assert m.ttfa_ms is None
    assert m.thinking_ms == 80
    assert m.finish_reason == "error"
    assert m.effective_tps == 0


def test_empty_deltas_do_not_count_as_tokens_arriving() -> None:
    meter = Meter()
    for event in (started(0), Answer("", at_ns=5 * MS), Answer("x", at_ns=20 * MS)):
        meter.feed(event)
    assert meter.metrics().ttft_ms == 20


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5


def test_estimate_counts_words_numbers_and_punctuation() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hello") == 1
    assert estimate_tokens("internationalization") == 4
    assert estimate_tokens("347 * 28 = 9716") == 6
