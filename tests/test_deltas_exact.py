"""DeltaTracker's detection of inline thoughts, exactly: content that opens with ``<think>`` or
``<thinking>`` (after whitespace) is thoughts, decided on the first characters, which are held
back until unambiguous and flushed as they came when the stream ends first; and the cached
input count carried through every usage split."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.providers.deltas import DeltaTracker
from tests.provider_exact import plain


def feed(tracker: DeltaTracker, *chunks: str) -> list[tuple[Any, ...]]:
    events = []
    for chunk in chunks:
        events.extend(plain(tracker.content(chunk)))
    return events + plain(tracker.close())


@pytest.mark.parametrize(
    "chunks",
    [
        ["<think>a</think>b"],
        ["<thi", "nk>a</think>b"],
        ["  \n", "<think>a</think>b"],
        ["  <think>", "a</think>b"],
        ["<thinking>a</thinking>b"],
        ["<", "think", "ing>a</thinking>b"],
    ],
)
def test_an_opening_tag_makes_thoughts(chunks: list[str]) -> None:
    tracker = DeltaTracker()
    events = feed(tracker, *chunks)
    assert [e for e in events if e[1]] == [
        ("thinking", "a", None, False, None, None),
        ("answer", "b"),
    ]
    assert (tracker.thinking_text, tracker.answer_text, tracker.saw_thinking) == ("a", "b", True)


@pytest.mark.parametrize(
    ("chunks", "answer"),
    [
        (["Hello"], [("answer", "Hello")]),
        (["<b>bold</b>"], [("answer", "<b>bold</b>")]),
        (["<thi", "s is not a tag"], [("answer", "<this is not a tag")]),
        (["  ", "x"], [("answer", "  x")]),
        (["x <think>y</think>"], [("answer", "x <think>y</think>")]),
    ],
)
def test_anything_else_is_the_answer(chunks: list[str], answer: list[tuple[Any, ...]]) -> None:
    tracker = DeltaTracker()
    assert feed(tracker, *chunks) == answer
    assert tracker.saw_thinking is False


@pytest.mark.parametrize("held", ["<thi", "  <think", "<thinking", "\n"])
def test_what_was_held_back_is_flushed_at_the_end(held: str) -> None:
    tracker = DeltaTracker()
    assert tracker.content(held) == []
    assert not tracker.has_answer
    assert plain(tracker.close()) == [("answer", held)]
    assert tracker.answer_text == held
    assert tracker.close() == []


def test_nothing_held_nothing_flushed() -> None:
    assert DeltaTracker().close() == []


def test_inline_tags_false_never_detects() -> None:
    tracker = DeltaTracker(inline_tags=False)
    assert feed(tracker, "<think>a</think>b") == [("answer", "<think>a</think>b")]
    assert tracker.finish_reason("stop") == "stop"


@pytest.mark.parametrize("thought", [False, True])
def test_the_cached_count_is_kept_in_every_split(thought: bool) -> None:
    tracker = DeltaTracker()
    if thought:
        tracker.content("<think>hm</think>")
    tracker.content("ok")
    tracker.close()
    usage = tracker.split_usage(10, 5, cached_input_tokens=4)
    assert (usage.input_tokens, usage.cached_input_tokens, usage.estimated) == (10, 4, thought)
    exact = tracker.split_usage(10, 5, 2, cached_input_tokens=4)
    assert (exact.thinking_tokens, exact.answer_tokens, exact.cached_input_tokens) == (2, 3, 4)
