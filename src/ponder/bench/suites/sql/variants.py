"""Variant databases for one question: the suite's schema with a few dozen planted rows each.

One generated database lets a wrong query pass by luck (a month window one day too long
returns the right sum when no order falls on that day). Test-suite accuracy closes that: a
query is correct only if it matches the gold on the main database *and* on every variant.
Each variant is built for the question at hand from the literals in its gold SQL — the
timestamps of its date window, the dates of its signup bounds, the country it names — and
plants the cases a classic mistake trips on:

- ``edges-first`` / ``edges-last``: orders at exactly each window bound and a second before
  it (one variant where the window's first day is the busiest, one where its last day is);
- ``status``: a big cancelled and a big pending order by would-be top spenders, and a user
  whose only order in the window is cancelled;
- ``nulls``: completed orders with a NULL amount, one user with nothing else;
- ``empty``: a window with no recorded completed amount and no refund at all;
- ``fan-out``: orders with several partial refunds, fully refunded ones, unrefunded ones;
- ``half``: refund shares of exactly 1/2, 1/3, 2/3 and 1 (with fan-out) among top spenders,
  so ``> 0.5`` vs ``>= 0.5`` and integer division change the answer;
- ``ties``: exact ties in spend, per-country net revenue and orders per day, across every
  cut-off rank a question uses;
- ``inactive``: users with orders but none in the window, and only in the window.

Every variant also has one user per country and no orders for them (so a country or user
without orders exists: LEFT JOIN vs JOIN, COALESCE, division by zero). Rows are small (tens
per variant), so running a query on all of them costs milliseconds; amounts are whole
quarters of a dollar (exact sums, exact ties); user ids are shuffled from the seed so that
id order is never insertion order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ponder.bench.suites.sql.data import SCHEMA_VERSION, TableRows

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "NZ")
_CATEGORY = {"inside": "home", "edge": "kitchen", "outside": "outdoor", "other": "stationery"}
_TS = re.compile(r"'(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})'")
_DATE = re.compile(r"'(\d{4}-\d{2}-\d{2})'")
_COUNTRY = re.compile(r"country = '([A-Z]{2})'")
_DEFAULT_WINDOW = (dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1))
SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Focus:
    """What a question's gold SQL pins down: the bounds its variants plant cases around."""

    bounds: tuple[dt.datetime, ...]  # timestamp literals, sorted, unique
    dates: tuple[dt.date, ...]  # date-only literals (signup bounds)
    country: str | None

    @classmethod
    def of(cls, gold: str) -> Focus:
        stamps = sorted({dt.datetime.fromisoformat(t) for t in _TS.findall(gold)})
        dates = sorted({dt.date.fromisoformat(d) for d in _DATE.findall(gold)})
        country = _COUNTRY.search(gold)
        return cls(tuple(stamps), tuple(dates), country.group(1) if country else None)

    def windows(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Consecutive bound pairs (a month, or two for month-over-month); a default month."""
        if len(self.bounds) >= 2:
            return list(zip(self.bounds, self.bounds[1:], strict=False))
        if self.bounds:
            return [(self.bounds[0], self.bounds[0] + dt.timedelta(days=30))]
        return [_DEFAULT_WINDOW]

    def describe_bounds(self) -> str:
        if self.bounds:
            return ", ".join(_ts(b) for b in self.bounds)
        if self.dates:
            return ", ".join(d.isoformat() for d in self.dates)
        return ", ".join(_ts(b) for b in _DEFAULT_WINDOW)

    def describe_window(self) -> str:
        windows = self.windows()
        return f"{_ts(windows[0][0])} to {_ts(windows[-1][1])}"


@dataclass(frozen=True, slots=True)
class _User:
    country: str
    signup: dt.date


@dataclass(frozen=True, slots=True)
class _Order:
    key: int
    user: int  # index into _Plant.users
    when: dt.datetime
    status: str
    amount: float | None


@dataclass
class _Plant:
    """A tiny database under construction; ids are assigned at the end, shuffled."""

    rng: random.Random
    users: list[_User] = field(default_factory=list)
    orders: list[_Order] = field(default_factory=list)
    items: list[tuple[int, str, int, float]] = field(default_factory=list)  # order, cat, q, price
    refunds: list[tuple[int, dt.datetime, float]] = field(default_factory=list)  # order, when, $

    def user(self, country: str, signup: dt.date = dt.date(2022, 1, 3)) -> int:
        self.users.append(_User(country, signup))
        return len(self.users) - 1

    def order(
        self,
        user: int,
        when: dt.datetime,
        amount: float | None,
        status: str = "completed",
        category: str = "home",
        refunds: Sequence[float] = (),
    ) -> int:
        key = len(self.orders)
        self.orders.append(_Order(key, user, when, status, amount))
        quantity = 1 + len(self.orders) % 3
        price = (amount or 10.0) / quantity
        self.items.append((key, category, quantity, round(price * 4) / 4))
        for i, refund in enumerate(refunds):
            self.refunds.append((key, when + dt.timedelta(days=2, hours=i), refund))
        return key

    def rows(self, seed: int, adverse: bool = False) -> TableRows:
        """The tables, ids assigned. Rows are stored in no particular order (not by date, not
        by user), or with ``adverse`` in the reverse of every tie-break (country, user id and
        date descending), so an engine's natural order (table order, first seen) is not the
        order a question asks for by chance."""
        user_ids = list(range(1, len(self.users) + 1))
        self.rng.shuffle(user_ids)
        users: list[tuple[object, ...]] = [
            (uid, f"User {uid}", f"user.{uid}@example.com", u.country, u.signup.isoformat())
            for uid, u in zip(user_ids, self.users, strict=True)
        ]
        stored = list(self.orders)
        if adverse:
            users.sort(key=lambda u: (str(u[3]), int(str(u[0]))), reverse=True)
            stored.sort(
                key=lambda o: (self.users[o.user].country, user_ids[o.user], o.when),
                reverse=True,
            )
        else:
            self.rng.shuffle(users)
            self.rng.shuffle(stored)
        order_id = {o.key: i for i, o in enumerate(stored, 1)}
        orders: list[tuple[object, ...]] = [
            (order_id[o.key], user_ids[o.user], _ts(o.when), o.status, o.amount) for o in stored
        ]
        items: list[tuple[object, ...]] = [
            (i, order_id[o], f"{cat} item", cat, q, p)
            for i, (o, cat, q, p) in enumerate(sorted(self.items, key=lambda t: order_id[t[0]]), 1)
        ]
        refunds: list[tuple[object, ...]] = [
            (i, order_id[o], _ts(w), a)
            for i, (o, w, a) in enumerate(sorted(self.refunds, key=lambda r: r[1]), 1)
        ]
        return {
            "_meta": [(SCHEMA_VERSION, seed)],
            "users": users,
            "orders": orders,
            "order_items": items,
            "refunds": refunds,
        }


def _ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _mid(start: dt.datetime, end: dt.datetime, hours: int = 0) -> dt.datetime:
    """A time well inside the window, away from both edges."""
    return start + (end - start) / 2 + dt.timedelta(hours=hours)


def _country(focus: Focus, i: int) -> str:
    return focus.country or COUNTRIES[i % (len(COUNTRIES) - 1)]  # NZ never orders


def _quarters(rng: random.Random, top: int = 3) -> float:
    return rng.randrange(top + 1) / 4


# ---- the variants -------------------------------------------------------------------------

# Orders (at the bound, a second before it) by the bound's place: the window's first bound,
# a bound shared by two windows, its last bound.
_EDGE_COUNTS = {
    "edges-first": {"first": (3, 4), "middle": (3, 2), "last": (4, 2)},
    "edges-last": {"first": (2, 4), "middle": (2, 3), "last": (4, 3)},
}


def _edges(kind: str) -> Callable[[_Plant, Focus], None]:
    counts = _EDGE_COUNTS[kind]

    def plant(p: _Plant, focus: Focus) -> None:
        bounds = focus.bounds or _DEFAULT_WINDOW
        last_start, last_end = focus.windows()[-1]
        for b, bound in enumerate(bounds):
            place = "first" if b == 0 else "last" if b == len(bounds) - 1 else "middle"
            at, before = counts[place]
            # Outside the windows: big amounts, so a window that takes them in changes any
            # ranking; inside: mid-size, refunded in part.
            at_outside = place == "last"
            before_outside = place == "first"
            # One user with an order on both sides of the bound (month over month: the bound
            # moves spend from one month to the other), and more in the last window.
            both = p.user(_country(focus, b))
            p.order(both, bound - SECOND, 10.0, category=_CATEGORY["edge"])
            p.order(both, bound, 10.0, category=_CATEGORY["edge"])
            if place == "first":
                p.order(both, _mid(last_start, last_end, 7), 15.0, category=_CATEGORY["other"])
            for i in range(at - 1):
                amount = (200.0 if at_outside else 50.0) + i + _quarters(p.rng)
                cat = _CATEGORY["outside" if at_outside else "inside"]
                p.order(p.user(_country(focus, i + b)), bound, amount, category=cat, refunds=[5.0])
                if place == "first" and len(bounds) > 2:
                    # month over month: the same at the first bound and in the last month
                    again = p.user(_country(focus, i + b + 2))
                    p.order(again, bound, amount, category=cat)
                    p.order(again, _mid(last_start, last_end, 8 + i), amount, category=cat)
            for i in range(before - 1):
                amount = (200.0 if before_outside else 60.0) + i + _quarters(p.rng)
                cat = _CATEGORY["outside" if before_outside else "edge"]
                user = p.user(_country(focus, i + b + 1))
                p.order(user, bound - SECOND, amount, category=cat, refunds=[2.5])
        for d, day in enumerate(focus.dates):
            # Signups on the bound and the day before it.
            for offset in (0, 1):
                p.user(_country(focus, d + offset), day - dt.timedelta(days=offset))

    return plant


def _status(p: _Plant, focus: Focus) -> None:
    windows = focus.windows()
    # completed 40 + cancelled 500 early, completed 50 in the last window
    early = p.user(_country(focus, 5))
    p.order(early, _mid(*windows[0], 7), 40.0)
    p.order(early, _mid(*windows[0], 8), 500.0, status="cancelled")
    p.order(early, _mid(*windows[-1], 9), 50.0 + _quarters(p.rng))
    for w, (start, end) in enumerate(windows):
        big = p.user(_country(focus, w))
        p.order(big, _mid(start, end), 40.0 + _quarters(p.rng))
        p.order(big, _mid(start, end, 1), 500.0, status="cancelled", refunds=[20.0])
        pend = p.user(_country(focus, w + 1))
        p.order(pend, _mid(start, end, 2), 45.0 + _quarters(p.rng))
        p.order(pend, _mid(start, end, 3), 300.0, status="pending", category="kitchen")
        only = p.user(_country(focus, w + 2))
        p.order(only, _mid(start, end, 4), 80.0, status="cancelled", category="outdoor")
        p.order(only, _mid(start, end, 5), None, status="pending")
        p.order(p.user(_country(focus, w + 3)), _mid(start, end, 6), 30.0)


def _nulls(p: _Plant, focus: Focus) -> None:
    for w, (start, end) in enumerate(focus.windows()):
        p.order(p.user(_country(focus, w)), _mid(start, end), None, category="kitchen")
        mixed = p.user(_country(focus, w + 1))
        p.order(mixed, _mid(start, end, 1), 30.0 + _quarters(p.rng), refunds=[5.0])
        p.order(mixed, _mid(start, end, 2), None)
        p.order(mixed, _mid(start, end, 3), None, status="cancelled")
        p.order(p.user(_country(focus, w + 2)), _mid(start, end, 4), 70.0)


def _empty(p: _Plant, focus: Focus) -> None:
    for w, (start, end) in enumerate(focus.windows()):
        p.order(p.user(_country(focus, w)), _mid(start, end), None)
        p.order(p.user(_country(focus, w + 1)), _mid(start, end, 1), 80.0, status="cancelled")
        p.order(p.user(_country(focus, w + 2)), _mid(start, end, 2), 60.0, status="pending")


def _fan_out(p: _Plant, focus: Focus) -> None:
    for w, (start, end) in enumerate(focus.windows()):
        many = p.user(_country(focus, w))
        p.order(many, _mid(start, end), 100.0, refunds=[10.0, 10.0, 5.0])
        p.order(many, _mid(start, end, 1), 20.0 + _quarters(p.rng))
        full = p.user(_country(focus, w + 1))
        p.order(full, _mid(start, end, 2), 60.0, category="kitchen", refunds=[30.0, 30.0])
        some = p.user(_country(focus, w + 2))
        p.order(some, _mid(start, end, 3), 45.0, refunds=[7.5, 2.5])
        p.order(some, _mid(start, end, 4), 35.0, category="outdoor")
        p.order(some, _mid(start, end, 5), 25.0, status="cancelled", refunds=[25.0])


def _half(p: _Plant, focus: Focus) -> None:
    for w, (start, end) in enumerate(focus.windows()):
        j = _quarters(p.rng)
        # share exactly 1/2, one refunded order with three partial refunds: kept, spend 300
        h = p.user(_country(focus, w))
        p.order(h, _mid(start, end), 150.0 + j, refunds=[5.0, 5.0, 5.0])
        p.order(h, _mid(start, end, 1), 50.0, refunds=[10.0])
        p.order(h, _mid(start, end, 2), 50.0)
        p.order(h, _mid(start, end, 3), 50.0 - j)
        # share 2/3: excluded, the biggest spender
        h = p.user(_country(focus, w + 1))
        p.order(h, _mid(start, end, 4), 200.0, category="kitchen", refunds=[20.0])
        p.order(h, _mid(start, end, 5), 200.0, refunds=[20.0])
        p.order(h, _mid(start, end, 6), 25.0)
        # share 1 with fan-out (2 orders, 4 refunds): excluded, spend 500
        h = p.user(_country(focus, w + 2))
        p.order(h, _mid(start, end, 7), 250.0, refunds=[10.0, 10.0, 10.0])
        p.order(h, _mid(start, end, 8), 250.0, category="outdoor", refunds=[15.0])
        # share 1/3: kept, spend 100
        h = p.user(_country(focus, w + 3))
        p.order(h, _mid(start, end, 9), 40.0, refunds=[40.0])
        p.order(h, _mid(start, end, 10), 30.0)
        p.order(h, _mid(start, end, 11), 30.0 + j)
        # no refund: kept, spend 60
        p.order(p.user(_country(focus, w + 4)), _mid(start, end, 12), 60.0)


def _ties(day_offsets: tuple[int, ...]) -> Callable[[_Plant, Focus], None]:
    def plant(p: _Plant, focus: Focus) -> None:
        for start, _ in focus.windows():
            days = [start + dt.timedelta(days=d, hours=12) for d in day_offsets]
            per_day = [0] * len(days)
            for i in range(len(COUNTRIES) - 1):
                # Seven users, one per country but NZ, each spending exactly 100 (60 + 40, or
                # 100 next to a pending order), so users and countries tie at every rank.
                user = p.user(focus.country or COUNTRIES[i])
                day = days[-1 - i % len(days)]  # the first user (stored first) on the last day
                if i % 2:
                    p.order(user, day, 100.0)
                    p.order(user, day + dt.timedelta(hours=1), 40.0, status="pending")
                else:
                    p.order(user, day, 60.0)
                    p.order(user, day + dt.timedelta(hours=2), 40.0)
                per_day[-1 - i % len(days)] += 2
            # pending orders by one more user: every tied day gets as many orders
            idle = p.user(focus.country or "GB")
            for d, day in enumerate(days):
                for hour in range(max(per_day) - per_day[d]):
                    p.order(idle, day + dt.timedelta(hours=3 + hour), 20.0, "pending")
            # and one order on each of a dozen other days: an aggregate with many groups
            # hands them on in storage order, not sorted by day
            for d in range(12, 24):
                p.order(idle, start + dt.timedelta(days=d, hours=9), 15.0, "pending")

    return plant


def _inactive(p: _Plant, focus: Focus) -> None:
    windows = focus.windows()
    first, last = windows[0][0], windows[-1][1]
    for w in range(3):
        before = p.user(_country(focus, w))
        p.order(before, first - dt.timedelta(days=40 + w), 120.0 + _quarters(p.rng))
        p.order(before, first - dt.timedelta(days=20), 30.0, refunds=[10.0])
        after = p.user(_country(focus, w + 1))
        p.order(after, last + dt.timedelta(days=3 + w), 90.0, category="kitchen")
    for w, (start, end) in enumerate(windows):
        p.order(p.user(_country(focus, w + 2)), _mid(start, end), 75.0 + _quarters(p.rng))
        late = p.user(_country(focus, w + 3))
        p.order(late, _mid(start, end, 1), 20.0)
        p.order(late, first - dt.timedelta(days=50), 20.0)


@dataclass(frozen=True, slots=True)
class VariantKind:
    name: str
    plants: str  # for the verdict's reason; {bounds} and {window} are the question's
    plant: Callable[[_Plant, Focus], None]
    adverse: bool = False  # rows stored against every tie-break (see _Plant.rows)


KINDS: tuple[VariantKind, ...] = (
    VariantKind(
        "edges-first",
        "orders at exactly each bound ({bounds}) and a second before it; the first day busiest",
        _edges("edges-first"),
    ),
    VariantKind(
        "edges-last",
        "orders at exactly each bound ({bounds}) and a second before it; the last day busiest",
        _edges("edges-last"),
    ),
    VariantKind(
        "status",
        "a big cancelled and a big pending order by would-be top spenders, and a user with only"
        " cancelled or pending orders, within {window}",
        _status,
    ),
    VariantKind(
        "nulls",
        "completed orders with a NULL amount (one user has nothing else) in {window}",
        _nulls,
    ),
    VariantKind(
        "empty",
        "no recorded completed amount and no refund within {window}, only NULL, cancelled and"
        " pending orders",
        _empty,
    ),
    VariantKind(
        "fan-out",
        "orders with several partial refunds each, next to unrefunded ones, in {window}",
        _fan_out,
    ),
    VariantKind(
        "half",
        "top spenders whose refund shares are exactly 1/2, 1/3, 2/3 and 1 (fanned out) in {window}",
        _half,
    ),
    VariantKind(
        "ties",
        "exact ties in spend, in net revenue per country and in orders per day (two days)"
        " within {window}",
        _ties((3, 5)),
    ),
    VariantKind(
        "ties-adverse",
        "exact ties in spend, in net revenue per country and in orders per day (three days)"
        " within {window}, stored against every tie-break (country, user id, date descending)",
        _ties((4, 6, 9)),
        adverse=True,
    ),
    VariantKind(
        "inactive",
        "users with orders only before or after {window}, next to users active within it",
        _inactive,
    ),
)
KIND_NAMES = tuple(k.name for k in KINDS)


def _base(p: _Plant) -> None:
    """One user per country who never ordered."""
    for country in COUNTRIES:
        p.user(country, dt.date(2022, 2, 1))


def variant_rows(kind: VariantKind, gold: str, seed: int) -> TableRows:
    """The variant's rows for the question whose gold SQL is ``gold``, from ``seed``."""
    focus = Focus.of(gold)
    p = _Plant(random.Random(f"ponder-sql-variant-{seed}-{kind.name}-{focus.describe_bounds()}"))
    _base(p)
    kind.plant(p, focus)
    return p.rows(seed, adverse=kind.adverse)


def describe(kind: VariantKind, gold: str) -> str:
    """``the <name> variant (<what it plants>)`` for this question."""
    focus = Focus.of(gold)
    what = kind.plants.format(bounds=focus.describe_bounds(), window=focus.describe_window())
    return f"the {kind.name} variant ({what})"


def rows_digest(rows: TableRows) -> str:
    return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()[:12]
