"""Top spenders over a small ledger, excluding customers who refunded more than half of
their orders — the analyst's classic, small enough to write in the prompt.

A customer's spend is the total of their orders. A customer is excluded when
``2 × refunds > orders`` (counts). The answer names the top ``k`` remaining customers,
highest spend first.

Scratchpad, every step a lookup or a two-digit sum a small model can make:

* one line per customer, alphabetically: their order amounts, the total (a sum of two
  amounts worked column by column, units first), the order count, the refunded amounts and
  their count, and ``ok``/``out``::

      ivy 64+49: 4+9+0=13 6+4+1=11 =113 orders 2 refunds =0 ok
      ray 58 =058 orders 1 refunds 58 =1 out

* then a ranking built one customer at a time, in the same order: each kept customer's
  total compared with every entry of the ranking so far, then the new ranking (top ``k``)::

      ivy 113: ivy 113
      ned 071 vs 113 <: ivy 113, ned 071
      ray out: ivy 113, ned 071

Why this shape: a count is read off the items just written (a small model's attention
averages over matches, so it cannot count a name's rows in one glance, but it can copy them
one by one), and a comparison's sign comes after both numbers are on the line. Totals are
written with three digits so that comparing two of them is digit by digit.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ponder.tasks.common import Problem, Solution, Split, Verdict, in_split, problem_id

FAMILY = "ledger"
LEVELS: tuple[int, ...] = (1, 2, 3)
# level -> (customers, orders, refunds, top k)
SHAPES = {1: (3, 3, 2, 1), 2: (4, 5, 2, 2), 3: (5, 6, 3, 2)}
LEVEL_NAMES = {
    1: "3 customers, 3 orders, 2 refunds, top 1",
    2: "4 customers, 5 orders, 2 refunds, top 2",
    3: "5 customers, 6 orders, 3 refunds, top 2",
}
NAMES = (
    "ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo",
    "kai", "lu", "max", "ned", "ola", "pat", "ray", "sue", "tom", "val",
)  # fmt: skip

TEMPLATES = ("lists", "semicolons", "lines")
QUESTIONS = ("who", "name", "which")

Row = tuple[str, str, int]  # (kind "order"/"refund", customer, amount)


@dataclass(frozen=True)
class Ledger:
    rows: tuple[Row, ...]
    k: int

    @property
    def key(self) -> str:
        orders = ",".join(f"{c}{a}" for kind, c, a in self.rows if kind == "order")
        refunds = ",".join(f"{c}{a}" for kind, c, a in self.rows if kind == "refund")
        return f"{orders}|{refunds}|{self.k}"


@dataclass
class _State:
    total: int = 0
    orders: int = 0
    refunds: int = 0

    @property
    def kept(self) -> bool:
        return 2 * self.refunds <= self.orders


def _states(ledger: Ledger) -> dict[str, _State]:
    states: dict[str, _State] = {}
    for kind, customer, amount in ledger.rows:
        st = states.setdefault(customer, _State())
        if kind == "order":
            st.total += amount
            st.orders += 1
        else:
            st.refunds += 1
    return states


def top(ledger: Ledger) -> list[str]:
    states = _states(ledger)
    kept = [c for c, st in states.items() if st.kept]
    kept.sort(key=lambda c: -states[c].total)
    return kept[: ledger.k]


def _sum_steps(x: int, y: int) -> str:
    """``x + y`` column by column, units first: ``64+49: 4+9+0=13 6+4+1=11 =113``."""
    width = max(len(str(x)), len(str(y)))
    carry, steps = 0, []
    for k in range(width):
        v = (x // 10**k) % 10 + (y // 10**k) % 10 + carry
        steps.append(f"{(x // 10**k) % 10}+{(y // 10**k) % 10}+{carry}={v:02d}")
        carry = v // 10
    return f"{x}+{y}: {' '.join(steps)} ={x + y:03d}"


def _total_steps(amounts: list[int]) -> str:
    """A customer's order amounts and their total: ``71 =071`` or a worked sum."""
    if not amounts:  # only refunds (a prompt the generator never writes, but a user may)
        return "=000"
    if len(amounts) == 1:
        return f"{amounts[0]} ={amounts[0]:03d}"
    parts, total = [], amounts[0]
    for amount in amounts[1:]:
        parts.append(_sum_steps(total, amount))
        total += amount
    return " then ".join(parts)


