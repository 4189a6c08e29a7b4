"""Multi-digit arithmetic: ``a + b``, ``a − b`` (a ≥ b) and ``a × b`` in natural phrasings.

Scratchpad (what deep mode writes): the sum restated with each digit tagged by its column
(``4821*37`` -> ``d4c8b2a1*b3a7``, units = ``a``), then one step per column, units first,
each step labelled with its column and showing its inputs and a two-digit result (carry or
borrow, then the digit), and finally the result's digits read back most significant first
(``=f1e7d8c3b7a7``). The tags turn "the k-th digit from the right" into a lookup by
label, which a tiny model learns far more easily than counting positions.
Multiplication by a two-digit ``b`` is two rows: ``a × b0``, then ``a × b1`` shifted one
column (its labels in capitals, ``B:``), then the two rows added column by column. The
answer is the readout without its tags and leading zeros.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ponder.tasks.common import Problem, Solution, Split, Verdict, in_split, problem_id

FAMILY = "arith"
LEVELS: tuple[int, ...] = (1, 2, 3, 4)
LEVEL_NAMES = {
    1: "2-digit + 1-digit addition (either order)",
    2: "3-4 digit addition and subtraction (larger number first)",
    3: "2-3 digit × 1 digit (2 to 9)",
    4: "3-4 digit × 2 digit",
}

_SYMBOLS = {"+": ("+",), "-": ("-", "−"), "*": ("*", "×", "x")}
_WORDS = {"+": ("plus",), "-": ("minus",), "*": ("times", "multiplied by")}
# template id -> (format, uses a word rather than a symbol)
TEMPLATES: dict[str, tuple[str, bool]] = {
    "what_sym": ("What is {a} {op} {b}?", False),
    "what_word": ("What is {a} {op} {b}?", True),
    "bare": ("{a}{op}{b}", False),
    "bare_eq": ("{a} {op} {b} = ?", False),
    "compute_word": ("compute {a} {op} {b}", True),
    "compute_sym": ("compute {a} {op} {b}", False),
    "calculate_sym": ("Calculate {a} {op} {b}.", False),
    "whats_word": ("What's {a} {op} {b}?", True),
    "how_much_word": ("How much is {a} {op} {b}?", True),
    "how_much_sym": ("How much is {a} {op} {b}?", False),
}

_OPERATOR = r"(\+|-|−|–|\*|×|x|X|plus|minus|times|multiplied\s+by)"
_EXPR = re.compile(r"(?<![\d.])(\d{1,9})\s*" + _OPERATOR + r"\s*(\d{1,9})(?!\d|\.\d)")
_OP_OF = {
    "+": "+", "plus": "+",
    "-": "-", "−": "-", "–": "-", "minus": "-",
    "*": "*", "×": "*", "x": "*", "X": "*", "times": "*",
}
_NUMBER = re.compile(r"-?\d[\d,]*")


@dataclass(frozen=True)
class Sum:
    a: int
    op: str  # "+", "-" or "*"
    b: int

    @property
    def key(self) -> str:
        return f"{self.a}{self.op}{self.b}"

    def value(self) -> int:
        if self.op == "+":
            return self.a + self.b
        if self.op == "-":
            return self.a - self.b
        return self.a * self.b


def _in_domain(s: Sum) -> bool:
    if s.op == "*":
        return 1 <= len(str(s.a)) <= 4 and 1 <= len(str(s.b)) <= 2
    if max(len(str(s.a)), len(str(s.b))) > 4:
        return False
    return s.op == "+" or s.a >= s.b


def parse(prompt: str) -> Sum | None:
    """The one arithmetic question in ``prompt`` the embedded model can do, else None."""
    matches = _EXPR.findall(prompt)
    if len(matches) != 1:
        return None
    a, word, b = matches[0]
    op = _OP_OF.get(word, "*" if word.startswith("multiplied") else None)
    if op is None:
        return None
    s = Sum(int(a), op, int(b))
    return s if _in_domain(s) else None


# A question the model learned, up to case, spacing and the final mark: one of TEMPLATES'
# lead-ins (or none), ``a op b`` and nothing else. Anything around it — "please", a second
# sentence — is text the model never saw, and it answers such prompts wrongly.
_LEARNED = re.compile(
    r"\s*(?:(?:what\s+is|what's|how\s+much\s+is|compute|calculate)\s+)?(\d{1,9})\s*"
    + _OPERATOR
    + r"\s*(\d{1,9})\s*(?:=\s*\?|[?.])?\s*",
    re.IGNORECASE,
)
_OP_NAMES = {"+": "+", "-": "-", "*": "×"}


def level_of(s: Sum) -> int | None:
    """The level whose operands ``s`` has, exactly as :func:`_operands` draws them, else None.

    These are the only sums the embedded model learned: 52 + 77 (2-digit + 2-digit) or
    2 + 2 are not among them, and it gets them wrong.
    """
    a, b = s.a, s.b
    if s.op == "+":
        if (10 <= a <= 99 and 1 <= b <= 9) or (1 <= a <= 9 and 10 <= b <= 99):
            return 1
        if 100 <= a <= 9999 and 100 <= b <= 9999:
            return 2
    elif s.op == "-":
        if 100 <= b <= a <= 9999:
            return 2
    else:
        if 10 <= a <= 999 and 2 <= b <= 9:
            return 3
        if 100 <= a <= 9999 and 10 <= b <= 99:
            return 4
    return None


def _phrasings(s: Sum) -> set[str]:
    """Every prompt :func:`generate` can write for ``s``."""
    texts = set()
    for fmt, wordy in TEMPLATES.values():
        for op in _WORDS[s.op] if wordy else _SYMBOLS[s.op]:
            if fmt == "{a}{op}{b}" and op == "x":
                continue
            texts.add(fmt.format(a=s.a, op=op, b=s.b))
    return texts


def _learned_sum(prompt: str) -> Sum | None:
    m = _LEARNED.fullmatch(prompt)
    if m is None:
        return None
    a, word, b = m.groups()
    op = _OP_OF.get(word.lower(), "*" if word.lower().startswith("multiplied") else None)
    return None if op is None else Sum(int(a), op, int(b))


def learned_prompt(prompt: str) -> str | None:
    """``prompt`` as the embedded model learned to read it, or None when it did not learn it.

    A prompt :func:`generate` could have written comes back unchanged; a learned question in
    another case or spacing ("what is 4821*37") comes back as "What is 4821 * 37?".
    """
    s = _learned_sum(prompt)
    if s is None or level_of(s) is None:
        return None
    text = prompt.strip()
    return text if text in _phrasings(s) else f"What is {s.a} {s.op} {s.b}?"


def decline_reason(prompt: str) -> str | None:
    """Why the embedded model would not answer the arithmetic in ``prompt``; None when it
    learned it or when ``prompt`` asks no arithmetic."""
    if learned_prompt(prompt) is not None:
        return None
    matches = _EXPR.findall(prompt)
    if not matches:
        return None
    if len(matches) > 1:
        return "It asks more than one calculation; I learned one at a time."
    a, word, b = matches[0]
    op = _OP_OF.get(word, "*" if word.startswith("multiplied") else "+")
    s = Sum(int(a), op, int(b))
    if level_of(s) is None:
        size = f"{len(str(s.a))}-digit {_OP_NAMES[op]} {len(str(s.b))}-digit"
        if op == "-" and s.a < s.b:
            size += " with a negative result"
        return (
            f"{s.a} {_OP_NAMES[op]} {s.b} is {size}, a size I was not trained on; I know"
            " exactly these: " + "; ".join(LEVEL_NAMES.values()) + "."
        )
    return (
        f"I learned sums like {s.a} {_OP_NAMES[op]} {s.b} only asked plainly"
        f" (\"What is {s.a} {op} {s.b}?\"), with no other words around them."
    )


def _digits(n: int, count: int) -> list[int]:
    """The ``count`` lowest digits of ``n``, least significant first (zero-padded)."""
    return [(n // 10**k) % 10 for k in range(count)]


COLUMNS = "abcdefgh"  # column labels, units first: the index hints steps look digits up by


def labelled(n: int) -> str:
    """``n`` with each digit tagged by its column, most significant first: 4821 -> d4c8b2a1."""
    text = str(n)
    return "".join(COLUMNS[len(text) - 1 - i] + d for i, d in enumerate(text))


def _column_steps(op: str, xs: list[int], ys: list[int], first: int = 0) -> list[str]:
    """One step per column, units first: ``c:x+y+carry=vv`` (or ``-`` with a borrow)."""
    carry, steps = 0, []
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        label = COLUMNS[first + k]
        if op == "+":
            v = x + y + carry
            steps.append(f"{label}:{x}+{y}+{carry}={v:02d}")
            carry = v // 10
        else:
            v = x - y - carry
            borrow = int(v < 0)
            steps.append(f"{label}:{x}-{y}-{carry}={borrow}{v % 10}")
            carry = borrow
    return steps


def _row(da: list[int], m: int, first: int) -> list[str]:
    """``a × m`` one column at a time, the row starting at column ``first``: ``b:7*8+5=61``.

    The second row's labels are capitals (``B:7*3+5=26``), so when the rows are added, "row
    one's digit in column b" and "row two's" are two different labels to look up (``b:``
    and ``B:``) rather than the same label told apart by position.
    """
    carry, steps = 0, []
    for k, x in enumerate(da):
        v = x * m + carry
        label = COLUMNS[first + k]
        steps.append(f"{label.upper() if first else label}:{x}*{m}+{carry}={v:02d}")
        carry = v // 10
    return steps


def _row_digits(steps: list[str], width: int, first: int) -> list[int]:
    """A row's digits by column (zero where the row has none), units first."""
    digits = [0] * width
    for k, step in enumerate(steps):
        digits[first + k] = int(step[-1])
    return digits


