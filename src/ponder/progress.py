"""Thoughts -> short step labels, as the thought stream actually reaches them.

A :class:`Narrator` is fed thought deltas and returns the labels of steps newly reached;
never a timer. :class:`KeywordNarrator` is the rule-based version: it cuts the thoughts into
sentences (a sentence ends at a newline, ``;``, or ``.!?`` followed by white space, so ``0.5``
and ``3.14`` stay whole) and names each finished sentence by the first rule it matches. Rules
may quote the thought ("Multiplying 347 × 8", "Checking carol's refund ratio"), so the steps of
an arithmetic scratchpad, a ledger analysis or a SQL draft read as what the model is doing.

Guarantees, which the engine and UI rely on:
- the first thought delta with text yields "Reading the question" at once, so a step is shown
  before any answer token even when the thoughts never finish a sentence;
- every later label comes from text already received (a sentence is labelled only once it is
  complete, or when the stream closes), in the order the thoughts reach it;
- a label is emitted at most once per request, and at most ``max_steps`` labels in all.

A small model can narrate later behind the same interface.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from ponder.scratchpad_steps import NOT_NAMES, Scratchpad, possessive


class Narrator(Protocol):
    def feed(self, thought_delta: str) -> list[str]: ...

    def close(self) -> list[str]: ...


FIRST_LABEL = "Reading the question"
MAX_LABEL_CHARS = 48

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_TIMES = r"\s*(?:[×xX*·]|times)\s*"



def _fmt(number: str) -> str:
    return number.replace(",", "")


def _subject(sentence: str) -> str | None:
    """The customer a ledger sentence is about, when it names one."""
    patterns = (
        r"\bcustomer\s+([A-Za-z][\w-]*)",
        r"^\s*[-*•]?\s*([A-Za-z][\w-]*)\s*[:=(]",
        r"\b(?:for|of)\s+([A-Za-z][\w-]*)(?:'s)?\b",
        r"\b([A-Za-z][\w-]*)'s\b",
        r"\b([A-Z][a-z][\w-]*)\b",
        r"^\s*([A-Za-z][\w-]*)\b",
    )
    for pattern in patterns:
        for match in re.finditer(pattern, sentence):
            name = match.group(1)
            if name.lower() not in NOT_NAMES and not name.isdigit() and len(name) <= 20:
                return name
    return None




def _ledger_context(text: str) -> bool:
    return bool(re.search(r"refund|spen[dt]|customer|ledger|orders?\b", text, re.IGNORECASE))


# A rule: (pattern, label maker). The maker gets the match, the sentence and all thoughts so
# far, and returns a label or None (then the next rule is tried).
Maker = Callable[[re.Match[str], str, str], str | None]


def _fixed(label: str) -> Maker:
    return lambda _m, _s, _t: label


def _multiply(m: re.Match[str], _sentence: str, _text: str) -> str:
    a, b = _fmt(m.group(1)), _fmt(m.group(2))
    if len(a) == 1 and len(b) == 1:
        return "Multiplying digit by digit"
    return f"Multiplying {a} × {b}"


def _add(m: re.Match[str], sentence: str, _text: str) -> str:
    if re.search(r"partial|products", sentence, re.IGNORECASE):
        return "Adding the partial products"
    a, b = _fmt(m.group(1)), _fmt(m.group(2))
    if len(a) == 1 and len(b) == 1:
        return "Adding digit by digit"
    return f"Adding {a} + {b}"


def _subtract(m: re.Match[str], _sentence: str, _text: str) -> str:
    return f"Subtracting {_fmt(m.group(2))} from {_fmt(m.group(1))}"


def _divide(m: re.Match[str], sentence: str, text: str) -> str:
    if re.search(r"refund", sentence, re.IGNORECASE) or (
        _ledger_context(text) and re.search(r"ratio|half|%|share", sentence, re.IGNORECASE)
    ):
        return _refund_ratio(m, sentence, text)
    return f"Dividing {_fmt(m.group(1))} by {_fmt(m.group(2))}"


def _refund_ratio(_m: re.Match[str], sentence: str, _text: str) -> str:
    name = _subject(sentence)
    return f"Checking {possessive(name)} refund ratio" if name else "Checking refund ratios"


def _exclude(_m: re.Match[str], sentence: str, text: str) -> str:
    name = _subject(sentence)
    if name and _ledger_context(text):
        return f"Excluding {name}"
    return "Excluding heavy refunders" if _ledger_context(text) else "Filtering out cases"


def _keep(_m: re.Match[str], sentence: str, text: str) -> str | None:
    name = _subject(sentence)
    if name and _ledger_context(text):
        return f"Keeping {name}"
    return None


def _total(_m: re.Match[str], sentence: str, text: str) -> str | None:
    if not _ledger_context(text):
        return None
    name = _subject(sentence)
    return f"Totalling {possessive(name)} spend" if name else "Totalling spend per customer"


def _rank(m: re.Match[str], _sentence: str, text: str) -> str:
    if _ledger_context(text) and not re.match(r"order", m.group(0), re.IGNORECASE):
        return "Ranking the customers"
    return "Ranking the results"


def _ledger_line(m: re.Match[str], sentence: str, text: str) -> str | None:
    """``alice: orders 120 + 80 = 200`` — a customer's line being added up."""
    name = m.group(1)
    if name.lower() in NOT_NAMES or not _ledger_context(text):
        return None
    if not re.search(r"\d", sentence):
        return None
    return f"Totalling {possessive(name)} spend"


