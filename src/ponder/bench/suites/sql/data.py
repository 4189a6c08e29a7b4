"""A generated e-commerce database: users, orders, order_items, refunds — from a seed.

Realistic mess on purpose, because the questions' traps need it:

- skew: order counts per user follow a Pareto law (a few whales, many one-off buyers);
- users with zero orders (and a country, ``NZ``, whose users never ordered);
- ``orders.amount`` is NULL for some orders (never recorded), completed ones included;
- several partial refunds on some orders (joining refunds fans orders out);
- orders and refunds on the exact edges of every calendar month (``01 00:00:00``,
  ``last-day 23:59:59``), so ``<= 'YYYY-MM-30'`` and ``BETWEEN`` windows are wrong;
- for the months the hard questions ask about: a heavy refunder among the top spenders, a
  user refunding exactly half their orders, and a tie in spend at the cut-off rank.

Timestamps are TEXT ``YYYY-MM-DD HH:MM:SS``; money is REAL in whole quarters of a dollar
(exact in binary floating point, so a tie in spend is an exact tie whatever the query's
summation order).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ponder.errors import ConfigError

SCHEMA_VERSION = 2
START = dt.datetime(2023, 7, 1)
END = dt.datetime(2024, 7, 15)  # exclusive; "today" in the questions is on or before this

# (today, months back) pairs the hard questions use; their months get engineered edges.
FOCUS_MONTHS = ((2024, 6), (2024, 3), (2023, 12))

SCHEMA = """\
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  country TEXT NOT NULL,           -- ISO code, e.g. 'US'
  signup_date TEXT NOT NULL        -- 'YYYY-MM-DD'
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  order_date TEXT NOT NULL,        -- 'YYYY-MM-DD HH:MM:SS' (UTC)
  status TEXT NOT NULL,            -- 'completed', 'cancelled' or 'pending'
  amount REAL                      -- order total in USD; NULL when never recorded
);
CREATE TABLE order_items (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product TEXT NOT NULL,
  category TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  unit_price REAL NOT NULL
);
CREATE TABLE refunds (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),  -- an order may have several refunds
  refund_date TEXT NOT NULL,       -- 'YYYY-MM-DD HH:MM:SS' (UTC)
  amount REAL NOT NULL
);
"""


def duckdb_schema() -> str:
    """:data:`SCHEMA` for DuckDB: ``REAL`` as ``DOUBLE`` (DuckDB's REAL is 32-bit)."""
    return re.sub(r"\bREAL\b(  )?", "DOUBLE", SCHEMA)


_FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dan",
    "Eve",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vik",
    "Wes",
    "Xena",
    "Yara",
    "Zed",
    "Ana",
    "Bo",
    "Cy",
    "Dee",
]
_LAST = [
    "Smith",
    "Jones",
    "Khan",
    "Garcia",
    "Muller",
    "Rossi",
    "Silva",
    "Tanaka",
    "Okafor",
    "Novak",
    "Dubois",
    "Berg",
]
_COUNTRIES = (("US", 35), ("GB", 15), ("DE", 12), ("FR", 10), ("IN", 10), ("BR", 8), ("CA", 6))
_CATALOG = (
    ("Desk lamp", "home", 24.5),
    ("Throw pillow", "home", 15.0),
    ("Cast-iron pan", "kitchen", 39.75),
    ("Chef knife", "kitchen", 59.0),
    ("Espresso cups", "kitchen", 12.75),
    ("Trail shoes", "outdoor", 89.5),
    ("Water bottle", "outdoor", 9.75),
    ("Tent", "outdoor", 149.0),
    ("Headphones", "electronics", 79.5),
    ("USB cable", "electronics", 6.25),
    ("Smart plug", "electronics", 19.75),
    ("Notebook", "stationery", 4.25),
    ("Fountain pen", "stationery", 32.0),
)


@dataclass
class _Db:
    users: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    orders: list[list[object]] = field(default_factory=list)  # id, user, date, status, amount
    items: list[tuple[int, int, str, str, int, float]] = field(default_factory=list)
    refunds: list[tuple[int, int, str, float]] = field(default_factory=list)
    reserved: set[int] = field(default_factory=set)  # users with engineered histories

    def add_order(
        self, rng: random.Random, user: int, when: dt.datetime, status: str, amount: float | None
    ) -> int:
        """An order whose items add up to ``amount`` (or random items when it is None)."""
        order_id = len(self.orders) + 1
        product, category, price = rng.choice(_CATALOG)
        if amount is None:
            quantity = rng.choice((1, 1, 2))
            self.items.append((len(self.items) + 1, order_id, product, category, quantity, price))
        else:
            self.items.append((len(self.items) + 1, order_id, product, category, 1, amount))
        self.orders.append([order_id, user, _ts(when), status, amount])
        return order_id

    def refund(self, order_id: int, when: dt.datetime, amount: float) -> None:
        self.refunds.append((len(self.refunds) + 1, order_id, _ts(when), money(amount)))


