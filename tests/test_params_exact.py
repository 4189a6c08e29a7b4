"""The request parameters every door reads (``server/params.py``), exactly: each accepted
value as it comes back, each refusal with its field and its whole message."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.server.errors import ParamError
from ponder.server.params import (
    MAX_COST_HEADER,
    MAX_TTFA_HEADER,
    max_cost,
    max_ttfa,
    number,
    optional_bool,
    positive_int,
)


def refusal(call: Any, *args: Any, **kwargs: Any) -> tuple[str | None, str]:
    with pytest.raises(ParamError) as info:
        call(*args, **kwargs)
    return info.value.param, info.value.message


def test_headers_are_named_as_documented() -> None:
    assert (MAX_TTFA_HEADER, MAX_COST_HEADER) == ("x-ponder-max-ttfa-ms", "x-ponder-max-cost-usd")


@pytest.mark.parametrize(("body", "expected"), [
    ({}, None), ({"stream": None}, None), ({"stream": True}, True), ({"stream": False}, False),
])  # fmt: skip
def test_optional_bool_reads(body: dict[str, Any], expected: bool | None) -> None:
    assert optional_bool(body, "stream") is expected


@pytest.mark.parametrize("value", [1, 0, "true", [], {}])
def test_optional_bool_refuses_what_is_not_a_bool(value: Any) -> None:
    assert refusal(optional_bool, {"stream": value}, "stream") == (
        "stream", "'stream' must be true or false.")  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (0, 0.0), (2, 2.0), (0.5, 0.5), (1, 1.0),
])  # fmt: skip
def test_number_reads_the_range_inclusive(value: Any, expected: float | None) -> None:
    got = number({"t": value} if value is not None else {}, "t", 0.0, 2.0)
    assert got == expected and (got is None or type(got) is float)


@pytest.mark.parametrize("value", [-0.001, 2.001, True, False, "1", [1]])
def test_number_refuses_out_of_range_and_non_numbers(value: Any) -> None:
    assert refusal(number, {"t": value}, "t", 0.0, 2.0) == (
        "t", "'t' must be a number between 0 and 2.")  # fmt: skip
    assert refusal(number, {"t": value}, "t", 0.0, 2.0, anthropic=True) == (
        "t", "t: must be a number between 0 and 2.")  # fmt: skip


def test_number_words_fractional_bounds_compactly() -> None:
    message = refusal(number, {"p": 2}, "p", 0.25, 1.5)[1]
    assert message == "'p' must be a number between 0.25 and 1.5."


@pytest.mark.parametrize(("value", "expected"), [(None, None), (1, 1), (4096, 4096)])
def test_positive_int_reads(value: Any, expected: int | None) -> None:
    assert positive_int(value, "max_tokens") == expected


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, True, "3"])
def test_positive_int_refuses(value: Any) -> None:
    assert refusal(positive_int, value, "max_tokens") == (
        "max_tokens", "'max_tokens' must be a positive integer.")  # fmt: skip


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("1", 1.0), ("2500", 2500.0), ("0.5", 0.5), ("1e3", 1000.0),
])  # fmt: skip
def test_max_ttfa_reads_a_positive_number_of_ms(header: str | None, expected: float | None) -> None:
    assert max_ttfa(header) == expected


@pytest.mark.parametrize("header", ["0", "-5", "abc", "", "nan", "inf", "-inf"])
def test_max_ttfa_refuses(header: str) -> None:
    assert refusal(max_ttfa, header) == (
        MAX_TTFA_HEADER, f"Header {MAX_TTFA_HEADER} must be a positive number of ms.")  # fmt: skip


@pytest.mark.parametrize(("body", "header", "expected"), [
    ({}, None, None),
    ({}, "0", 0.0),
    ({}, "0.25", 0.25),
    ({"ponder": {"max_cost_usd": 0.5}}, "0.25", 0.25),  # the header wins
    ({"ponder": {"max_cost_usd": 0.5}}, None, 0.5),
    ({"ponder": {"max_cost_usd": 0}}, None, 0.0),
    ({"ponder": {"max_cost_usd": 2}}, None, 2.0),
    ({"ponder": {"max_cost_usd": None}}, None, None),
    ({"ponder": {}}, None, None),
    ({"ponder": "not an object"}, None, None),
])  # fmt: skip
def test_max_cost_reads_the_header_then_the_body(
    body: dict[str, Any], header: str | None, expected: float | None
) -> None:
    got = max_cost(body, header)
    assert got == expected and (got is None or type(got) is float)


@pytest.mark.parametrize("header", ["-0.01", "abc", "", "nan", "inf"])
def test_max_cost_refuses_a_bad_header(header: str) -> None:
    assert refusal(max_cost, {"ponder": {"max_cost_usd": 1}}, header) == (
        MAX_COST_HEADER, f"Header {MAX_COST_HEADER} must be USD (0 or more).")  # fmt: skip


@pytest.mark.parametrize("value", [-1, -0.5, True, "1", [1]])
def test_max_cost_refuses_a_bad_body_value(value: Any) -> None:
    assert refusal(max_cost, {"ponder": {"max_cost_usd": value}}, None) == (
        "ponder.max_cost_usd", "'ponder.max_cost_usd' must be USD (0 or more).")  # fmt: skip
