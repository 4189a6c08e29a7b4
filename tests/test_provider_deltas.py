"""DeltaTracker, the bookkeeping every wire-format provider shares: which events a content
delta becomes, the finish reason when a stream ends inside the thoughts, and how one
output-token count splits into thinking and answer."""

from __future__ import annotations

import pytest

from ponder.events import Answer, Thinking
from ponder.providers.deltas import DeltaTracker
from ponder.tokens import estimate_tokens


def test_plain_content_is_the_answer() -> None:
    tracker = DeltaTracker()
    assert tracker.content("") == []
    assert not tracker.has_answer
    first = tracker.content("Paris")
    assert [type(e) for e in first] == [Answer] and first[0].text == "Paris"
    events = tracker.content(" is it")
    assert [type(e) for e in events] == [Answer] and events[0].text == " is it"
    assert tracker.answer_text == "Paris is it" and tracker.has_answer
    assert tracker.close() == []
    assert tracker.thinking_text == "" and tracker.saw_thinking is False


def test_inline_tags_split_the_content() -> None:
    tracker = DeltaTracker(inline_tags=True)
    events = tracker.content("<think>hm</think>ok")
    events += tracker.close()
    assert [(type(e), e.text) for e in events if e.text] == [(Thinking, "hm"), (Answer, "ok")]
    assert (tracker.thinking_text, tracker.answer_text) == ("hm", "ok")
    assert tracker.saw_thinking is True


def test_a_template_that_opens_the_thought() -> None:
    tracker = DeltaTracker(inline_tags=True, opens_in_template=True)
    events = tracker.content("hm</think>ok") + tracker.close()
    assert [(type(e), e.text) for e in events if e.text] == [(Thinking, "hm"), (Answer, "ok")]
    plain = DeltaTracker(inline_tags=True)
    assert [type(e) for e in plain.content("hm") + plain.close()] == [Answer]


def test_closing_flushes_what_the_splitter_held_back() -> None:
    tracker = DeltaTracker(inline_tags=True)
    assert tracker.content("<thi") == []  # could still become a tag
    flushed = tracker.close()
    assert [(type(e), e.text) for e in flushed] == [(Answer, "<thi")]
    assert tracker.answer_text == "<thi"
    inside = DeltaTracker(inline_tags=True)
    assert [e.text for e in inside.content("<think>ab</thi")] == ["ab"]
    assert [(type(e), e.text) for e in inside.close()] == [(Thinking, "</thi")]
    assert inside.thinking_text == "ab</thi"


def test_thinking_events_are_recorded_and_passed_through() -> None:
    tracker = DeltaTracker()
    event = Thinking("abc")
    assert tracker.thinking(event) is event
    redacted = Thinking("", redacted=True)
    assert tracker.thinking(redacted) is redacted
    assert tracker.thinking_text == "abc" and tracker.saw_thinking is True


@pytest.mark.parametrize(
    ("thought", "answer", "upstream", "expected"),
    [
        (True, False, "length", "thinking_length"),
        (True, True, "length", "length"),
        (False, False, "length", "length"),
        (True, False, "stop", "stop"),
        (True, False, "content_filter", "content_filter"),
    ],
)
def test_finish_reason(thought: bool, answer: bool, upstream: str, expected: str) -> None:
    tracker = DeltaTracker()
    if thought:
        tracker.thinking(Thinking("t"))
    if answer:
        tracker.content("a")
    assert tracker.finish_reason(upstream) == expected  # type: ignore[arg-type]


def test_a_stream_cut_inside_inline_thoughts_is_thinking_length() -> None:
    tracker = DeltaTracker(inline_tags=True)
    tracker.content("<think>still going")
    tracker.close()
    assert tracker.finish_reason("stop") == "thinking_length"
    answered = DeltaTracker(inline_tags=True)
    answered.content("<think>a</think>b")
    answered.close()
    assert answered.finish_reason("stop") == "stop"


def test_split_usage_with_a_reported_thinking_count_is_exact() -> None:
    tracker = DeltaTracker()
    usage = tracker.split_usage(5, 10, 4)
    assert (usage.input_tokens, usage.thinking_tokens, usage.answer_tokens, usage.estimated) == (
        5, 4, 6, False
    )
    clipped = tracker.split_usage(None, 10, 40)
    assert (clipped.thinking_tokens, clipped.answer_tokens) == (10, 0)
    negative = tracker.split_usage(None, 10, -3)
    assert (negative.thinking_tokens, negative.answer_tokens) == (0, 10)


def test_split_usage_without_thoughts_is_all_answer() -> None:
    usage = DeltaTracker().split_usage(2, 9)
    assert (usage.input_tokens, usage.thinking_tokens, usage.answer_tokens, usage.estimated) == (
        2, 0, 9, False
    )


def test_split_usage_after_thoughts_estimates_the_answer() -> None:
    tracker = DeltaTracker()
    tracker.thinking(Thinking("", redacted=True))
    tracker.content("The answer is forty two.")
    answer = estimate_tokens("The answer is forty two.")
    usage = tracker.split_usage(1, 50)
    assert (usage.input_tokens, usage.thinking_tokens, usage.answer_tokens, usage.estimated) == (
        1, 50 - answer, answer, True
    )
    tiny = tracker.split_usage(1, 2)  # the estimate never exceeds the reported total
    assert (tiny.thinking_tokens, tiny.answer_tokens) == (0, 2)