def money(value: float) -> float:
    """Dollars in whole quarters: exact in binary floating point, so sums and ties are exact."""
    return round(value * 4) / 4


def _ts(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _random_time(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    seconds = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=rng.randrange(seconds))


def _generate(seed: int) -> _Db:
    rng = random.Random(f"ponder-sql-{seed}")
    db = _Db()
    countries = [c for c, w in _COUNTRIES for _ in range(w)]
    n_users = 160
    for uid in range(1, n_users + 1):
        country = "NZ" if uid % 53 == 0 else rng.choice(countries)
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        email = f"{name.split()[0].lower()}.{uid}@example.com"
        signup = START - dt.timedelta(days=200) + dt.timedelta(days=rng.randrange(500))
        db.users.append((uid, name, email, country, signup.strftime("%Y-%m-%d")))
    buyers = [u[0] for u in db.users if u[3] != "NZ" and rng.random() > 0.22]
    for uid in buyers:
        count = min(40, int(rng.paretovariate(1.2)))
        for _ in range(count):
            when = _random_time(rng, START, END)
            status = rng.choices(("completed", "cancelled", "pending"), (85, 8, 7))[0]
            order_id = len(db.orders) + 1
            total = 0.0
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                product, category, price = rng.choice(_CATALOG)
                quantity = rng.choices((1, 2, 3), (70, 20, 10))[0]
                db.items.append((len(db.items) + 1, order_id, product, category, quantity, price))
                total += quantity * price
            amount: float | None = money(total)
            if rng.random() < 0.06:
                amount = None
            db.orders.append([order_id, uid, _ts(when), status, amount])
            if status == "completed" and amount and rng.random() < 0.15:
                parts = 2 if rng.random() < 0.3 else 1
                for part in range(parts):
                    later = when + dt.timedelta(days=rng.randrange(1, 20), hours=part)
                    db.refund(order_id, min(later, END - dt.timedelta(seconds=1)), amount / 4)
    _month_edges(db, rng, buyers)
    for year, month in FOCUS_MONTHS:
        _focus_month(db, rng, buyers, year, month)
    for year, month in FOCUS_MONTHS:
        _make_ties(db, rng, *_month_bounds(year, month))
    return db


def _month_edges(db: _Db, rng: random.Random, buyers: list[int]) -> None:
    """Orders and refunds on the first and last second of every month in range."""
    year, month = START.year, START.month
    while dt.datetime(year, month, 1) < END:
        start, end = _month_bounds(year, month)
        for when in (start, end - dt.timedelta(seconds=1), end - dt.timedelta(hours=11)):
            if when >= END:
                continue
            amount = money(rng.uniform(20, 120))
            order_id = db.add_order(rng, rng.choice(buyers), when, "completed", amount)
            if when == start and start - dt.timedelta(days=3) >= START:
                # placed just before the month started, refunded on its first second
                early = db.add_order(
                    rng, rng.choice(buyers), start - dt.timedelta(days=3), "completed", amount
                )
                db.refund(early, start, amount / 2)
            if when == end - dt.timedelta(hours=11):
                db.refund(order_id, end - dt.timedelta(seconds=1), amount / 3)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _spend_in(db: _Db, start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    spend: dict[int, float] = defaultdict(float)
    lo, hi = _ts(start), _ts(end)
    for _, user, when, status, amount in db.orders:
        if status == "completed" and lo <= str(when) < hi:
            spend[int(str(user))] += float(str(amount)) if amount is not None else 0.0
    return spend


def _focus_month(db: _Db, rng: random.Random, buyers: list[int], year: int, month: int) -> None:
    start, end = _month_bounds(year, month)
    spend = _spend_in(db, start, end)
    top = max(spend.values(), default=100.0)
    free = [u for u in buyers if u not in db.reserved]
    # 1. A heavy refunder outspends everyone: 3 of their 4 orders refunded (excluded).
    whale = rng.choice([u for u in free if u not in spend] or free)
    db.reserved.add(whale)
    _clean_history(db, whale, drop_all=True)
    for i in range(4):
        order = db.add_order(
            rng, whale, _random_time(rng, start, end), "completed", money(top * 0.6 + i)
        )
        if i < 3:
            db.refund(order, _random_time(rng, start, end), 10.0)
    # 2. A big spender who refunded exactly half their orders (kept: "more than half" excludes),
    #    with two partial refunds on one order (a join through refunds counts it twice), and
    #    a cancelled order with a NULL amount.
    half = rng.choice([u for u in free if u != whale])
    db.reserved.add(half)
    _clean_history(db, half, drop_all=True)
    big = db.add_order(rng, half, _random_time(rng, start, end), "completed", money(top * 0.9))
    db.refund(big, _random_time(rng, start, end), 5.0)
    db.refund(big, _random_time(rng, start, end), 7.5)
    small = db.add_order(rng, half, _random_time(rng, start, end), "completed", 40.0)
    db.refund(small, _random_time(rng, start, end), 40.0)
    db.add_order(rng, half, _random_time(rng, start, end), "completed", 35.0)
    db.add_order(rng, half, _random_time(rng, start, end), "cancelled", None)


def _clean_history(db: _Db, user: int, drop_all: bool = False) -> None:
    """Hand the user's orders to ordinary buyers, so the history we build is the whole story."""
    donors = [u[0] for u in db.users if u[0] not in db.reserved and u[3] != "NZ"]
    for row in db.orders:
        if row[1] == user and drop_all:
            row[1] = donors[int(str(row[0])) % len(donors)]


def _refund_ratio(db: _Db) -> dict[int, float]:
    refunded = {r[1] for r in db.refunds}
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for order_id, user, *_ in db.orders:
        counts[int(str(user))][0] += 1
        counts[int(str(user))][1] += int(order_id in refunded)
    return {u: r / n for u, (n, r) in counts.items() if n}


def _make_ties(db: _Db, rng: random.Random, start: dt.datetime, end: dt.datetime) -> None:
    """Tie ranks 3/4 and 5/6 of the month's spend ranking among users refunding <= half."""
    ratio = _refund_ratio(db)
    spend = _spend_in(db, start, end)
    ranked = sorted(
        (u for u in spend if ratio.get(u, 0) <= 0.5),
        key=lambda u: (-spend[u], u),
    )
    for rank in (3, 5):  # tie the user at rank+1 with the one at rank
        if len(ranked) <= rank:
            continue
        leader, chaser = ranked[rank - 1], ranked[rank]
        gap = money(spend[leader] - spend[chaser])
        if gap > 0:
            db.add_order(rng, chaser, _random_time(rng, start, end), "completed", gap)
        spend = _spend_in(db, start, end)


TableRows = dict[str, list[tuple[object, ...]]]
TABLES = ("users", "orders", "order_items", "refunds")


def table_rows(seed: int) -> TableRows:
    """Every table's rows for ``seed``, in insertion order (orders by date), ``_meta`` included.

    Every engine loads exactly these rows, so the same seed is the same data everywhere.
    """
    db = _generate(seed)
    return {
        "_meta": [(SCHEMA_VERSION, seed)],
        "users": [tuple(u) for u in db.users],
        "orders": [tuple(row) for row in sorted(db.orders, key=lambda row: str(row[2]))],
        "order_items": [tuple(i) for i in db.items],
        "refunds": [tuple(r) for r in db.refunds],
    }


def check_replaceable(path: Path, built_for: tuple[int, int] | None) -> None:
    """Refuse to overwrite a file that is not a database this module generated."""
    if path.exists() and built_for is None:
        raise ConfigError(
            f"{path} exists and is not a database generated by the sql suite; refusing to"
            " overwrite it. Point the DSN at a new file."
        )


def build_database(path: Path, seed: int) -> Path:
    """Write the SQLite database for ``seed`` to ``path`` (reused when already built for it)."""
    built_for = _built_for(path)
    if built_for == (SCHEMA_VERSION, seed):
        return path
    check_replaceable(path, built_for)
    return write_sqlite(path, table_rows(seed))


def write_sqlite(path: Path, rows: TableRows) -> Path:
    """Write ``rows`` (every table, ``_meta`` included) as a SQLite file at ``path``, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        # No journal, no fsync: the file is private until the rename below makes it whole.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.executescript(SCHEMA)
        conn.execute("CREATE TABLE _meta (schema_version INTEGER, seed INTEGER)")
        for table in ("_meta", *TABLES):
            if not rows[table]:
                continue
            marks = ", ".join("?" * len(rows[table][0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def _built_for(path: Path) -> tuple[int, int] | None:
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row: tuple[int, int] | None = conn.execute(
                "SELECT schema_version, seed FROM _meta"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return (int(row[0]), int(row[1])) if row else None
