"""The meter's whole Metrics record for known schedules, the edges of decode speed, and the
percentile's interpolation at both ends."""

from __future__ import annotations

import pytest

from ponder.events import (
    Answer,
    Finished,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ponder.meter import Meter, Metrics, percentile
from ponder.tokens import estimate_tokens

MS = 1_000_000


def test_a_whole_record_with_reported_usage() -> None:
    meter = Meter(start_ns=1000 * MS)  # the start is known before any event
    for event in (
        Thinking("a", at_ns=1010 * MS),
        Answer("b", at_ns=1020 * MS),
        Answer("c", at_ns=1050 * MS),
        Answer("d", at_ns=1150 * MS),
        Usage(input_tokens=4, thinking_tokens=3, answer_tokens=5, at_ns=1160 * MS),
        Finished("length", at_ns=1200 * MS),
    ):
        meter.feed(event)
    gaps = [10.0, 30.0, 100.0]
    assert meter.metrics() == Metrics(
        ttft_ms=10.0, ttfa_ms=20.0, thinking_ms=10.0, e2e_ms=200.0, input_tokens=4,
        thinking_tokens=3, answer_tokens=5, tokens_estimated=False,
        decode_tps=(8 - 1) / 0.19, effective_tps=5 / 0.2,
        itl_p50_ms=30.0, itl_p95_ms=percentile(gaps, 95), itl_p99_ms=percentile(gaps, 99),
        finish_reason="length",
    )
    assert meter.metrics().itl_p95_ms == pytest.approx(93.0)
    assert meter.metrics().itl_p99_ms == pytest.approx(98.6)
    assert meter.metrics().as_dict()["input_tokens"] == 4
    assert meter.metrics().output_tokens == 8


def test_a_tool_call_is_the_turns_answer() -> None:
    """A turn that ends in a call: its name and argument fragments are output chunks (TTFA is
    the call's start, the gaps between fragments are ITL samples, their text is counted as
    output when no usage came); an empty fragment is no chunk; the end adds nothing."""
    meter = Meter()
    for event in (
        Started("r", "m", "deep", "x", at_ns=1000 * MS),
        Thinking("plan", at_ns=1010 * MS),
        ToolCallStart(0, "call_1", "run_sql", at_ns=1040 * MS),
        ToolCallDelta(0, "", at_ns=1045 * MS),
        ToolCallDelta(0, '{"q": 1}', at_ns=1060 * MS),
        ToolCallEnd(0, "call_1", "run_sql", '{"q": 1}', at_ns=1070 * MS),
        Finished("tool_calls", at_ns=1100 * MS),
    ):
        meter.feed(event)
    m = meter.metrics()
    assert (m.ttft_ms, m.ttfa_ms, m.thinking_ms, m.e2e_ms) == (10.0, 40.0, 30.0, 100.0)
    assert meter.itl_ms == [30.0, 20.0]  # thought -> name -> arguments; the empty one skipped
    assert meter.output_text == 'run_sql{"q": 1}'
    assert (m.thinking_tokens, m.answer_tokens, m.tokens_estimated) == (
        estimate_tokens("plan"), estimate_tokens('run_sql{"q": 1}'), True)  # fmt: skip
    assert m.finish_reason == "tool_calls"


def test_an_answer_before_a_call_keeps_its_ttfa() -> None:
    meter = Meter(start_ns=0)
    for event in (
        Answer("Let me look.", at_ns=5 * MS),
        ToolCallStart(0, "call_1", "run_sql", at_ns=9 * MS),
        ToolCallDelta(0, "{}", at_ns=12 * MS),
    ):
        meter.feed(event)
    assert meter.metrics().ttfa_ms == 5.0
    assert meter.itl_ms == [4.0, 3.0]
    assert meter.output_text == "Let me look.run_sql{}"


def test_a_fresh_meter_knows_nothing() -> None:
    assert Meter().metrics() == Metrics(
        ttft_ms=None, ttfa_ms=None, thinking_ms=0.0, e2e_ms=None, input_tokens=None,
        thinking_tokens=0, answer_tokens=0, tokens_estimated=True, decode_tps=None,
        effective_tps=None, itl_p50_ms=None, itl_p95_ms=None, itl_p99_ms=None,
        finish_reason=None,
    )


def test_estimated_tokens_count_both_texts() -> None:
    meter = Meter()
    for event in (
        Started("r", "deep", "deep", "t", at_ns=0),
        Thinking("one two three", at_ns=1 * MS),
        Answer("four", at_ns=2 * MS),
        Finished("stop", at_ns=3 * MS),
    ):
        meter.feed(event)
    m = meter.metrics()
    assert (m.thinking_tokens, m.answer_tokens, m.input_tokens) == (
        estimate_tokens("one two three"), estimate_tokens("four"), None
    )


def feed(*events: object) -> Metrics:
    meter = Meter(start_ns=0)
    for event in events:
        meter.feed(event)  # type: ignore[arg-type]
    return meter.metrics()


def test_decode_needs_two_output_tokens_and_time_after_the_first() -> None:
    one = feed(Answer("a", at_ns=1 * MS), Usage(None, 0, 1), Finished("stop", at_ns=5 * MS))
    assert one.decode_tps is None and one.effective_tps == pytest.approx(1 / 0.005)
    two = feed(Answer("a", at_ns=1 * MS), Usage(None, 0, 2), Finished("stop", at_ns=5 * MS))
    assert two.decode_tps == pytest.approx(1 / 0.004)
    instant = feed(Answer("a", at_ns=5 * MS), Usage(None, 0, 9), Finished("stop", at_ns=5 * MS))
    assert instant.decode_tps is None  # e2e == ttft: no time to decode in


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0, 2.0], 50, 1.5), ([3.0, 1.0, 2.0], 100, 3.0), ([3.0, 1.0, 2.0], 0, 1.0),
     ([5.0], 99, 5.0), ([1.0, 2.0, 3.0, 4.0], 75, 3.25), ([], 50, None)],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected
