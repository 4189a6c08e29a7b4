"""Typed reliability settings of one model, read from its table in ``ponder.toml``.

```toml
[models.deep]
retries  = { attempts = 3, backoff_ms = 500, max_backoff_ms = 8000, max_retry_after_ms = 60000 }
timeouts = { connect_ms = 10000, ttft_ms = 30000, ttfa_ms = 120000, idle_ms = 30000 }
fallbacks = ["deep-backup", "fast"]
breaker  = { window_s = 60, min_requests = 20, failure_rate = 0.5, cooldown_s = 30 }
```

Every key is optional; the defaults are the dataclass defaults below (``ponder models``
prints them per model). A timeout left out (or set to 0) is off. ``breaker = false`` turns the
breaker off; ``retries = { attempts = 1 }`` turns retries off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from ponder.errors import ConfigError

# The statuses worth another attempt: timeouts, conflicts, rate limits, and a server's own
# failures (529 is Anthropic's "overloaded").
RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504, 529)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` counts the first try; the wait before retry n is a full-jitter draw in
    [0, min(max_backoff_ms, backoff_ms · 2^(n-1))], or the server's ``Retry-After`` /
    ``retry-after-ms`` when it sent one (a wait longer than ``max_retry_after_ms`` is not
    waited for: the attempt fails over to the fallbacks instead)."""

    attempts: int = 3
    backoff_ms: float = 500.0
    max_backoff_ms: float = 8000.0
    max_retry_after_ms: float = 60000.0
    statuses: tuple[int, ...] = RETRY_STATUSES

    def describe(self) -> str:
        if self.attempts <= 1:
            return "off"
        return (
            f"{self.attempts} attempts, backoff {self.backoff_ms:g}-{self.max_backoff_ms:g} ms"
            " full jitter, Retry-After honoured"
        )


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Per attempt, in milliseconds; ``None`` is off. ``ttft_ms``: first token of any kind;
    ``ttfa_ms``: first answer token (a model still thinking at the deadline); ``idle_ms``: the
    gap between two chunks once the first has arrived; ``total_ms``: the whole attempt."""

    connect_ms: float = 10000.0
    ttft_ms: float | None = None
    ttfa_ms: float | None = None
    idle_ms: float | None = None
    total_ms: float | None = None

    def describe(self) -> str:
        parts = []
        for name in ("connect_ms", "ttft_ms", "ttfa_ms", "idle_ms", "total_ms"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name.removesuffix('_ms')} {value / 1000:g} s")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Opens when, over the last ``window_s`` seconds, at least ``min_requests`` attempts
    were made and at least ``failure_rate`` of them failed upstream; stays open for
    ``cooldown_s``, then lets one probe through (half-open): its success closes the breaker,
    its failure opens it again."""

    enabled: bool = True
    window_s: float = 60.0
    min_requests: int = 20
    failure_rate: float = 0.5
    cooldown_s: float = 30.0

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        return (
            f"opens at {self.failure_rate:.0%} failures of >= {self.min_requests} in"
            f" {self.window_s:g} s, cooldown {self.cooldown_s:g} s"
        )


@dataclass(frozen=True, slots=True)
class Policies:
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: TimeoutPolicy = field(default_factory=TimeoutPolicy)
    fallbacks: tuple[str, ...] = ()
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)


T = TypeVar("T")
POLICY_KEYS = frozenset({"retries", "timeouts", "fallbacks", "breaker"})


def parse_policies(where: str, table: Mapping[str, Any]) -> Policies:
    """The policies in a model's table (``where`` names it in error messages)."""
    retries = _parse(where, "retries", table.get("retries"), RetryPolicy)
    if retries.attempts < 1:
        raise ConfigError(f"{where} retries.attempts must be at least 1 (1 = no retry).")
    timeouts = _parse(where, "timeouts", table.get("timeouts"), TimeoutPolicy)
    raw_breaker = table.get("breaker")
    if raw_breaker is False:
        breaker = BreakerPolicy(enabled=False)
    else:
        breaker = _parse(where, "breaker", raw_breaker, BreakerPolicy)
    if not 0 < breaker.failure_rate <= 1:
        raise ConfigError(f"{where} breaker.failure_rate must be in (0, 1], e.g. 0.5.")
    fallbacks = table.get("fallbacks", [])
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        raise ConfigError(f'{where} fallbacks must be a list of model names, e.g. ["fast"].')
    return Policies(retries, timeouts, tuple(fallbacks), breaker)


def _parse(where: str, key: str, raw: Any, cls: type[T]) -> T:
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} {key} must be a table, e.g. {key} = {{ ... }}.")
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(
            f"{where} {key} has unknown keys: {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(known))})."
        )
    values: dict[str, Any] = {}
    default = cls()
    for name, value in raw.items():
        current = getattr(default, name)
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, tuple):
            ok = isinstance(value, list) and all(isinstance(v, int) for v in value)
            value = tuple(value) if ok else value
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        if not ok:
            raise ConfigError(f"{where} {key}.{name} has a value of the wrong type: {value!r}.")
        if name.endswith("_ms") and value == 0:
            value = None  # 0 turns a timeout off
        values[name] = value
    return cls(**values)