def _ranking(entries: list[tuple[str, int]]) -> str:
    return ", ".join(f"{c} {t:03d}" for c, t in entries) if entries else "none"


def scratchpad(ledger: Ledger) -> str:
    states = _states(ledger)
    customers = sorted(states)
    lines = []
    for customer in customers:
        st = states[customer]
        amounts = [a for kind, c, a in ledger.rows if kind == "order" and c == customer]
        refunds = "".join(f"{a} " for kind, c, a in ledger.rows
                          if kind == "refund" and c == customer)
        verdict = "ok" if st.kept else "out"
        lines.append(f"{customer} {_total_steps(amounts)} orders {st.orders} "
                     f"refunds {refunds}={st.refunds} {verdict}")
    for customer, st, before, after in _ranking_steps(ledger, states):
        if not st.kept:
            lines.append(f"{customer} out: {_ranking(after)}")
            continue
        comparisons = "".join(f" vs {t:03d} {'>' if st.total > t else '<'}" for _, t in before)
        lines.append(f"{customer} {st.total:03d}{comparisons}: {_ranking(after)}")
    return "\n".join(lines)


def _ranking_steps(
    ledger: Ledger, states: dict[str, _State]
) -> Iterator[tuple[str, _State, list[tuple[str, int]], list[tuple[str, int]]]]:
    """The scratchpad's ranking, one customer at a time in name order: each customer with
    the top-k ranking before and after it (an excluded customer leaves it unchanged)."""
    ranking: list[tuple[str, int]] = []
    for customer in sorted(states):
        st = states[customer]
        before = ranking
        if st.kept:
            ranking = sorted([*ranking, (customer, st.total)], key=lambda e: -e[1])[: ledger.k]
        yield customer, st, before, ranking


def shape(ledger: Ledger) -> tuple[int, int, int, int]:
    """(customers, orders, refunds, top k): the size of a ledger question."""
    orders = sum(1 for kind, _, _ in ledger.rows if kind == "order")
    customers = len({c for _, c, _ in ledger.rows})
    return customers, orders, len(ledger.rows) - orders, ledger.k


def untrained(ledger: Ledger) -> str | None:
    """Why the embedded model was not trained on a ledger like this one, or None.

    It learned exactly the shapes of :data:`SHAPES`, with amounts of 5 to 99. On other sizes
    it is right 0–97.5% of the time (median 50%, ``benchmarks/ledger_sizes.py``), so ponder says
    so instead of guessing.
    """
    customers, orders, refunds, k = shape(ledger)
    if (customers, orders, refunds, k) not in SHAPES.values():
        return (f"This ledger has {customers} customers, {orders} orders and {refunds} "
                f"refunds (top {k}), a size I was not trained on; I know exactly these: "
                + "; ".join(LEVEL_NAMES.values()) + ".")
    if any(amount > 99 for _, _, amount in ledger.rows):
        return "This ledger has amounts over 99; I was trained on amounts of 5 to 99."
    if any(amount < 5 for _, _, amount in ledger.rows):
        return "This ledger has amounts under 5; I was trained on amounts of 5 to 99."
    strangers = sorted({c for _, c, _ in ledger.rows} - set(NAMES))
    if strangers:
        return (f"This ledger names {', '.join(strangers)}; I only know these customers: "
                + ", ".join(NAMES) + ".")
    unrefunded = [(c, a) for kind, c, a in ledger.rows if kind == "order"]
    for kind, customer, amount in ledger.rows:
        if kind == "refund":
            if (customer, amount) not in unrefunded:
                return (f"The refund {customer} {amount} matches no order of {customer}'s; I"
                        " learned refunds of orders in the ledger.")
            unrefunded.remove((customer, amount))
    states = _states(ledger)
    totals = [st.total for st in states.values()]
    if len(set(totals)) != len(totals):
        return "Two customers in this ledger spent the same; I learned ledgers without ties."
    if sum(st.kept for st in states.values()) < ledger.k:
        return f"Fewer than {ledger.k} customers in this ledger are left after the refund rule."
    return None


