"""The think-splitter: tag handling, trimming, code blocks, and chunking invariance."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ponder.splitter import ThinkSplitter, split_all


def run_chunks(chunks: list[str], *, starts_in_thoughts: bool = False) -> tuple[str, str, bool]:
    splitter = ThinkSplitter(starts_in_thoughts=starts_in_thoughts)
    pieces = []
    for chunk in chunks:
        pieces.extend(splitter.feed(chunk))
    pieces.extend(splitter.close())
    thinking = "".join(t for kind, t in pieces if kind == "thinking")
    answer = "".join(t for kind, t in pieces if kind == "answer")
    return thinking, answer, splitter.ended_in_thoughts


@pytest.mark.parametrize(
    ("text", "opens", "expected"),
    [
        ("<think>\nLet me add.\n</think>\n\n4", False, ("Let me add.\n", "4", False)),
        ("<thinking>a</thinking>b", False, ("a", "b", False)),
        ("no tags at all", False, ("", "no tags at all", False)),
        ("\n\n<think>x</think>y", False, ("x", "y", False)),
        # The template opened the block: the stream starts inside thoughts.
        ("Okay, 2+2.</think>\n\n4", True, ("Okay, 2+2.", "4", False)),
        ("a</thinking>b", True, ("a", "b", False)),
        # A model that repeats the template's opening tag.
        ("<think>\na</think>b", True, ("a", "b", False)),
        # Ends inside thoughts: thoughts kept, answer empty.
        ("<think>still going", False, ("still going", "", True)),
        ("still going", True, ("still going", "", True)),
        ("<think>partial tag </thi", False, ("partial tag </thi", "", True)),
        # A block opened with one spelling closes only with its own closing tag.
        ("<think>a</thinking>b</think>c", False, ("a</thinking>b", "c", False)),
        # Empty thoughts (thinking switched off in the template).
        ("<think>\n\n</think>\n\nHello", False, ("", "Hello", False)),
        # Trimming keeps the first line's indentation but drops blank lines and same-line spaces.
        ("<think>t</think>\n\n    indented", False, ("t", "    indented", False)),
        ("<think>t</think>   same line", False, ("t", "same line", False)),
        # Not-quite tags stay text.
        (
            "<think>1 < 2 and <b> </thin k></think>ok",
            False,
            ("1 < 2 and <b> </thin k>", "ok", False),
        ),
        ("<thinker>x", False, ("", "<thinker>x", False)),
        ("<THINK>x</THINK>", False, ("", "<THINK>x</THINK>", False)),
        # A stray closing tag with no open block is answer text.
        ("answer </think> more", False, ("", "answer </think> more", False)),
    ],
)
def test_split_cases(text: str, opens: bool, expected: tuple[str, str, bool]) -> None:
    assert split_all(text, starts_in_thoughts=opens) == expected
    assert run_chunks(list(text), starts_in_thoughts=opens) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "Use this:\n```xml\n<think>\nnot a thought\n</think>\n```\nDone.",
        "Wrap it in `<think>` and `</think>`.",
        "Inline ``a `<think>` b`` works",
        "Wrap your notes in <thinking> tags, then answer.",
        "````\n```\n<think>\n```\n````\n",
    ],
)
def test_tag_like_text_in_answer_code_is_left_alone(answer: str) -> None:
    text = "<think>plan</think>\n" + answer
    expected = ("plan", answer, False)
    assert split_all(text) == expected
    assert run_chunks(list(text)) == expected


def test_second_block_at_line_start_is_thoughts() -> None:
    text = "<think>a</think>First.\n<think>b</think>\nSecond."
    assert split_all(text) == ("ab", "First.\nSecond.", False)


def test_holds_back_only_a_possible_tag_prefix() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<thi") == []
    assert splitter.feed("nk>abc</th") == [("thinking", "abc")]
    assert splitter.feed("ink>\n\nHi <") == [("answer", "Hi <")]
    assert splitter.feed("b>") == [("answer", "b>")]
    assert splitter.close() == []
    assert splitter.ended_in_thoughts is False


def test_thoughts_stream_out_without_waiting() -> None:
    splitter = ThinkSplitter(starts_in_thoughts=True)
    assert splitter.feed("First ") == [("thinking", "First ")]
    assert splitter.feed("idea<") == [("thinking", "idea")]
    assert splitter.feed("x") == [("thinking", "<x")]


def test_feed_after_close_is_an_error() -> None:
    splitter = ThinkSplitter()
    splitter.close()
    with pytest.raises(RuntimeError):
        splitter.feed("x")


# -- property: chunking never changes the result ----------------------------------------------

_ATOMS = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<thinking>",
        "</thinking>",
        "<",
        ">",
        "/",
        "<thi",
        "</th",
        "`",
        "```",
        "``",
        "\n",
        "\n\n",
        " ",
        "  ",
        "a",
        "b c",
        "x<y",
        "think",
        "ing>",
    ]
)
_TEXTS = st.lists(_ATOMS, max_size=40).map("".join)


@st.composite
def text_and_cuts(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(_TEXTS | st.text(alphabet="<>/thinkg`\n a", max_size=60))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=len(text) + 1)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None)
@given(text_and_cuts(), st.booleans())
def test_every_chunking_gives_the_same_split(case: tuple[str, list[str]], opens: bool) -> None:
    text, chunks = case
    assert "".join(chunks) == text
    assert run_chunks(chunks, starts_in_thoughts=opens) == split_all(text, starts_in_thoughts=opens)


@settings(max_examples=200, deadline=None)
@given(text_and_cuts())
def test_nothing_is_lost_without_tags(case: tuple[str, list[str]]) -> None:
    text, chunks = case
    assume("<think" not in text)
    thinking, answer, ended = run_chunks(chunks)
    assert thinking == ""
    assert not ended
    # Only leading whitespace up to the last leading newline (or a same-line run) is trimmed.
    assert text.endswith(answer)
    assert text[: len(text) - len(answer)].strip() == ""


def trimmed(section: str) -> str:
    """The documented trimming rule, written out plainly."""
    body = section.lstrip()
    if not body:
        return ""
    lead = section[: len(section) - len(body)]
    k = lead.rfind("\n")
    return (lead[k + 1 :] if k >= 0 else "") + body


_NO_TAGS = st.text(max_size=40).filter(lambda s: "<" not in s)


@settings(max_examples=200, deadline=None)
@given(_NO_TAGS, _NO_TAGS)
def test_thoughts_then_answer_round_trip(thought: str, answer: str) -> None:
    text = f"<think>{thought}</think>{answer}"
    assert split_all(text) == (trimmed(thought), trimmed(answer), False)
    assert split_all(f"{thought}</think>{answer}", starts_in_thoughts=True) == (
        trimmed(thought),
        trimmed(answer),
        False,
    )
