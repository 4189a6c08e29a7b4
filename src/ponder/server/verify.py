"""Verdicts for the UI's race view: is this answer to this prompt right?

Two sources, in order:
1. the embedded model's task families (:mod:`ponder.tasks`), which recognise their own prompts
   (the ledger "top spenders" task, arithmetic in its several phrasings) and verify answers;
2. a small parser for free-form arithmetic prompts ("What is 347 × 28?", "347*28",
   "compute 347 times 28", "(12 + 3) * 4", "the product of 12 and 34"). It is a recursive
   descent over + − × ÷ and parentheses on exact fractions: no ``eval``, bounded input, no
   exponentiation, so a prompt cannot make it run long or allocate much.

Anything else is "not verifiable", which the UI shows as such rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from ponder import tasks

MAX_PROMPT_CHARS = 20_000
MAX_ARITHMETIC_PROMPT_CHARS = 500  # a longer prompt is not a bare arithmetic question
MAX_EXPRESSION_CHARS = 200
MAX_DIGITS = 40  # per number literal
MAX_NUMBERS = 16


@dataclass(frozen=True, slots=True)
class Verdict:
    verifiable: bool
    ok: bool | None
    expected: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the arithmetic parser -------------------------------------------------------------------

_WORD_OPS: tuple[tuple[str, str], ...] = (
    (r"\bmultiplied\s+by\b", "*"),
    (r"\btimes\b", "*"),
    (r"\bdivided\s+by\b", "/"),
    (r"\bover\b", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"[×✕✖·⋅]", "*"),
    (r"(?<=\d)\s*[xX]\s*(?=\d)", "*"),
    (r"[÷∶]", "/"),
    (r"[−–—]", "-"),
)
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bproduct\s+of\s+(\S+)\s+and\s+(\S+)", r"\1 * \2"),
    (r"\bsum\s+of\s+(\S+)\s+and\s+(\S+)", r"\1 + \2"),
    (r"\bdifference\s+(?:between|of)\s+(\S+)\s+and\s+(\S+)", r"\1 - \2"),
    (r"\bquotient\s+of\s+(\S+)\s+and\s+(\S+)", r"\1 / \2"),
    (r"\bmultiply\s+(\S+)\s+(?:by|and)\s+(\S+)", r"\1 * \2"),
    (r"\badd\s+(\S+)\s+(?:and|to)\s+(\S+)", r"\1 + \2"),
    (r"\bsubtract\s+(\S+)\s+from\s+(\S+)", r"\2 - \1"),
    (r"\bdivide\s+(\S+)\s+by\s+(\S+)", r"\1 / \2"),
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_EXPRESSION = re.compile(r"[\d(][\d\s+\-*/().]*[\d)]")
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([-+*/()]))")


class _ParseError(ValueError):
    pass


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | atom ; atom := number | '(' expr ')'"""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise _ParseError(f"unexpected character at {pos}")
            number, op = match.groups()
            if number is not None and len(number) > MAX_DIGITS:
                raise _ParseError("number too long")
            self.tokens.append(number if number is not None else op)
            pos = match.end()
        self.i = 0
        self.depth = 0

    def parse(self) -> Fraction:
        value = self.expr()
        if self.i != len(self.tokens):
            raise _ParseError("trailing input")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _ParseError("unexpected end")
        self.i += 1
        return token

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.unary()
            if op == "*":
                value = value * right
            else:
                if right == 0:
                    raise _ParseError("division by zero")
                value = value / right
        return value

    def unary(self) -> Fraction:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.atom()

    def atom(self) -> Fraction:
        token = self.take()
        if token == "(":
            self.depth += 1
            if self.depth > 20:
                raise _ParseError("too deeply nested")
            value = self.expr()
            if self.take() != ")":
                raise _ParseError("missing )")
            self.depth -= 1
            return value
        if token[0].isdigit():
            return Fraction(token)
        raise _ParseError(f"unexpected {token!r}")


