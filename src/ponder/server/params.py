"""Request parameters every front door reads the same way: typed, ranged, with a 400 that
names the field (:class:`~ponder.server.errors.ParamError`), and ponder's own headers.

The OpenAI doors word their messages ``'key' must be …``; the Anthropic door words them as
Anthropic does, ``key: must be …`` (``anthropic=True``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ponder.server.errors import ParamError

MAX_TTFA_HEADER = "x-ponder-max-ttfa-ms"
MAX_COST_HEADER = "x-ponder-max-cost-usd"


def _must(key: str, what: str, anthropic: bool) -> ParamError:
    return ParamError(key, f"{key}: must be {what}." if anthropic else f"'{key}' must be {what}.")


def optional_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _must(key, "true or false", False)


def number(
    body: Mapping[str, Any], key: str, low: float, high: float, *, anthropic: bool = False
) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _must(key, f"a number between {low:g} and {high:g}", anthropic)
    return float(value)


def positive_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _must(key, "a positive integer", False)
    return value


def max_ttfa(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise ParamError(
            MAX_TTFA_HEADER, f"Header {MAX_TTFA_HEADER} must be a positive number of ms."
        )
    return value


def max_cost(body: Mapping[str, Any], header: str | None) -> float | None:
    """A cost budget from the header, or ``ponder.max_cost_usd`` in the body (header wins)."""
    if header is not None:
        try:
            value = float(header)
        except ValueError:
            value = -1.0
        if not math.isfinite(value) or value < 0:
            raise ParamError(MAX_COST_HEADER, f"Header {MAX_COST_HEADER} must be USD (0 or more).")
        return value
    extension = body.get("ponder")
    raw = extension.get("max_cost_usd") if isinstance(extension, Mapping) else None
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ParamError("ponder.max_cost_usd", "'ponder.max_cost_usd' must be USD (0 or more).")
    return float(raw)
