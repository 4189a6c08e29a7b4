"""The think-splitter on hand-checked texts (code spans and fences, tag spellings, trimming,
held-back partial tags), each fed whole, cut at every single position, cut in three at every
pair of positions, and one character at a time: the same split every time."""

from __future__ import annotations

import itertools

import pytest

from ponder.splitter import ThinkSplitter

# (text, starts_in_thoughts, thinking, answer, ended_in_thoughts)
CASES: list[tuple[str, bool, str, str, bool]] = [
    ("Use `<think>` here\n<think>t</think>a", False, "t", "Use `<think>` here\na", False),
    ("```\n<think>x</think>\n```\n<think>y</think>ok", False, "y",
     "```\n<think>x</think>\n```\nok", False),
    ("``a`b``\n<think>t</think>z", False, "t", "``a`b``\nz", False),
    ("x `code\n<think>t</think>y", False, "t", "x `code\ny", False),  # a newline ends `code
    ("<think>t</think>a", True, "t", "a", False),  # the template's tag written again
    ("a <think>b</think>", False, "", "a <think>b</think>", False),  # mid-sentence
    ("<thinking>a</think>b</thinking>c", False, "a</think>b", "c", False),
    ("<think>ab</thi", False, "ab</thi", "", True),
    ("hm", False, "", "hm", False),
    ("hm", True, "hm", "", True),
    ("````\n```\n<think>in</think>\n````\n<think>t</think>x", False, "t",
     "````\n```\n<think>in</think>\n````\nx", False),  # only a run as long closes a fence
    ("  \n  <think>\n\n t \n</think>\n\n  a", False, " t \n", "  a", False),
    ("a\n   <think>t</think>b", False, "t", "a\n   b", False),
    ("a < b\n<thin", False, "", "a < b\n<thin", False),
    ("t <x> <think> </thinking></think>a", True, "t <x> <think> ", "</think>a", False),
    ("`` ` ``\n<think>t</think>a", False, "t", "`` ` ``\na", False),
    ("```py\nx\n``\n```\n<think>t</think>", False, "t", "```py\nx\n``\n```\n", False),
]


def run(chunks: list[str], starts_in_thoughts: bool) -> tuple[str, str, bool]:
    splitter = ThinkSplitter(starts_in_thoughts=starts_in_thoughts)
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)] + splitter.close()
    assert all(text for _, text in pieces)  # no empty pieces
    thinking = "".join(t for kind, t in pieces if kind == "thinking")
    answer = "".join(t for kind, t in pieces if kind == "answer")
    return thinking, answer, splitter.ended_in_thoughts


def chunkings(text: str) -> list[list[str]]:
    n = len(text)
    out = [[text], list(text)]
    out += [[text[:i], text[i:]] for i in range(n + 1)]
    out += [[text[:i], text[i:j], text[j:]] for i, j in itertools.combinations(range(1, n), 2)]
    return out


@pytest.mark.parametrize(("text", "opens", "thinking", "answer", "ended"), CASES)
def test_every_cut_gives_the_documented_split(
    text: str, opens: bool, thinking: str, answer: str, ended: bool
) -> None:
    for chunks in chunkings(text):
        assert run(chunks, opens) == (thinking, answer, ended), chunks


def test_a_closed_splitter_refuses_more_and_closes_once() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>a") == [("thinking", "a")]
    assert splitter.in_thoughts is True
    assert splitter.close() == []
    assert splitter.close() == []
    assert splitter.ended_in_thoughts is True
    with pytest.raises(RuntimeError, match=r"^ThinkSplitter\.feed\(\) after close\(\)$"):
        splitter.feed("more")


def test_defaults_start_in_the_answer_and_not_ended() -> None:
    splitter = ThinkSplitter()
    assert splitter.in_thoughts is False and splitter.ended_in_thoughts is False
    assert splitter.feed("") == []
    assert splitter.feed("x") == [("answer", "x")]