def _spaced(text: str) -> str:
    """``text`` with single spaces, no blank lines and no space at either end of a line."""
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    return "\n".join(line for line in lines if line)


def _normal(text: str) -> str:
    return _spaced(text).casefold()


def learned_prompt(prompt: str) -> str | None:
    """``prompt`` as the embedded model learned it, or None when it did not learn it.

    The ledger must be of a learned size (:func:`untrained`) and the prompt one that
    :func:`phrase` writes, up to case and spacing; the phrase is what comes back. A question
    with another rule ("refunded less than half") or more words is not one it learned.
    """
    ledger = parse(_spaced(prompt))
    if ledger is None or untrained(ledger) is not None:
        return None
    text = _normal(prompt)
    for template in TEMPLATES:
        for question in QUESTIONS:
            canonical = phrase(ledger, template, question)
            if _normal(canonical) == text:
                return canonical
    return None


def decline_reason(prompt: str) -> str | None:
    """Why the embedded model would not answer the ledger question in ``prompt``; None when
    it learned it or when ``prompt`` is no ledger question."""
    ledger = parse(_spaced(prompt))
    if ledger is None or learned_prompt(prompt) is not None:
        return None
    return untrained(ledger) or (
        "I learned this ledger question only in the words of my examples"
        " (\"Who are the top 2 spenders, excluding customers who refunded more than half of"
        " their orders?\"), with the ledger before it and nothing else around it."
    )


def close_calls(ledger: Ledger) -> int:
    """How many of the ranking's comparisons only the units digit decides (``051 vs 052``).

    They are the ranking's hardest step and about one comparison in fifteen, so training
    draws extra problems that have one (:mod:`ponder.train.data`).
    """
    return sum(
        1
        for _, st, before, _ in _ranking_steps(ledger, _states(ledger))
        if st.kept
        for _, t in before
        if t // 10 == st.total // 10
    )


def answer(ledger: Ledger) -> str:
    return ", ".join(top(ledger))


def _question(k: int, style: str) -> str:
    rule = "customers who refunded more than half of their orders"
    if style == "who":
        subject = "Who is the top spender" if k == 1 else f"Who are the top {k} spenders"
        return f"{subject}, excluding {rule}?"
    if style == "name":
        subject = "Name the top spender" if k == 1 else f"Name the top {k} spenders"
        return f"{subject} by total orders, ignoring {rule}."
    subject = "Which customer spent the most" if k == 1 else f"Which {k} customers spent the most"
    return f"{subject}, not counting {rule}?"


def phrase(ledger: Ledger, template: str, question: str) -> str:
    q = _question(ledger.k, question)
    if template == "lines":
        verbs = {"order": "ordered", "refund": "refunded"}
        body = "\n".join(f"{c} {verbs[kind]} {a}" for kind, c, a in ledger.rows)
        return f"Ledger:\n{body}\n{q}"
    sep = ", " if template == "lists" else "; "
    orders = sep.join(f"{c} {a}" for kind, c, a in ledger.rows if kind == "order")
    refunds = sep.join(f"{c} {a}" for kind, c, a in ledger.rows if kind == "refund")
    head = "Orders: " if template == "lists" else "Orders (customer amount): "
    return f"{head}{orders}. Refunds: {refunds}. {q}"


_PAIR = re.compile(r"\b([a-z]{2,3}) (\d{1,3})\b")
_LINE = re.compile(r"^([a-z]{2,3}) (ordered|refunded) (\d{1,3})$", re.MULTILINE)
_K = re.compile(r"\btop (\d) spenders\b|\bWhich (\d) customers\b")