def _join(_m: re.Match[str], sentence: str, text: str) -> str:
    if re.search(r"refund", sentence + text, re.IGNORECASE) and re.search(
        r"order", sentence + text, re.IGNORECASE
    ):
        return "Joining orders and refunds"
    return "Joining the tables"


def _carry(m: re.Match[str], _sentence: str, _text: str) -> str:
    return "Handling the carries"


_RULES: tuple[tuple[re.Pattern[str], Maker], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), maker)
    for pattern, maker in (
        # Restating the task, or checking at the start of a sentence, beats any keyword inside.
        (r"\bquestion\b|\basks?\b|\basked\b|\b(?:user|they|you)\s+wants?\b|\bthe task\b",
         _fixed(FIRST_LABEL)),
        (r"^\W*(?:let me\s+|now\s+|then\s+)?(?:double[- ]?check|check|verify|confirm|sanity)",
         _fixed("Checking the result")),
        # SQL and data work
        (
            r"divi(?:de|sion) by zero|nullif|zero division|/\s*0\b",
            _fixed("Guarding against division by zero"),
        ),
        (r"\bjoin(?:s|ed|ing)?\b", _join),
        (r"\bgroup\s+by\b|\baggregat", _fixed("Grouping and aggregating")),
        (r"\bhaving\b", _fixed("Filtering groups with HAVING")),
        (r"\bwith\s+\w+\s+as\s*\(|\bcte\b", _fixed("Drafting a CTE")),
        (
            r"\bdate\b|\bmonth|\btimestamp|\binterval\b|\bbetween\b",
            _fixed("Checking the date window"),
        ),
        (r"\bselect\b|\bquery\b|\bsql\b", _fixed("Drafting the query")),
        # Ledger analysis
        (
            r"refund\w*\s+(?:ratio|share|rate)|more than half|over half|at most half"
            r"|exceeds? half|> ?(?:0\.5|50 ?%|half)",
            _refund_ratio,
        ),
        (rf"({_NUM})\s*/\s*({_NUM})", _divide),
        (r"^\s*[-*•]?\s*([A-Za-z][\w-]*)\s*:", _ledger_line),
        (r"\bexclud\w*|\bdrop(?:s|ped)?\b|\bremove[sd]?\b|\bdisqualif", _exclude),
        (r"\bkeep(?:s)?\b|\bkept\b|\bstays?\b|\bqualif(?:y|ies)\b", _keep),
        (r"\b(?:rank\w*|sort\w*|order\s+by|top\s*-?\s*\d+|highest|largest|biggest)\b", _rank),
        (r"\btotal\w*\b|\bspen[dt]\b|\bsum\b", _total),
        # Arithmetic scratchpads
        (r"\bcarr(?:y|ies|ied|ying)\b", _carry),
        (rf"({_NUM}){_TIMES}({_NUM})\s*=", _multiply),
        (rf"({_NUM})\s*\+\s*({_NUM})\s*=", _add),
        (rf"({_NUM})\s*[-−]\s*({_NUM})\s*=", _subtract),
        (rf"({_NUM})\s*÷\s*({_NUM})", _divide),
        (
            r"\bsplit\b|\bdecompos|\bbreak\w* (?:it|this|\d+) (?:down|into)|\bplace value",
            _fixed("Breaking the numbers apart"),
        ),
        (r"\bpartial product", _fixed("Working out partial products")),
        # Code
        (r"\btest\w*\b|\bassert\b", _fixed("Thinking about tests")),
        (r"\bedge case|\bempty\b|\bnone\b|\bnull\b|\boff-by-one", _fixed("Handling edge cases")),
        (r"\bcomplexity\b|\bo\(n", _fixed("Weighing complexity")),
        (r"\bbug\b|\btraceback\b|\bexception\b|\bfix\b", _fixed("Tracking down the bug")),
        (
            r"\bdef\b|\bfunction\b|\bclass\b|\brefactor|\bloop\b|\bvariable",
            _fixed("Drafting the code"),
        ),
        # General reasoning
        (r"\bdouble-check|\bverif|\bcheck\w*\b|\bconfirm|\bsanity", _fixed("Checking the result")),
        (r"\bconstraint|\bmust\b|\brequire", _fixed("Checking constraints")),
        (
            r"\b(?:so|thus|therefore)\b.*\banswer\b|\bfinal answer\b|\bthe answer is\b",
            _fixed("Settling on the answer"),
        ),
    )
)

