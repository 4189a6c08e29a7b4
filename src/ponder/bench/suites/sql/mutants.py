"""Mechanical mutants of a gold query: the mutation check of the sql verifier.

A verifier is only as strong as the wrong answers it rejects. Each gold query is mutated the
ways a plausible wrong query differs from it — one change at a time:

- ``window``: a timestamp bound shifted by a second or a day either way (a date bound by a day);
- ``comparison``: ``<`` ↔ ``<=``, ``>`` ↔ ``>=`` (the ``> 0.5`` ↔ ``>= 0.5`` threshold included);
- ``status``: a status filter dropped (or the ``CASE WHEN status …`` that stands for one);
- ``coalesce``: ``COALESCE(x, …)`` → ``x``;
- ``null``: ``IS NULL`` → ``= NULL``, an ``IS NOT NULL`` filter dropped;
- ``distinct``: ``COUNT(DISTINCT x)`` → ``COUNT(x)``;
- ``join``: ``LEFT JOIN`` → ``JOIN``;
- ``float``: ``1.0 *`` removed (integer division);
- ``tie_break``: the last ORDER BY key removed, or its direction reversed.

Every mutant must be rejected by the verifier unless :data:`EQUIVALENT` says why it cannot
be (it returns the gold's rows on every possible database, or on every database of one engine).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ponder.bench.suites.sql.dsn import Engine


@dataclass(frozen=True, slots=True)
class Mutant:
    kind: str
    change: str  # what was changed, e.g. "'2024-06-01 00:00:00' → '2024-06-01 00:00:01'"
    sql: str
    effect: str = ""  # in words, for a verdict's reason (window shifts)

    @property
    def id(self) -> str:
        return f"{self.kind}: {self.change}"


_TS = re.compile(r"'(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})'")
_DATE = re.compile(r"'(\d{4}-\d{2}-\d{2})'")
_CMP = re.compile(r"(?<![<>!=])(<=|>=|<|>)(?![<>=])")
_STATUS = r"(?:\w+\.)?status = '\w+'"
_CASE_STATUS = re.compile(rf"CASE WHEN {_STATUS} THEN ([\w.]+) END")
_ORDER_BY = re.compile(r"ORDER BY (.+?)(?= LIMIT |$)")
_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}


def _nth(i: int, total: int) -> str:
    if total == 1:
        return ""
    return f" (occurrence {i + 1} of {total})"


_BOUND = re.compile(r"(\w+)\s*(<=|>=|<|>)\s*$")
_NOUN = {"order_date": "orders", "signup_date": "signups", "refund_date": "refunds"}


def _shift_effect(gold: str, at: int, old: str, new: str) -> str:
    """What moving the bound literal at ``at`` from ``old`` to ``new`` takes in or leaves out."""
    bound = _BOUND.search(gold[:at])
    if bound is None:
        return ""
    column, op = bound.groups()
    noun = _NOUN.get(column, "rows")
    upper = op.startswith("<")
    by_a_second = len(old) > 10 and abs(
        (dt.datetime.fromisoformat(new) - dt.datetime.fromisoformat(old)).total_seconds()
    ) == 1
    if upper and new > old:
        return f"it takes in {noun} from {old}, after the window has ended"
    if upper:
        span = f"at {new}" if by_a_second else f"from {new} on"
        return f"it leaves out {noun} {span}, inside the window"
    if new > old:
        span = f"at {old}" if by_a_second else f"from {old} up to {new}"
        return f"it leaves out {noun} {span}, inside the window"
    return f"it takes in {noun} from {new}, before the window starts at {old}"


def _window(gold: str) -> Iterator[Mutant]:
    stamps = list(_TS.finditer(gold))
    for i, m in enumerate(stamps):
        when = dt.datetime.fromisoformat(m.group(1))
        for delta, words in (
            (dt.timedelta(seconds=1), "+1 s"),
            (dt.timedelta(seconds=-1), "-1 s"),
            (dt.timedelta(days=1), "+1 day"),
            (dt.timedelta(days=-1), "-1 day"),
        ):
            new = (when + delta).strftime("%Y-%m-%d %H:%M:%S")
            yield Mutant(
                "window",
                f"'{m.group(1)}' → '{new}' ({words}){_nth(i, len(stamps))}",
                gold[: m.start()] + f"'{new}'" + gold[m.end() :],
                _shift_effect(gold, m.start(), m.group(1), new),
            )
    dates = list(_DATE.finditer(gold))
    for i, m in enumerate(dates):
        day = dt.date.fromisoformat(m.group(1))
        for days, words in ((1, "+1 day"), (-1, "-1 day")):
            new = (day + dt.timedelta(days=days)).isoformat()
            yield Mutant(
                "window",
                f"'{m.group(1)}' → '{new}' ({words}){_nth(i, len(dates))}",
                gold[: m.start()] + f"'{new}'" + gold[m.end() :],
                _shift_effect(gold, m.start(), m.group(1), new),
            )


def _outside_strings(gold: str, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    strings = [m.span() for m in re.finditer(r"'[^']*'", gold)]
    return [m for m in pattern.finditer(gold) if not any(a <= m.start() < b for a, b in strings)]


def _comparison(gold: str) -> Iterator[Mutant]:
    found = _outside_strings(gold, _CMP)
    for i, m in enumerate(found):
        op = m.group(1)
        context = gold[m.end() : m.end() + 6].strip()
        kind = "threshold" if context.startswith("0.5") else "comparison"
        yield Mutant(
            kind,
            f"{op} → {_FLIP[op]} before {context.split()[0]!s}{_nth(i, len(found))}",
            gold[: m.start()] + _FLIP[op] + gold[m.end() :],
        )


def _status(gold: str) -> Iterator[Mutant]:
    for m in _CASE_STATUS.finditer(gold):
        yield Mutant(
            "status",
            f"{m.group(0)} → {m.group(1)}",
            gold[: m.start()] + m.group(1) + gold[m.end() :],
        )
    plain = [m for m in re.finditer(_STATUS, gold) if not gold[: m.start()].endswith("CASE WHEN ")]
    for i, m in enumerate(plain):
        before, after = gold[: m.start()], gold[m.end() :]
        if after.startswith(" AND "):
            sql = before + after[len(" AND ") :]
        elif before.endswith(" AND "):
            sql = before[: -len(" AND ")] + after
        elif before.endswith("WHERE "):
            sql = before[: -len(" WHERE ")] + after
        else:
            continue
        yield Mutant("status", f"{m.group(0)} dropped{_nth(i, len(plain))}", sql)


def _closing(text: str, open_at: int) -> int:
    """The index of the parenthesis closing the one at ``open_at``."""
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {text!r}")


def _first_argument(inner: str) -> str:
    depth = 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            return inner[:i]
    return inner


def _coalesce(gold: str) -> Iterator[Mutant]:
    found = list(re.finditer(r"COALESCE\(", gold))
    for i, m in enumerate(found):
        close = _closing(gold, m.end() - 1)
        first = _first_argument(gold[m.end() : close]).strip()
        yield Mutant(
            "coalesce",
            f"COALESCE({first}, …) → {first}{_nth(i, len(found))}",
            gold[: m.start()] + first + gold[close + 1 :],
        )


def _replacements(gold: str, kind: str, old: str, new: str, words: str) -> Iterator[Mutant]:
    found = list(re.finditer(re.escape(old), gold))
    for i, m in enumerate(found):
        sql = gold[: m.start()] + new + gold[m.end() :]
        yield Mutant(kind, f"{words}{_nth(i, len(found))}", sql)


def _tie_break(gold: str) -> Iterator[Mutant]:
    m = _ORDER_BY.search(gold)
    if m is None or "," not in m.group(1):
        return
    keys = m.group(1)
    head, _, last = keys.rpartition(", ")
    yield Mutant(
        "tie_break",
        f"tie-break {last} removed",
        gold[: m.start(1)] + head + gold[m.end(1) :],
    )
    column, _, direction = last.partition(" ")
    flipped = f"{column} {'DESC' if direction.upper() != 'DESC' else 'ASC'}"
    yield Mutant(
        "tie_break",
        f"tie-break {last} → {flipped}",
        gold[: m.start(1)] + f"{head}, {flipped}" + gold[m.end(1) :],
    )


_MISTAKES = {
    "comparison": "it looks like a bound or filter taken as inclusive where it is exclusive"
    " (or the reverse): {change}",
    "threshold": "it looks like a share of exactly one half put on the wrong side: {change}",
    "status": "it looks like orders counted whatever their status",
    "coalesce": "it looks like a missing COALESCE: NULL where the answer is 0",
    "null": "it looks like NULL amounts mishandled ({change})",
    "distinct": "it looks like an order counted once per refund (the refunds join fans out)",
    "join": "it looks like an inner JOIN dropping rows a LEFT JOIN keeps",
    "float": "it looks like integer division",
    "tie_break": "it looks like ties broken the wrong way",
}


def mistake_in_words(mutant: Mutant) -> str:
    """What a query whose rows equal ``mutant``'s got wrong, for a verdict's reason."""
    if mutant.kind == "window":
        return mutant.effect or f"it looks like a window bound moved: {mutant.change}"
    return _MISTAKES[mutant.kind].format(change=mutant.change)


def mutants(gold: str) -> list[Mutant]:
    """Every single-change mutant of ``gold``, in a stable order, none equal to it."""
    out = [
        *_window(gold),
        *_comparison(gold),
        *_status(gold),
        *_coalesce(gold),
        *_replacements(gold, "null", " IS NULL", " = NULL", "IS NULL → = NULL"),
        *_replacements(
            gold, "null", " AND o.amount IS NOT NULL", "", "AND o.amount IS NOT NULL dropped"
        ),
        *_replacements(
            gold, "distinct", "COUNT(DISTINCT ", "COUNT(", "COUNT(DISTINCT x) → COUNT(x)"
        ),
        *_replacements(gold, "join", "LEFT JOIN", "JOIN", "LEFT JOIN → JOIN"),
        *_replacements(gold, "float", "1.0 * ", "", "1.0 * removed"),
        *_tie_break(gold),
    ]
    return [m for m in out if m.sql != gold]


@dataclass(frozen=True, slots=True)
class Equivalence:
    """A mutant that returns the gold's rows on every database (of ``engines``), and why."""

    template: str
    change: str  # Mutant.id, or its start (a prefix matches every occurrence)
    reason: str
    engines: tuple[Engine, ...] = ("sqlite", "duckdb")


