"""Cheap prompt features for the learned router: hashed n-grams, structure, rule category.

Everything here is pure Python plus numpy and runs in well under a millisecond for a typical
prompt. A prompt becomes one sparse vector of ``dim`` columns:

- columns ``[0, hash_dim)``: hashed word unigrams/bigrams and character n-grams of the
  prompt's first ``char_window`` characters. Numbers are replaced by their *shape*
  (``#3`` for a three-digit number) before hashing, so the router learns from how big the
  numbers are, never from which numbers they are.
- columns ``[hash_dim, hash_dim + len(STRUCTURE))``: raw structure figures (length, digits,
  operand sizes, operators, ledger rows, constraint words, …), see :data:`STRUCTURE`.

Hashing uses CRC-32 (stable across processes, unlike ``hash()``), so a saved model's columns
mean the same thing when it is loaded again.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

_WORDS = re.compile(r"\d+(?:\.\d+)?|[a-z]+|[^\sa-z\d]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_INTEGER_RUN = re.compile(r"\d+")
_FENCE = re.compile(r"```")
_ROW = re.compile(r"^[^\d\n]*\d", re.MULTILINE)  # lines that carry a number
_EXPLICIT = re.compile(
    r"\b(?:think (?:hard|carefully|deeply)|step[- ]by[- ]step|show (?:your|the) work"
    r"|reason (?:it )?(?:out|carefully))\b",
    re.IGNORECASE,
)
_CONSTRAINT_WORDS = (
    "exactly", "at least", "at most", "no more than", "must", "only", "without", "excluding",
    "except", "unless", "each", "every", "total", "sum", "balance", "net", "after", "before",
    "remaining", "refund", "first", "then", "finally",
)
_CONSTRAINT_PADDED = tuple(f" {w} " for w in _CONSTRAINT_WORDS)


_OPS = {
    "+": "+", "plus": "+", "-": "-", "−": "-", "–": "-", "minus": "-",
    "*": "*", "×": "*", "x": "*", "times": "*", "multiplied by": "*", "/": "/", "÷": "/",
    "divided by": "/",
}
_EXPR = re.compile(
    r"(?<![\w.])(\d+)\s*(\+|-|−|–|\*|×|x|/|÷|plus|minus|times|multiplied by|divided by)"
    r"\s*(\d+)(?![\w.])",
    re.IGNORECASE,
)
_LABELLED = re.compile(r"\b([a-z]+)[ :]+\d", re.IGNORECASE)  # "ann 42", "fee: 3"


def expressions(text: str) -> list[tuple[int, str, int]]:
    """``(digits of a, operator, digits of b)`` for each ``a op b`` in the text."""
    return [(len(a), _OPS[op.lower()], len(b)) for a, op, b in _EXPR.findall(text)]


def carries(a: str, op: str, b: str) -> int:
    """Column work in ``a op b``: carries of a sum, borrows of a difference, and for a
    product the digit pairs whose product carries (a classic difficulty measure)."""
    x, y = a[::-1], b[::-1]
    if op == "*":
        return sum(1 for p in x for q in y if int(p) * int(q) >= 10)
    if op not in "+-":
        return 0
    count, carry = 0, 0
    for i in range(max(len(x), len(y))):
        p = int(x[i]) if i < len(x) else 0
        q = int(y[i]) if i < len(y) else 0
        column = p + q + carry if op == "+" else p - q - carry
        carry = int(column >= 10) if op == "+" else int(column < 0)
        count += carry
    return count


def _structure(
    text: str, words: list[str], raw: list[tuple[str, str, str]]
) -> list[float]:
    """Structure figures; ``words`` is the lower-cased word list of ``text``, ``raw`` its
    ``a op b`` matches."""
    exprs = [(len(a), _OPS[op.lower()], len(b)) for a, op, b in raw]
    digits = sorted((len(m) for m in _INTEGER_RUN.findall(text)), reverse=True)
    joined = " " + " ".join(words) + " "
    top = digits[:2] + [0] * (2 - len(digits[:2]))
    ops = [op for _, op, _ in exprs]
    return [
        math.log1p(len(text)),
        math.log1p(len(words)),
        math.log1p(text.count("\n") + 1),
        float(len(_FENCE.findall(text)) // 2),
        math.log1p(sum(digits)),
        math.log1p(len(digits)),
        float(top[0]),
        float(top[0] + top[1]),
        float(sum(digits) / len(digits)) if digits else 0.0,
        float(len(exprs)),
        float(ops.count("+") + ops.count("-")),
        float(ops.count("*") + ops.count("/")),
        float(max((a + b for a, op, b in exprs if op in "*/"), default=0)),
        float(max((max(a, b) for a, op, b in exprs if op in "+-"), default=0)),
        float(sum(carries(a, _OPS[op.lower()], b) for a, op, b in raw if len(a) + len(b) < 30)),
        float(text.count("(")),
        math.log1p(len(_ROW.findall(text))),
        math.log1p(len({m.lower() for m in _LABELLED.findall(text)})),
        float(joined.count(" refund") + joined.count(" refunded ")),
        float(sum(joined.count(w) for w in _CONSTRAINT_PADDED)),
        float(text.count("?")),
        1.0 if _EXPLICIT.search(text) else 0.0,
    ]


#: Names of the structure columns, in order (they follow the hashed block).
STRUCTURE: tuple[str, ...] = (
    "log_chars", "log_words", "log_lines", "code_fences", "log_digits", "log_numbers",
    "max_operand_digits", "top2_operand_digits", "mean_operand_digits", "expressions",
    "add_sub_ops", "mul_div_ops", "mul_div_digits", "add_sub_digits", "carries", "parens",
    "log_number_lines", "log_labels", "refunds", "constraint_words", "question_marks",
    "explicit_think",
)


def explicit_think(text: str) -> str | None:
    """The phrase asking for slow thinking ("think hard", "step by step"), if the text has one."""
    match = _EXPLICIT.search(text)
    return match.group(0) if match else None


def clip(text: str, max_chars: int) -> str:
    """``text``, or its first three quarters and last quarter of ``max_chars`` when longer."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 3 // 4
    return text[:head] + "\n" + text[len(text) - (max_chars - head) :]


