"""Machine-checkable task families: the embedded model's whole world, and the bench's.

Two families, each at several difficulty levels and in several natural phrasings:

* ``arith`` — multi-digit arithmetic (``+``, ``−``, ``×``);
* ``ledger`` — "who are the top spenders, excluding customers who refunded more than
  half of their orders", over a small ledger written in the prompt.

Every problem is either *train* or *held-out*, decided by a hash of its content (the
operands, the ledger rows), never of its phrasing: a held-out problem is never seen in
training in any phrasing. :func:`generate` returns held-out problems unless asked otherwise.

Each family can also *solve* a prompt it recognises, writing the scratchpad the embedded
model is trained to produce (digit steps least-significant first, a worked total per
customer, a ranking built one customer at a time) — see :func:`solve`.
"""

from __future__ import annotations

import re
from typing import Protocol

from ponder.tasks import arith, ledger
from ponder.tasks.common import Problem, Solution, Split, Verdict, is_heldout

__all__ = [
    "Problem",
    "Solution",
    "Split",
    "Verdict",
    "families",
    "generate",
    "is_heldout",
    "learned_prompt",
    "recognise",
    "solve",
    "untrained",
    "verify",
]

class _Family(Protocol):
    """What each family module provides."""

    LEVELS: tuple[int, ...]

    def generate(self, level: int, n: int, seed: int, split: Split) -> list[Problem]: ...
    def verify(self, problem: Problem, output: str) -> Verdict: ...
    def parse(self, prompt: str) -> object | None: ...
    def solve(self, prompt: str) -> Solution | None: ...
    def learned_prompt(self, prompt: str) -> str | None: ...
    def decline_reason(self, prompt: str) -> str | None: ...


_FAMILIES: dict[str, _Family] = {"arith": arith, "ledger": ledger}
# Trailing lines wholly in parentheses: remarks after a question.
_REMARKS = re.compile(r"(?:\n[ \t]*\([^\n]*\)[ \t]*)+\s*\Z")


def families() -> dict[str, list[int]]:
    """Each family and its difficulty levels, easiest first."""
    return {name: list(module.LEVELS) for name, module in _FAMILIES.items()}


def generate(
    family: str, level: int, n: int, seed: int, *, split: Split = "heldout"
) -> list[Problem]:
    """``n`` problems of ``family`` at ``level``; the same arguments give the same problems.

    ``split`` is ``"heldout"`` (default: never trained on), ``"train"`` or ``"any"``.
    """
    module = _module(family)
    if level not in module.LEVELS:
        raise ValueError(f"{family!r} has levels {list(module.LEVELS)}, not {level}.")
    return module.generate(level, n, seed, split)


def verify(problem: Problem, output: str) -> Verdict:
    """Whether ``output`` (the answer text, thoughts excluded) gives ``problem``'s answer."""
    return _module(problem.family).verify(problem, output)


def recognise(prompt: str) -> str | None:
    """The family a free-form prompt belongs to, or None when it is out of the model's domain.

    Arithmetic is recognised only within the sizes the embedded model was trained on.
    """
    for name, module in _FAMILIES.items():
        if module.parse(prompt) is not None:
            return name
    return None


def learned_prompt(prompt: str) -> str | None:
    """``prompt`` as the embedded model learned to read it, or None when it never learned it.

    Exact: a question of a size and in a phrasing (up to case and spacing) that the task
    generators write. Lines in parentheses after the question (the bench's "(Your previous
    answer was rejected: …)") are dropped: the model never learned to read them.
    """
    question = _REMARKS.sub("", prompt)
    for module in _FAMILIES.values():
        learned = module.learned_prompt(question)
        if learned is not None:
            return learned
    return None


def untrained(prompt: str) -> str | None:
    """Why the embedded model was not trained to answer ``prompt``, or None when it was
    (exactly when :func:`learned_prompt` is not None).

    Stricter than :func:`recognise`, which the verifier uses on any model's answers: a ledger
    question of a size the model never saw, or "What is 52 + 77?", is recognised (and
    checkable) but untrained.
    """
    if learned_prompt(prompt) is not None:
        return None
    question = _REMARKS.sub("", prompt)
    for name in ("ledger", "arith"):  # a ledger has numbers; arithmetic has no ledger
        reason = _FAMILIES[name].decline_reason(question)
        if reason is not None:
            return reason
    return "This question is outside them."


def solve(prompt: str) -> Solution | None:
    """The reference scratchpad and answer for a recognised prompt, else None."""
    for module in _FAMILIES.values():
        solution = module.solve(prompt)
        if solution is not None:
            return solution
    return None


def _module(family: str) -> _Family:
    try:
        return _FAMILIES[family]
    except KeyError:
        raise ValueError(f"Unknown family {family!r}; known: {', '.join(_FAMILIES)}.") from None