def scratchpad(s: Sum) -> str:
    lines = [f"{labelled(s.a)}{s.op}{labelled(s.b)}"]
    if s.op in "+-":
        width = max(len(str(s.a)), len(str(s.b))) + 1
        steps = _column_steps(s.op, _digits(s.a, width), _digits(s.b, width))
        return "\n".join([*lines, " ".join(steps), _readout(steps)])
    # Long multiplication: one row per digit of b (each row a plain x*m+carry walk, shifted
    # one column per row), then the rows added column by column. Two-term steps only: a
    # step that multiplies and adds two numbers at once is where a small model slips.
    n = len(str(s.a))
    da = _digits(s.a, n + 1)
    rows = [_row(da, m, first=row) for row, m in enumerate(_digits(s.b, len(str(s.b))))]
    lines += [" ".join(steps) for steps in rows]
    if len(rows) == 1:
        return "\n".join([*lines, _readout(rows[0])])
    width = n + len(rows)
    total = _row_digits(rows[0], width, 0)
    for row, steps in enumerate(rows[1:], start=1):
        added = _column_steps("+", total, _row_digits(steps, width, row))
        total = [int(step[-1]) for step in added]
    lines.append(" ".join(added))
    return "\n".join([*lines, _readout(added)])


def _readout(steps: list[str]) -> str:
    """The last row's digits, most significant column first, still tagged: ``=f1e7d8c3b7a7``."""
    return "=" + "".join(step[0] + step[-1] for step in reversed(steps))


