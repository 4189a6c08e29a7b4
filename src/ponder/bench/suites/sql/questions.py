"""The sql suite's questions: templates x parameters, each with gold SQL that defines the answer.

Levels: 1 one-table lookups; 2 aggregates over a window or one join; 3 joins where NULLs,
LEFT JOINs and refund fan-out matter; 4 ratios, rankings with ties, month-over-month;
5 the headline question (top spenders last calendar month excluding heavy refunders) and its
relatives. ``traps`` names what a plausible wrong query gets wrong.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Question:
    template: str
    level: int
    text: str
    gold: str
    ordered: bool = False  # the gold has a top-level ORDER BY: row order is compared
    traps: tuple[str, ...] = ()


Month = tuple[int, int]


def _window(month: Month, column: str = "order_date") -> str:
    year, m = month
    nxt = (year + 1, 1) if m == 12 else (year, m + 1)
    return (
        f"{column} >= '{year:04d}-{m:02d}-01 00:00:00'"
        f" AND {column} < '{nxt[0]:04d}-{nxt[1]:02d}-01 00:00:00'"
    )


def _name(month: Month) -> str:
    return f"{calendar.month_name[month[1]]} {month[0]}"


def _previous(month: Month) -> Month:
    return (month[0] - 1, 12) if month[1] == 1 else (month[0], month[1] - 1)


SPEND = "COALESCE(amount, 0)"


def q_users_in_country(country: str) -> Question:
    return Question(
        "users_in_country",
        1,
        f"How many users are from the country '{country}'?",
        f"SELECT COUNT(*) FROM users WHERE country = '{country}'",
    )


def q_orders_with_status(status: str) -> Question:
    return Question(
        "orders_with_status",
        1,
        f"How many orders have the status '{status}'?",
        f"SELECT COUNT(*) FROM orders WHERE status = '{status}'",
    )


def q_missing_amounts(status: str) -> Question:
    return Question(
        "missing_amounts",
        1,
        f"How many orders with status '{status}' have no recorded amount?",
        f"SELECT COUNT(*) FROM orders WHERE status = '{status}' AND amount IS NULL",
        traps=("null_equality",),
    )


def q_max_price(category: str) -> Question:
    return Question(
        "max_unit_price",
        1,
        f"What is the highest unit price of any order item in the '{category}' category?",
        f"SELECT MAX(unit_price) FROM order_items WHERE category = '{category}'",
    )


def q_signups(country: str, year: int) -> Question:
    return Question(
        "signups_in_year",
        1,
        f"List the id and email of every user from '{country}' who signed up in {year}.",
        f"SELECT id, email FROM users WHERE country = '{country}'"
        f" AND signup_date >= '{year}-01-01' AND signup_date < '{year + 1}-01-01'",
        traps=("date_window",),
    )


def q_revenue(month: Month) -> Question:
    return Question(
        "revenue_in_month",
        2,
        f"What was the total amount of completed orders placed in {_name(month)}?",
        f"SELECT COALESCE(SUM(amount), 0) FROM orders"
        f" WHERE status = 'completed' AND {_window(month)}",
        traps=("date_window",),
    )


def q_active_users(month: Month) -> Question:
    return Question(
        "active_users_in_month",
        2,
        f"How many distinct users placed at least one order (any status) in {_name(month)}?",
        f"SELECT COUNT(DISTINCT user_id) FROM orders WHERE {_window(month)}",
        traps=("date_window", "distinct"),
    )


def q_avg_order(country: str) -> Question:
    return Question(
        "avg_order_by_country",
        2,
        f"What is the average amount of the completed orders placed by users from '{country}',"
        " ignoring orders whose amount was never recorded?",
        "SELECT AVG(o.amount) FROM orders o JOIN users u ON u.id = o.user_id"
        f" WHERE u.country = '{country}' AND o.status = 'completed' AND o.amount IS NOT NULL",
        traps=("null_as_zero_in_avg",),
    )


def q_users_per_country(before: str) -> Question:
    return Question(
        "users_per_country",
        2,
        f"For each country, how many users signed up before {before}? Return the country and"
        " the count, most users first, ties broken by country code (A to Z); leave out"
        " countries with none.",
        f"SELECT country, COUNT(*) AS n FROM users WHERE signup_date < '{before}'"
        " GROUP BY country ORDER BY n DESC, country ASC",
        ordered=True,
        traps=("ties",),
    )


def q_quantity_per_category(month: Month) -> Question:
    return Question(
        "quantity_per_category",
        2,
        "For each product category, what total quantity was sold in completed orders placed"
        f" in {_name(month)}? Return category and total quantity (categories with no sales"
        " may be left out).",
        "SELECT i.category, SUM(i.quantity) FROM order_items i JOIN orders o ON o.id = i.order_id"
        f" WHERE o.status = 'completed' AND {_window(month, 'o.order_date')} GROUP BY i.category",
        traps=("date_window",),
    )


def q_spend_per_user(country: str) -> Question:
    return Question(
        "spend_per_user",
        3,
        f"For every user from '{country}', what is their total spend over all time? Include"
        " users who never ordered, with a spend of 0. Return user id and spend.",
        "SELECT u.id, COALESCE(SUM(CASE WHEN o.status = 'completed' THEN o.amount END), 0)"
        " FROM users u LEFT JOIN orders o ON o.user_id = u.id"
        f" WHERE u.country = '{country}' GROUP BY u.id",
        traps=("coalesce", "left_join_filter"),
    )


def q_never_ordered(country: str) -> Question:
    return Question(
        "never_ordered",
        3,
        f"How many users from '{country}' have never placed an order of any status?",
        f"SELECT COUNT(*) FROM users u WHERE u.country = '{country}'"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)",
        traps=("anti_join",),
    )


def q_refunded_total(month: Month) -> Question:
    return Question(
        "refunds_for_month_orders",
        3,
        f"What is the total amount refunded on orders placed in {_name(month)}, whenever the"
        " refund happened?",
        "SELECT COALESCE(SUM(r.amount), 0) FROM refunds r JOIN orders o ON o.id = r.order_id"
        f" WHERE {_window(month, 'o.order_date')}",
        traps=("wrong_date_column", "date_window"),
    )


def q_refunded_orders(month: Month) -> Question:
    return Question(
        "refunded_orders_in_month",
        3,
        f"How many orders placed in {_name(month)} have at least one refund?",
        "SELECT COUNT(DISTINCT o.id) FROM orders o JOIN refunds r ON r.order_id = o.id"
        f" WHERE {_window(month, 'o.order_date')}",
        traps=("fan_out", "date_window"),
    )


def q_net_revenue(month: Month) -> Question:
    return Question(
        "net_revenue_in_month",
        3,
        f"What was the net revenue of {_name(month)}: the total amount of completed orders"
        " placed that month minus every refund on those orders (whenever refunded)?",
        f"SELECT (SELECT COALESCE(SUM(amount), 0) FROM orders WHERE status = 'completed'"
        f" AND {_window(month)})"
        " - (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r JOIN orders o ON o.id = r.order_id"
        f" WHERE o.status = 'completed' AND {_window(month, 'o.order_date')})",
        traps=("fan_out", "coalesce", "date_window"),
    )


def q_refund_share_by_country(scope: str) -> Question:
    conditions = {
        "all": ("", "orders (any status)"),
        "completed": (" AND o.status = 'completed'", "completed orders"),
        "2024": (" AND o.order_date >= '2024-01-01 00:00:00'", "orders placed in 2024 or later"),
    }
    cond, words = conditions[scope]
    return Question(
        "refund_share_by_country",
        4,
        f"For each country in the users table, what share of its users' {words} has at least"
        " one refund, as a number between 0 and 1? A country whose users have no such orders"
        " gets 0. Return country and share.",
        "SELECT u.country, COALESCE(1.0 * COUNT(DISTINCT r.order_id)"
        " / NULLIF(COUNT(DISTINCT o.id), 0), 0)"
        f" FROM users u LEFT JOIN orders o ON o.user_id = u.id{cond}"
        " LEFT JOIN refunds r ON r.order_id = o.id GROUP BY u.country",
        traps=("division_by_zero", "integer_division", "fan_out"),
    )


def q_top_n(month: Month, n: int) -> Question:
    return Question(
        "top_spenders_in_month",
        4,
        f"Who were the top {n} users by spend in {_name(month)}? Break ties by the lower user"
        " id. Return user id and spend, highest spend first.",
        f"SELECT user_id, SUM({SPEND}) AS spend FROM orders"
        f" WHERE status = 'completed' AND {_window(month)}"
        f" GROUP BY user_id ORDER BY ROUND(spend, 2) DESC, user_id ASC LIMIT {n}",
        ordered=True,
        traps=("ties", "date_window", "coalesce"),
    )


def q_grew(month: Month) -> Question:
    prev = _previous(month)
    return Question(
        "spend_grew_vs_previous_month",
        4,
        f"How many users spent more in {_name(month)} than in {_name(prev)}? A user with no"
        " completed orders in a month spent 0 that month.",
        "WITH cur AS (SELECT user_id, SUM(COALESCE(amount, 0)) AS s FROM orders"
        f" WHERE status = 'completed' AND {_window(month)} GROUP BY user_id),"
        " prev AS (SELECT user_id, SUM(COALESCE(amount, 0)) AS s FROM orders"
        f" WHERE status = 'completed' AND {_window(prev)} GROUP BY user_id)"
        " SELECT COUNT(*) FROM cur LEFT JOIN prev ON prev.user_id = cur.user_id"
        " WHERE cur.s > COALESCE(prev.s, 0)",
        traps=("coalesce", "left_join", "date_window"),
    )


def q_category_share(month: Month) -> Question:
    window = _window(month, "o.order_date")
    return Question(
        "category_revenue_share",
        4,
        "For each product category, what share of the item revenue (quantity x unit price) of"
        f" completed orders placed in {_name(month)} did it make, as a number between 0 and 1?"
        " Leave out categories with no sales. Return category and share.",
        "SELECT i.category, SUM(i.quantity * i.unit_price) / (SELECT SUM(i2.quantity *"
        " i2.unit_price) FROM order_items i2 JOIN orders o ON o.id = i2.order_id"
        f" WHERE o.status = 'completed' AND {window})"
        " FROM order_items i JOIN orders o ON o.id = i.order_id"
        f" WHERE o.status = 'completed' AND {window} GROUP BY i.category",
        traps=("integer_division", "date_window"),
    )


def q_busiest_day(month: Month) -> Question:
    return Question(
        "busiest_day",
        4,
        f"Which calendar day of {_name(month)} had the most orders (any status)? If days tie,"
        " give the earliest. Return the day as 'YYYY-MM-DD' and its number of orders.",
        "SELECT substr(order_date, 1, 10) AS day, COUNT(*) AS n FROM orders"
        f" WHERE {_window(month)} GROUP BY day ORDER BY n DESC, day ASC LIMIT 1",
        traps=("ties", "date_window"),
    )


def q_top_excluding_refunders(today: str, n: int) -> Question:
    year, month = int(today[:4]), int(today[5:7])
    last = _previous((year, month))
    return Question(
        "top_spenders_excluding_refunders",
        5,
        f"Today is {today}. Who are the top {n} users by spend in the last calendar month,"
        " excluding users who refunded more than 50% of their orders? A user's refund share is"
        " the number of their orders (any status, all time) with at least one refund divided"
        " by the number of all their orders. Break ties by the lower user id. Return user id"
        " and spend, highest spend first.",
        "WITH share AS (SELECT o.user_id, 1.0 * COUNT(DISTINCT r.order_id)"
        " / COUNT(DISTINCT o.id) AS refund_share"
        " FROM orders o LEFT JOIN refunds r ON r.order_id = o.id GROUP BY o.user_id),"
        f" spend AS (SELECT user_id, SUM({SPEND}) AS spend FROM orders"
        f" WHERE status = 'completed' AND {_window(last)} GROUP BY user_id)"
        " SELECT s.user_id, s.spend FROM spend s JOIN share q ON q.user_id = s.user_id"
        f" WHERE q.refund_share <= 0.5 ORDER BY ROUND(s.spend, 2) DESC, s.user_id ASC LIMIT {n}",
        ordered=True,
        traps=("fan_out", "integer_division", "date_window", "ties", "more_than_half"),
    )


def q_refunders_in_month(month: Month) -> Question:
    return Question(
        "heavy_refunders_in_month",
        5,
        f"Among users who placed at least one order (any status) in {_name(month)}, how many"
        f" had more than half of their {_name(month)} orders refunded (at least one refund,"
        " whenever it happened)?",
        "WITH m AS (SELECT o.user_id, COUNT(DISTINCT o.id) AS n,"
        " COUNT(DISTINCT r.order_id) AS refunded FROM orders o"
        " LEFT JOIN refunds r ON r.order_id = o.id"
        f" WHERE {_window(month, 'o.order_date')} GROUP BY o.user_id)"
        " SELECT COUNT(*) FROM m WHERE 1.0 * refunded / n > 0.5",
        traps=("fan_out", "integer_division", "more_than_half"),
    )


def q_top_countries_net(month: Month, n: int) -> Question:
    window = _window(month, "o.order_date")
    return Question(
        "top_countries_by_net_revenue",
        5,
        f"Which {n} countries had the highest net revenue in {_name(month)}: the amounts of"
        " completed orders placed that month by their users, minus every refund on those"
        " orders? Break ties by country code (A to Z). Return country and net revenue, highest"
        " first.",
        "WITH gross AS (SELECT u.country, SUM(COALESCE(o.amount, 0)) AS g FROM orders o"
        f" JOIN users u ON u.id = o.user_id WHERE o.status = 'completed' AND {window}"
        " GROUP BY u.country),"
        " back AS (SELECT u.country, SUM(r.amount) AS b FROM refunds r"
        " JOIN orders o ON o.id = r.order_id JOIN users u ON u.id = o.user_id"
        f" WHERE o.status = 'completed' AND {window} GROUP BY u.country)"
        " SELECT gross.country, gross.g - COALESCE(back.b, 0) AS net FROM gross"
        " LEFT JOIN back ON back.country = gross.country"
        f" ORDER BY ROUND(net, 2) DESC, gross.country ASC LIMIT {n}",
        ordered=True,
        traps=("fan_out", "coalesce", "ties"),
    )


def _instances() -> list[Callable[[], Question]]:
    focus: list[Month] = [(2024, 6), (2024, 3), (2023, 12)]
    return [
        *(lambda c=c: q_users_in_country(c) for c in ("US", "DE", "NZ")),
        *(lambda s=s: q_orders_with_status(s) for s in ("completed", "cancelled", "pending")),
        *(lambda s=s: q_missing_amounts(s) for s in ("completed", "pending", "cancelled")),
        *(lambda c=c: q_max_price(c) for c in ("kitchen", "outdoor", "stationery")),
        *(lambda c=c, y=y: q_signups(c, y) for c, y in (("CA", 2023), ("BR", 2024), ("IN", 2023))),
        *(lambda m=m: q_revenue(m) for m in ((2024, 6), (2024, 2), (2023, 11))),
        *(lambda m=m: q_active_users(m) for m in ((2024, 5), (2023, 12), (2024, 3))),
        *(lambda c=c: q_avg_order(c) for c in ("GB", "FR", "IN")),
        *(lambda d=d: q_users_per_country(d) for d in ("2023-06-01", "2024-01-01", "2024-07-01")),
        *(lambda m=m: q_quantity_per_category(m) for m in ((2024, 1), (2023, 9), (2024, 6))),
        *(lambda c=c: q_spend_per_user(c) for c in ("CA", "BR", "FR")),
        *(lambda c=c: q_never_ordered(c) for c in ("US", "GB", "NZ")),
        *(lambda m=m: q_refunded_total(m) for m in focus),
        *(lambda m=m: q_refunded_orders(m) for m in focus),
        *(lambda m=m: q_net_revenue(m) for m in focus),
        *(lambda s=s: q_refund_share_by_country(s) for s in ("all", "completed", "2024")),
        *(lambda m=m, n=n: q_top_n(m, n) for m, n in zip(focus, (4, 6, 4), strict=True)),
        *(lambda m=m: q_grew(m) for m in focus),
        *(lambda m=m: q_category_share(m) for m in ((2024, 6), (2024, 1), (2023, 10))),
        *(lambda m=m: q_busiest_day(m) for m in ((2024, 5), (2023, 8), (2024, 2))),
        *(
            lambda t=t, n=n: q_top_excluding_refunders(t, n)
            for t, n in (("2024-07-15", 3), ("2024-04-10", 3), ("2024-01-05", 5))
        ),
        *(lambda m=m: q_refunders_in_month(m) for m in focus),
        *(
            lambda m=m, n=n: q_top_countries_net(m, n)
            for m, n in zip(focus, (3, 3, 2), strict=True)
        ),
    ]


def all_questions() -> list[tuple[str, Question]]:
    """Every question with its stable id ``<template>-<instance>``."""
    counts: dict[str, int] = {}
    out: list[tuple[str, Question]] = []
    for make in _instances():
        question = make()
        index = counts.get(question.template, 0)
        counts[question.template] = index + 1
        out.append((f"sql-{question.template}-{index}", question))
    return out
