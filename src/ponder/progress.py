"""Thoughts -> short step labels, as the thought stream actually reaches them.

A :class:`Narrator` is fed thought deltas and returns the labels of steps newly reached;
never a timer. :class:`KeywordNarrator` is the first version: it segments the thoughts into
sentences and names each sentence by the first keyword rule it matches. A small model can
narrate later behind the same interface.
"""

from __future__ import annotations

import re
from typing import Protocol


class Narrator(Protocol):
    def feed(self, thought_delta: str) -> list[str]: ...

    def close(self) -> list[str]: ...


# (pattern, label) — first match wins; order from specific to general.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (r"refund", "Joining orders and refunds"),
        (r"divi(de|sion) by zero|nullif|zero", "Guarding against division by zero"),
        (r"\bjoin\b", "Joining tables"),
        (r"date|month|window|between", "Checking the date window"),
        (r"\bselect\b|query|sql", "Drafting the query"),
        (r"carry|digit|partial|multipl|\badd\b|sum|\d+\s*[x×*+-]\s*\d+", "Working through the arithmetic"),
        (r"total|spend|spent", "Totalling spend per customer"),
        (r"rank|top \d|sort|order by", "Ranking the results"),
        (r"check|verify|double-check|edge case", "Checking the result"),
        (r"test|assert", "Thinking about tests"),
        (r"\bdef\b|function|class|refactor", "Drafting the code"),
        (r"constraint|must|require", "Checking constraints"),
        (r"question|asks|asked|want", "Reading the question"),
    )
)
_SENTENCE_END = re.compile(r"[.!?;\n]")


class KeywordNarrator:
    """Emit a label when a completed sentence matches a rule not yet emitted in a row."""

    def __init__(self, max_steps: int = 12) -> None:
        self._buffer = ""
        self._last: str | None = None
        self._count = 0
        self._max_steps = max_steps

    def feed(self, thought_delta: str) -> list[str]:
        self._buffer += thought_delta
        labels: list[str] = []
        while True:
            match = _SENTENCE_END.search(self._buffer)
            if match is None:
                break
            sentence, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
            label = self._label(sentence)
            if label:
                labels.append(label)
        if len(self._buffer) > 400:  # a run-on thought still counts as a step reached
            label = self._label(self._buffer)
            self._buffer = ""
            if label:
                labels.append(label)
        return labels

    def close(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        label = self._label(rest) if rest.strip() else None
        return [label] if label else []

    def _label(self, sentence: str) -> str | None:
        if self._count >= self._max_steps:
            return None
        if self._count == 0 and self._last is None:
            first = "Reading the question"
        else:
            first = None
        for pattern, label in _RULES:
            if pattern.search(sentence):
                first = label
                break
        if first is None or first == self._last:
            return None
        self._last = first
        self._count += 1
        return first
