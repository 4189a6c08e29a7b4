"""Helpers of the providers' exact tests: a model from a table, and events as plain tuples.

Events carry a monotonic ``at_ns``; comparing them whole would compare clocks. :func:`plain`
drops it, so a test can assert a stream's events exactly, field by field, in order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ponder.config import ModelConfig, parse_config
from ponder.events import Event

KEY_ENV = "PONDER_EXACT_KEY"
KEY = "sk-exact-5d1c"


def model(provider: str, base_url: str = "http://upstream.test", **table: Any) -> ModelConfig:
    """The model ``m`` of a one-model config (upstream id ``up`` unless ``model`` is given)."""
    entry = {"provider": provider, "base_url": base_url, "model": "up", **table}
    return parse_config({"models": {"m": entry}}).model("m")


def plain(events: Iterable[Event]) -> list[tuple[Any, ...]]:
    """Each event as (type, its fields but the clock), in order; a finish's stop sequence
    only when there is one (few providers say)."""
    out: list[tuple[Any, ...]] = []
    for event in events:
        values = tuple(
            getattr(event, f.name)
            for f in dataclasses.fields(event)  # type: ignore[arg-type]
            if f.name not in ("at_ns", "type")
            and not (f.name == "stop_sequence" and getattr(event, f.name) is None)
        )
        out.append((event.type, *values))
    return out