def solve(prompt: str) -> Solution | None:
    s = parse(prompt)
    if s is None:
        return None
    return Solution(FAMILY, scratchpad(s), str(s.value()))


def _operands(level: int, rng: random.Random) -> Sum:
    if level == 1:
        a, b = rng.randint(10, 99), rng.randint(1, 9)
        return Sum(a, "+", b) if rng.random() < 0.7 else Sum(b, "+", a)
    if level == 2:
        da, db = rng.choice((3, 4)), rng.choice((3, 4))
        a = rng.randint(10 ** (da - 1), 10**da - 1)
        b = rng.randint(10 ** (db - 1), 10**db - 1)
        if rng.random() < 0.5:
            return Sum(a, "+", b)
        return Sum(max(a, b), "-", min(a, b))
    if level == 3:
        return Sum(rng.randint(10, 999), "*", rng.randint(2, 9))
    return Sum(rng.randint(100, 9999), "*", rng.randint(10, 99))


def phrase(s: Sum, template: str, rng: random.Random) -> str:
    fmt, wordy = TEMPLATES[template]
    op = rng.choice(_WORDS[s.op] if wordy else _SYMBOLS[s.op])
    if fmt == "{a}{op}{b}" and op == "x":
        op = "*"  # "347x28" reads as a word, not a product
    return fmt.format(a=s.a, op=op, b=s.b)


def generate(level: int, n: int, seed: int, split: Split) -> list[Problem]:
    rng = random.Random(f"{FAMILY}:{level}:{seed}:{split}")
    problems: list[Problem] = []
    seen: set[str] = set()
    attempts = 0
    while len(problems) < n:
        attempts += 1
        s = _operands(level, rng)
        if not in_split(s.key, split):
            continue
        if s.key in seen and attempts < 50 * n:
            continue
        seen.add(s.key)
        template = rng.choice(sorted(TEMPLATES))
        problems.append(
            Problem(
                id=problem_id(FAMILY, level, s.key + "/" + str(len(problems))),
                family=FAMILY,
                level=level,
                template=template,
                prompt=phrase(s, template, rng),
                answer=str(s.value()),
            )
        )
    return problems


def extract(output: str) -> str | None:
    """The last integer in ``output`` (thousands separators allowed), as digits."""
    numbers = _NUMBER.findall(output)
    if not numbers:
        return None
    last: str = numbers[-1]
    return last.replace(",", "")


def verify(problem: Problem, output: str) -> Verdict:
    got = extract(output)
    if got is None:
        return Verdict(False, "no number in the answer", None)
    if got.lstrip("-").isdigit() and int(got) == int(problem.answer):
        return Verdict(True, "exact", got)
    return Verdict(False, f"expected {problem.answer}, got {got}", got)