_INT_DIVISION_DUCKDB = (
    "DuckDB's / divides integers as floating point (// is its integer division), so the"
    " share is the same without 1.0 *"
)
_GROUP_ORDER_SQLITE = (
    "the tie-break column is the GROUP BY key of the ranked CTE: SQLite sorts the groups by it"
    " and its ORDER BY keeps that order among equal keys, so ties come out in the gold's order"
    " on every database. An engine property, not SQL's: the mutant is killed on DuckDB"
)

EQUIVALENT: tuple[Equivalence, ...] = (
    Equivalence(
        "avg_order_by_country",
        "null: AND o.amount IS NOT NULL dropped",
        "AVG skips NULL amounts, so it averages the same values without the filter",
    ),
    Equivalence(
        "spend_grew_vs_previous_month",
        "coalesce: COALESCE(amount, …) → amount (occurrence 1 of 3)",
        "a user whose amounts that month are all NULL gets NULL instead of 0; neither NULL > x"
        " nor 0 > x holds for x >= 0 (amounts are order totals, never negative), so the count"
        " is the same",
    ),
    Equivalence(
        "spend_grew_vs_previous_month",
        "coalesce: COALESCE(amount, …) → amount (occurrence 2 of 3)",
        "the previous month's sum is read only through COALESCE(prev.s, 0), which turns its"
        " NULL into the 0 the inner COALESCE gave",
    ),
    *(
        Equivalence(template, "float: 1.0 * removed", _INT_DIVISION_DUCKDB, ("duckdb",))
        for template in (
            "refund_share_by_country",
            "top_spenders_excluding_refunders",
            "heavy_refunders_in_month",
        )
    ),
    Equivalence(
        "top_spenders_excluding_refunders",
        "tie_break: tie-break s.user_id ASC removed",
        _GROUP_ORDER_SQLITE,
        ("sqlite",),
    ),
    Equivalence(
        "top_countries_by_net_revenue",
        "tie_break: tie-break gross.country ASC removed",
        _GROUP_ORDER_SQLITE,
        ("sqlite",),
    ),
)


def equivalence(template: str, mutant: Mutant, engine: Engine) -> Equivalence | None:
    """Why ``mutant`` of a ``template`` question cannot be told from its gold, if it cannot."""
    for e in EQUIVALENT:
        if e.template == template and mutant.id.startswith(e.change) and engine in e.engines:
            return e
    return None