# A sentence ends at a newline or ';', or at .!? followed by white space (so 0.5 stays whole).
_SENTENCE_END = re.compile(r"[\n;]|[.!?](?=\s)")
_RUN_ON_CHARS = 400


class KeywordNarrator:
    """Label each finished sentence by the first rule it matches; each label once, in order."""

    def __init__(self, max_steps: int = 16) -> None:
        self._scratchpad = Scratchpad()
        self._buffer = ""
        self._text = ""
        self._seen: set[str] = set()
        self._count = 0
        self._max_steps = max_steps

    def feed(self, thought_delta: str) -> list[str]:
        if not thought_delta:
            return []
        labels: list[str] = []
        if self._count == 0 and not self._seen and thought_delta.strip():
            self._emit(FIRST_LABEL, labels)
        self._buffer += thought_delta
        while True:
            match = _SENTENCE_END.search(self._buffer)
            if match is None:
                break
            sentence, self._buffer = self._buffer[: match.end()], self._buffer[match.end() :]
            self._label_sentence(sentence, labels)
        line_start = self._scratchpad.line_start(self._buffer)
        if line_start is not None:
            self._emit(line_start, labels)
        if len(self._buffer) > _RUN_ON_CHARS and not self._scratchpad.row_open:
            # a run-on thought still counts as a step reached
            rest, self._buffer = self._buffer, ""
            self._label_sentence(rest, labels)
        return labels

    def close(self) -> list[str]:
        labels: list[str] = []
        rest, self._buffer = self._buffer, ""
        if rest.strip():
            if self._count == 0 and not self._seen:
                self._emit(FIRST_LABEL, labels)
            self._label_sentence(rest, labels)
        return labels

    def _label_sentence(self, sentence: str, labels: list[str]) -> None:
        self._text += sentence
        if not sentence.strip():
            return
        claimed: list[str] = []
        if self._scratchpad.line(sentence, claimed):
            for label in claimed:
                self._emit(label, labels)
            return
        for pattern, maker in _RULES:
            match = pattern.search(sentence)
            if match is None:
                continue
            named = maker(match, sentence, self._text)
            if named is not None:
                self._emit(named, labels)
                return

    def _emit(self, label: str, labels: list[str]) -> None:
        if len(label) > MAX_LABEL_CHARS:
            label = label[: MAX_LABEL_CHARS - 1].rstrip() + "…"
        if label in self._seen or self._count >= self._max_steps:
            return
        self._seen.add(label)
        self._count += 1
        labels.append(label)