def _normalise(prompt: str) -> str:
    text = _THOUSANDS.sub("", prompt)
    for pattern, replacement in _PHRASES:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    for pattern, symbol in _WORD_OPS:
        text = re.sub(pattern, f" {symbol} ", text, flags=re.IGNORECASE)
    return text


def arithmetic_expression(prompt: str) -> str | None:
    """The arithmetic expression a prompt asks about, normalised, or None."""
    if len(prompt) > MAX_ARITHMETIC_PROMPT_CHARS:
        return None
    text = _normalise(prompt)
    best: str | None = None
    for match in _EXPRESSION.finditer(text):
        candidate = " ".join(match.group(0).split())
        # Trailing sentence dots ("What is 2 + 2.") are not part of the expression.
        candidate = candidate.rstrip(".").strip()
        numbers = re.findall(r"\d+(?:\.\d+)?", candidate)
        if len(numbers) < 2 or len(numbers) > MAX_NUMBERS:
            continue
        if not re.search(r"[-+*/]", candidate) or len(candidate) > MAX_EXPRESSION_CHARS:
            continue
        if best is None or len(candidate) > len(best):
            best = candidate
    return best


def evaluate(expression: str) -> Fraction:
    """Evaluate a normalised expression exactly. Raises ValueError when it is not one."""
    return _Parser(expression).parse()


def format_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


_ANSWER_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def final_number(answer: str) -> Fraction | None:
    """The last number in an answer (thousands separators allowed), as a fraction."""
    text = _THOUSANDS.sub("", answer)
    text = re.sub(r"(?<=\d)[\u2009\u202f ](?=\d{3}\b)", "", text)  # 9 716 -> 9716
    numbers = _ANSWER_NUMBER.findall(text)
    if not numbers:
        return None
    try:
        return Fraction(numbers[-1])
    except (ValueError, ZeroDivisionError):
        return None


def verify_arithmetic(prompt: str, answer: str) -> Verdict | None:
    expression = arithmetic_expression(prompt)
    if expression is None:
        return None
    try:
        expected = evaluate(expression)
    except ValueError:
        return None
    shown = format_number(expected)
    got = final_number(answer)
    if got is None:
        return Verdict(True, False, shown, f"no number in the answer; {expression} = {shown}")
    if expected.denominator == 1:
        ok = got == expected
    else:
        ok = abs(float(got) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
    return Verdict(True, ok, shown, f"arithmetic: {expression} = {shown}")


# --- the task families -----------------------------------------------------------------------


def verify_with_tasks(prompt: str, answer: str) -> Verdict | None:
    """The embedded model's task families: recognise the prompt, solve it, check the answer."""
    if len(prompt) > MAX_PROMPT_CHARS:
        return None
    family = tasks.recognise(prompt)
    if family is None:
        return None
    solution = tasks.solve(prompt)
    if solution is None:
        return None
    problem = tasks.Problem(
        id="ui", family=family, level=0, template="free", prompt=prompt, answer=solution.answer
    )
    verdict = tasks.verify(problem, answer)
    return Verdict(True, verdict.ok, solution.answer, f"{family} task verifier: {verdict.reason}")


def _compound(prompt: str) -> bool:
    """Arithmetic bigger than one ``a op b`` (parentheses, ÷, three operands) anywhere in the
    prompt, however long the prompt is."""
    for match in _EXPRESSION.finditer(_normalise(prompt[:MAX_PROMPT_CHARS])):
        candidate = match.group(0)
        if not re.search(r"[-+*/]", candidate):
            continue
        if re.search(r"[()/]", candidate) or len(re.findall(r"\d+", candidate)) > 2:
            return True
    return False


def verify(prompt: str, answer: str) -> Verdict:
    """The verdict for one prompt and answer; never raises.

    A compound arithmetic prompt goes to the expression parser even when a task family also
    recognises a two-operand piece of it: "(12 + 3) * 4" is 60, not 15.
    """
    sources = (verify_arithmetic,) if _compound(prompt) else (verify_with_tasks, verify_arithmetic)
    for source in sources:
        verdict = source(prompt, answer)
        if verdict is not None:
            return verdict
    return Verdict(False, None, None, "no verifier recognises this prompt")