def parse(prompt: str) -> Ledger | None:
    """The ledger question in ``prompt``, in one of the trained shapes, else None."""
    if "refund" not in prompt.lower() or "half" not in prompt:
        return None
    if "top spender" in prompt or "Which customer spent" in prompt:
        k = 1
    else:
        m = _K.search(prompt)
        if m is None:
            return None
        k = int(m.group(1) or m.group(2))
    rows: list[Row] = []
    if prompt.startswith("Ledger:"):
        for customer, verb, amount in _LINE.findall(prompt):
            rows.append(("order" if verb == "ordered" else "refund", customer, int(amount)))
    else:
        m = re.search(r"Orders[^:]*:(.*?)\.\s*Refunds:(.*?)\.", prompt, re.DOTALL)
        if m is None:
            return None
        rows += [("order", c, int(a)) for c, a in _PAIR.findall(m.group(1))]
        rows += [("refund", c, int(a)) for c, a in _PAIR.findall(m.group(2))]
    customers = {c for _, c, _ in rows}
    if not rows or len(customers) > 6 or len(rows) > 14 or k > len(customers):
        return None
    return Ledger(tuple(rows), k)


def solve(prompt: str) -> Solution | None:
    ledger = parse(prompt)
    if ledger is None:
        return None
    return Solution(FAMILY, scratchpad(ledger), answer(ledger))


def draw(shape: tuple[int, int, int, int], rng: random.Random) -> Ledger | None:
    """A random ledger of ``shape`` (customers, orders, refunds, top k), as the levels are
    drawn; None for a draw the generator rejects (tied totals, too few kept customers)."""
    n_customers, n_orders, n_refunds, k = shape
    customers = rng.sample(NAMES, n_customers)
    owners = customers + [rng.choice(customers) for _ in range(n_orders - n_customers)]
    rng.shuffle(owners)
    orders = [(c, rng.randint(5, 99)) for c in owners]
    refunded = sorted(rng.sample(range(n_orders), n_refunds))
    refund_rows = [("refund", orders[i][0], orders[i][1]) for i in refunded]
    interleave = rng.random() < 0.5
    rows: list[Row] = []
    for i, (c, a) in enumerate(orders):
        rows.append(("order", c, a))
        if interleave and i in refunded:
            rows.append(("refund", c, a))
    if not interleave:
        rows += refund_rows
    ledger = Ledger(tuple(rows), k)
    states = _states(ledger)
    totals = [st.total for st in states.values()]
    kept = [c for c, st in states.items() if st.kept]
    if len(set(totals)) != len(totals) or len(kept) < k:
        return None
    # Most problems are ones where ignoring the refund rule gives a wrong answer.
    naive = sorted(states, key=lambda c: -states[c].total)[:k]
    if naive == top(ledger) and rng.random() < 0.7:
        return None
    return ledger


def generate(level: int, n: int, seed: int, split: Split) -> list[Problem]:
    rng = random.Random(f"{FAMILY}:{level}:{seed}:{split}")
    problems: list[Problem] = []
    seen: set[str] = set()
    while len(problems) < n:
        ledger = draw(SHAPES[level], rng)
        if ledger is None or ledger.key in seen or not in_split(ledger.key, split):
            continue
        seen.add(ledger.key)
        interleaved = any(
            kind == "refund" and i + 1 < len(ledger.rows) and ledger.rows[i + 1][0] == "order"
            for i, (kind, _, _) in enumerate(ledger.rows)
        )
        template = "lines" if interleaved else rng.choice(TEMPLATES)
        question = rng.choice(QUESTIONS)
        problems.append(
            Problem(
                id=problem_id(FAMILY, level, ledger.key),
                family=FAMILY,
                level=level,
                template=f"{template}/{question}",
                prompt=phrase(ledger, template, question),
                answer=answer(ledger),
            )
        )
    return problems


def extract(problem: Problem, output: str) -> list[str]:
    """The customer names of ``problem``'s ledger mentioned in ``output``, in order."""
    ledger = parse(problem.prompt)
    known = {c for _, c, _ in ledger.rows} if ledger else set(NAMES)
    found: list[str] = []
    for word in re.findall(r"[A-Za-z]+", output):
        name = word.lower()
        if name in known and name not in found:
            found.append(name)
    return found


def verify(problem: Problem, output: str) -> Verdict:
    names = extract(problem, output)
    extracted = ", ".join(names) if names else None
    expected = [c.strip() for c in problem.answer.split(",")]
    if not names:
        return Verdict(False, "no customer named in the answer", None)
    if set(names) == set(expected):
        return Verdict(True, "exact", extracted)
    return Verdict(False, f"expected {problem.answer}, got {extracted}", extracted)