def _default_category(text: str) -> str:
    """The rule router's category for a text (:meth:`RuleRouter.categorise`)."""
    from ponder.router.rules import RuleRouter

    return RuleRouter.categorise(text)


@dataclass(frozen=True, slots=True)
class Featurizer:
    """Turns a prompt into ``(columns, values)``; its parameters are saved with a model."""

    hash_bits: int = 15
    char_ngrams: tuple[int, ...] = (3, 4)
    char_window: int = 200
    use_rule_category: bool = True
    # Longer prompts are read as their head and tail (see :func:`clip`), bounding the cost.
    max_chars: int = 2000
    category: Callable[[str], str] = field(default=_default_category, compare=False)

    @property
    def hash_dim(self) -> int:
        return 1 << self.hash_bits

    @property
    def dim(self) -> int:
        return self.hash_dim + len(STRUCTURE)

    def tokens(
        self,
        text: str,
        words: list[str] | None = None,
        exprs: list[tuple[int, str, int]] | None = None,
        category: str | None = None,
    ) -> list[str]:
        """The strings that get hashed (exposed for tests and debugging)."""
        if words is None:
            words = _WORDS.findall(text.lower())
        if exprs is None:
            exprs = expressions(text)
        words = [_shape(w) for w in words]
        out = ["w:" + w for w in words]
        # The shape of each calculation, whatever its phrasing: "x:4*2" for 1234 × 56.
        out.extend(f"x:{a}{op}{b}" for a, op, b in exprs)
        out.extend(f"x:{op}" for _, op, _ in exprs)
        out.extend(f"b:{a} {b}" for a, b in itertools.pairwise(words))
        head = _NUMBER.sub(lambda m: "#" * min(len(m.group(0)), 9), text[: self.char_window])
        head = " ".join(head.lower().split())
        for n in self.char_ngrams:
            out.extend("c:" + head[i : i + n] for i in range(len(head) - n + 1))
        if self.use_rule_category:
            out.append("rule:" + (category or self.category(text)))
        return out

    def transform(
        self, text: str, category: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Sparse row: sorted unique hashed columns (value 1) then the structure columns.

        ``category`` is the rule category when the caller has already computed it.
        """
        mask = self.hash_dim - 1
        full_length = len(text)
        text = clip(text, self.max_chars)
        words: list[str] = _WORDS.findall(text.lower())
        raw: list[tuple[str, str, str]] = _EXPR.findall(text)
        exprs = [(len(a), _OPS[op.lower()], len(b)) for a, op, b in raw]
        tokens = set(self.tokens(text, words, exprs, category))
        hashed = {zlib.crc32(t.encode()) & mask for t in tokens}
        columns = np.fromiter(
            (*sorted(hashed), *range(self.hash_dim, self.dim)), dtype=np.int64
        )
        structure = _structure(text, words, raw)
        structure[0] = math.log1p(full_length)
        values = np.concatenate([np.ones(len(hashed)), np.asarray(structure)])
        return columns, values

    def params(self) -> dict[str, Any]:
        return {
            "hash_bits": self.hash_bits,
            "char_ngrams": list(self.char_ngrams),
            "char_window": self.char_window,
            "use_rule_category": self.use_rule_category,
            "max_chars": self.max_chars,
            "structure": list(STRUCTURE),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Featurizer:
        if list(params.get("structure", STRUCTURE)) != list(STRUCTURE):
            raise ValueError("the saved router was built with different structure features")
        return cls(
            hash_bits=int(params["hash_bits"]),
            char_ngrams=tuple(int(n) for n in params["char_ngrams"]),
            char_window=int(params["char_window"]),
            use_rule_category=bool(params["use_rule_category"]),
            max_chars=int(params.get("max_chars", 2000)),
        )


def _shape(word: str) -> str:
    """A number's shape (``#3`` for ``123``, ``#2.1`` for ``12.5``); other words unchanged."""
    if not word[0].isdigit():
        return word
    whole, _, frac = word.partition(".")
    return f"#{len(whole)}.{len(frac)}" if frac else f"#{len(whole)}"


# The structure figures that tell how long a model takes on a prompt, and a scale for each
# so that one unit of distance is a comparable step (about e times the length, three more
# operand digits, one more calculation or a doubling of rows).
_TIMING_COLUMNS = (
    ("log_chars", 1.0), ("top2_operand_digits", 1 / 3), ("expressions", 0.5),
    ("log_number_lines", 1.5), ("log_labels", 1.0),
)  # fmt: skip


PROFILE_MAX_CHARS = 2000


def structure_profile(text: str) -> tuple[float, ...]:
    """A few scaled structure figures of ``text`` for comparing prompts by size (the
    estimator's similarity; see :mod:`ponder.estimate`)."""
    full_length = len(text)
    text = clip(text, PROFILE_MAX_CHARS)
    words: list[str] = _WORDS.findall(text.lower())
    figures = dict(zip(STRUCTURE, _structure(text, words, _EXPR.findall(text)), strict=True))
    figures["log_chars"] = math.log1p(full_length)
    return tuple(figures[name] * scale for name, scale in _TIMING_COLUMNS)
