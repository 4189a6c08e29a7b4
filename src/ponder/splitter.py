"""Incremental think-splitter: separates inline ``<think>…</think>`` thoughts from the answer.

Models served by llama.cpp, Ollama's /v1 or vLLM without a reasoning parser put their thoughts
inline in the content stream. :class:`ThinkSplitter` is fed the content chunk by chunk and
returns ``("thinking", text)`` / ``("answer", text)`` pieces as soon as they are unambiguous.

Rules (every way of chunking the same text gives the same concatenated thinking and answer):

- ``<think>…</think>`` and ``<thinking>…</thinking>``; a block opened with one spelling closes
  only with the matching closing tag. Tags are lower-case and exact.
- ``starts_in_thoughts=True``: the chat template already wrote the opening tag, so the stream
  begins inside thoughts and either closing tag ends them. An opening tag before any thought
  text is swallowed (a model that writes the tag again despite the template).
- A tag may be split across chunks at any character: only the shortest suffix that could still
  become a tag is held back (at most ``len("</thinking>") - 1`` characters).
- In the answer, an opening tag counts only at the start of a line (only whitespace before it
  on its line) and outside code: tag-like text inside ````` fences and inline ```code``` or in
  the middle of a sentence ("wrap it in <thinking> tags") is answer text. A closing tag with no
  open block is answer text too.
- Leading whitespace of each section (the stream's start, after an opening tag, after a
  closing tag) is trimmed up to and including its last newline, so ``</think>\\n\\nAnswer``
  gives ``Answer`` while an indented first line keeps its indentation.
- A stream that ends inside thoughts keeps them; :attr:`ended_in_thoughts` is then True and
  the provider finishes with ``thinking_length``.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["thinking", "answer"]
Piece = tuple[Kind, str]

_OPENERS: dict[str, tuple[str, ...]] = {
    "<think>": ("</think>",),
    "<thinking>": ("</thinking>",),
}
_OPEN_TAGS = tuple(_OPENERS)
_ANY_CLOSER = ("</think>", "</thinking>")

# What to look for in the answer, by code state: outside code, inside inline code, in a fence.
_PLAIN_SPECIAL = re.compile(r"[<`]")
_INLINE_SPECIAL = re.compile(r"[`\n]")
_FENCE_SPECIAL = re.compile(r"`")


def _match(text: str, i: int, tags: tuple[str, ...]) -> tuple[str | None, bool]:
    """(the tag starting at ``i``, or None; whether the rest of ``text`` may still become one)."""
    for tag in tags:
        if text.startswith(tag, i):
            return tag, False
    rest = text[i:]
    for tag in tags:
        if len(rest) < len(tag) and tag.startswith(rest):
            return None, True
    return None, False


class ThinkSplitter:
    """Feed content chunks; get thinking and answer pieces back. See the module docstring."""

    __slots__ = (
        "_bol",
        "_buf",
        "_closed",
        "_closers",
        "_fence",
        "_inline",
        "_thinking",
        "_ticks",
        "_trim",
        "_ws",
        "ended_in_thoughts",
    )

    def __init__(self, *, starts_in_thoughts: bool = False) -> None:
        self._thinking = starts_in_thoughts
        self._closers: tuple[str, ...] = _ANY_CLOSER
        self._buf = ""  # a held-back suffix that may still become a tag
        self._trim = True  # the current section has shown no non-whitespace text yet
        self._ws = ""  # whitespace held while trimming
        self._bol = True  # answer: only whitespace since the last newline
        self._fence = 0  # answer: length of the open ``` fence's backtick run, 0 if none
        self._inline = 0  # answer: length of the open inline-code backtick run, 0 if none
        self._ticks = 0  # answer: a backtick run that reached the end of the last chunk
        self._closed = False
        self.ended_in_thoughts = False

    @property
    def in_thoughts(self) -> bool:
        return self._thinking

    def feed(self, chunk: str) -> list[Piece]:
        if self._closed:
            raise RuntimeError("ThinkSplitter.feed() after close()")
        if self._buf:
            text = self._buf + chunk
            self._buf = ""
        else:
            text = chunk
        if not text:
            return []
        out: list[Piece] = []
        n = len(text)
        start = pos = 0
        if self._ticks:  # a backtick run split across chunks
            while pos < n and text[pos] == "`":
                pos += 1
            if pos == n:
                self._ticks += n
                self._emit(out, "answer", text)
                return out
            self._end_run(self._ticks + pos)
            self._ticks = 0
        while True:
            if self._thinking:
                i = text.find("<", pos)
                if i < 0:
                    break
                # Before any thought text, a repeated opening tag is swallowed (the template
                # opened the block and the model wrote the tag again).
                fresh = self._trim and (i == start or text[start:i].isspace())
                tags = self._closers + _OPEN_TAGS if fresh else self._closers
                tag, partial = _match(text, i, tags)
                if partial:
                    self._emit(out, "thinking", text[start:i])
                    self._buf = text[i:]
                    return out
                if tag is None:
                    pos = i + 1
                    continue
                self._emit(out, "thinking", text[start:i])
                start = pos = i + len(tag)
                if tag not in _OPENERS:
                    self._thinking = False
                    self._section()
                continue
            if self._fence:
                m = _FENCE_SPECIAL.search(text, pos)
            elif self._inline:
                m = _INLINE_SPECIAL.search(text, pos)
            else:
                m = _PLAIN_SPECIAL.search(text, pos)
            if m is None:
                break
            i = m.start()
            c = text[i]
            if c == "`":
                j = i + 1
                while j < n and text[j] == "`":
                    j += 1
                if j == n:
                    self._ticks = j - i
                    break
                self._end_run(j - i)
                pos = j
            elif c == "\n":
                self._inline = 0
                pos = i + 1
            else:  # "<" outside code
                tag, partial = _match(text, i, _OPEN_TAGS)
                if (tag is None and not partial) or not self._line_blank_at(text, start, i):
                    pos = i + 1
                    continue
                self._emit(out, "answer", text[start:i])
                if partial:
                    self._buf = text[i:]
                    return out
                assert tag is not None
                start = pos = i + len(tag)
                self._thinking = True
                self._closers = _OPENERS[tag]
                self._section()
        if start < n:
            self._emit(out, "thinking" if self._thinking else "answer", text[start:])
        return out

    def close(self) -> list[Piece]:
        """Flush what is held back; afterwards :attr:`ended_in_thoughts` is valid."""
        if self._closed:
            return []
        out: list[Piece] = []
        if self._buf:
            self._emit(out, "thinking" if self._thinking else "answer", self._buf)
            self._buf = ""
        self._closed = True
        self.ended_in_thoughts = self._thinking
        return out

    # -- internals -------------------------------------------------------------------------

    def _section(self) -> None:
        """A new section (thoughts or answer) starts: trim its leading whitespace again."""
        self._trim = True
        self._ws = ""
        self._bol = True
        self._fence = self._inline = self._ticks = 0

    def _end_run(self, run: int) -> None:
        """A run of ``run`` backticks ended in the answer: open or close code."""
        if self._fence:
            if run >= self._fence:
                self._fence = 0
        elif self._inline:
            if run == self._inline:
                self._inline = 0
        elif run >= 3:
            self._fence = run
        else:
            self._inline = run

    def _line_blank_at(self, text: str, start: int, i: int) -> bool:
        """Whether only whitespace precedes position ``i`` on its line (answer not yet emitted
        from ``start``)."""
        k = text.rfind("\n", start, i)
        if k >= 0:
            return i == k + 1 or text[k + 1 : i].isspace()
        return self._bol and (i == start or text[start:i].isspace())

    def _emit(self, out: list[Piece], kind: Kind, s: str) -> None:
        if not s:
            return
        if self._trim:
            body = s.lstrip()
            if not body:
                self._ws += s
                return
            lead = self._ws + s[: len(s) - len(body)]
            k = lead.rfind("\n")
            s = (lead[k + 1 :] if k >= 0 else "") + body
            self._trim = False
            self._ws = ""
        if kind == "answer":
            k = s.rfind("\n")
            tail = s[k + 1 :] if k >= 0 else s
            if tail and not tail.isspace():
                self._bol = False
            elif k >= 0:
                self._bol = True
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + s)
        else:
            out.append((kind, s))


def split_all(text: str, *, starts_in_thoughts: bool = False) -> tuple[str, str, bool]:
    """Split a whole text at once: (thinking, answer, ended_in_thoughts)."""
    splitter = ThinkSplitter(starts_in_thoughts=starts_in_thoughts)
    pieces = splitter.feed(text) + splitter.close()
    thinking = "".join(t for kind, t in pieces if kind == "thinking")
    answer = "".join(t for kind, t in pieces if kind == "answer")
    return thinking, answer, splitter.ended_in_thoughts
