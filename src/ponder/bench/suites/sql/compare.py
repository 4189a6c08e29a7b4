"""Spider-style result comparison: rows as a multiset (a list when order matters), columns
matched in any order, numbers equal within a small tolerance.

A number also matches when the model rounded it to two decimals (``12.35`` for ``12.3456``);
integers and floats compare by value (``3`` equals ``3.0``). Column names are ignored.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from ponder.bench.suites.sql.execute import QueryResult, Row

ABS_TOL = 1e-4
REL_TOL = 1e-6
MAX_PERMUTED_COLUMNS = 6


def values_equal(expected: Any, got: Any) -> bool:
    if _is_number(expected) and _is_number(got):
        e, g = float(expected), float(got)
        if math.isclose(e, g, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            return True
        return g == round(g, 2) and round(e, 2) == g  # the model rounded to cents
    if isinstance(expected, bytes | bytearray) or isinstance(got, bytes | bytearray):
        return bytes(expected) == bytes(got) if type(expected) is type(got) else False
    return bool(expected == got)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if _is_number(value):
        return (1, round(float(value), 2))
    if isinstance(value, bytes | bytearray):
        return (3, bytes(value))
    return (2, str(value))


def _rows_key(row: Row) -> tuple[tuple[int, Any], ...]:
    return tuple(_sort_key(v) for v in row)


def _rows_equal(expected: Sequence[Row], got: Sequence[Row]) -> bool:
    return all(
        all(values_equal(e, g) for e, g in zip(er, gr, strict=True))
        for er, gr in zip(expected, got, strict=True)
    )


def _permuted(rows: Sequence[Row], order: Sequence[int]) -> list[Row]:
    return [tuple(row[i] for i in order) for row in rows]


def compare_results(expected: QueryResult, got: QueryResult, ordered: bool) -> tuple[bool, str]:
    """``(match, reason)``; the reason names the mismatch without revealing expected values."""
    n_cols = len(expected.columns)
    if len(got.columns) != n_cols:
        return False, f"the result has {len(got.columns)} columns; the question asks for {n_cols}"
    if len(got.rows) != len(expected.rows):
        return False, (
            f"the result has {len(got.rows)} rows; the correct result has {len(expected.rows)}"
        )
    if n_cols > MAX_PERMUTED_COLUMNS:
        orders: Sequence[Sequence[int]] = [tuple(range(n_cols))]
    else:
        orders = list(itertools.permutations(range(n_cols)))
    expected_sorted = sorted(expected.rows, key=_rows_key)
    unordered_match = False
    for order in orders:
        candidate = _permuted(got.rows, order)
        if ordered and _rows_equal(expected.rows, candidate):
            return True, "the rows match, in order"
        if _rows_equal(expected_sorted, sorted(candidate, key=_rows_key)):
            if not ordered:
                return True, "the rows match"
            unordered_match = True
    if unordered_match:
        return False, "the rows are right but not in the order the question asks for"
    if len(got.rows) > 500:
        return False, "the rows differ from the correct result"
    wrong = _count_unmatched(expected.rows, got.rows)
    return False, f"{wrong} of the {len(got.rows)} rows differ from the correct result"


def _count_unmatched(expected: Sequence[Row], got: Sequence[Row]) -> int:
    """Rows of ``got`` with no equal row in ``expected`` (as sets, columns as given)."""
    remaining = list(expected)
    unmatched = 0
    for row in got:
        for i, candidate in enumerate(remaining):
            if _rows_equal([candidate], [row]):
                del remaining[i]
                break
        else:
            unmatched += 1
    return max(unmatched, 1)
