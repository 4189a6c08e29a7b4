"""Spend limits: a per-model daily cap, and the per-request cost budget ``auto`` respects.

- :class:`SpendLedger` keeps each model's spend for the current UTC day. It is seeded from
  the trace store the first time a model is checked each day (so a cap holds across
  restarts), then kept up to date from the traces the gateway closes.
- :class:`SpendCapProvider` wraps a model that has ``daily_cap_usd``: once the day's spend
  reaches the cap it refuses with a 429 saying which cap, how much was spent, and when it
  resets (the next UTC midnight). A request in flight when the cap is crossed finishes.
- :class:`CostModel` estimates what a request would cost in each mode — the prompt's
  estimated tokens plus the median thought and answer tokens that mode recently used, at the
  target model's price — for the router's ``max_cost_usd`` check.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

from ponder.config import ModelConfig
from ponder.errors import PonderError
from ponder.events import Event, Usage
from ponder.meter import percentile
from ponder.pricing import cost_of, format_usd, price_for
from ponder.providers.base import Availability, Provider
from ponder.providers.handover import Rest
from ponder.request import ChatRequest
from ponder.tokens import estimate_tokens

log = logging.getLogger("ponder.budget")

M = TypeVar("M", bound=str)

# (model, since unix seconds) -> USD recorded in the store since then.
SpendLoader = Callable[[str, float], Awaitable[float]]


def day_start(now: float) -> float:
    """The start of ``now``'s UTC day, in unix seconds."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC).timestamp()


class SpendCapError(PonderError):
    side = "client"
    code = "spend_cap_reached"
    http_status = 429

    def __init__(self, model: str, cap: float, spent: float, resets_at: float) -> None:
        self.status = 429
        self.resets_at = resets_at
        when = dt.datetime.fromtimestamp(resets_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"Model {model!r} reached its daily spend cap: {format_usd(spent)} of"
            f" {format_usd(cap)} (daily_cap_usd in ponder.toml). It resets at {when};"
            " use another model until then, or raise the cap."
        )


class SpendLedger:
    def __init__(
        self, load: SpendLoader | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._day = day_start(clock())
        self._spent: dict[str, float] = {}

    def _roll(self) -> None:
        today = day_start(self._clock())
        if today != self._day:
            self._day, self._spent = today, {}

    async def spent_today(self, model: str) -> float:
        with self._lock:
            self._roll()
            day = self._day
            known = self._spent.get(model)
        if known is not None:
            return known
        loaded = 0.0
        if self._load is not None:
            try:
                loaded = await self._load(model, day)
            except Exception:  # a store that cannot answer must not block requests
                log.exception("could not read today's spend for %s", model)
        with self._lock:
            # Traces closed while the store was read are in the store's sum or were not yet
            # counted here; either way the store's figure is the floor.
            if day == self._day:
                self._spent[model] = max(loaded, self._spent.get(model, 0.0))
            return self._spent.get(model, loaded)

    def add(self, model: str, usd: float | None, at: float | None = None) -> None:
        if not usd:
            return
        with self._lock:
            self._roll()
            if at is not None and at < self._day:
                return  # yesterday's request, counted in yesterday's total
            if model in self._spent:  # otherwise the store is read at the first check
                self._spent[model] += usd

    async def check(self, model: ModelConfig) -> None:
        cap = model.daily_cap_usd
        if cap is None:
            return
        spent = await self.spent_today(model.name)
        if spent >= cap:
            raise SpendCapError(model.name, cap, spent, self._day + 86_400)


class SpendCapProvider(Provider):
    """A model with a daily cap: checks the ledger, then streams from the model."""

    kind = "spend-cap"

    def __init__(self, inner: Provider, ledger: SpendLedger) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.ledger = ledger
        self.supports_tools = inner.supports_tools  # type: ignore[misc]

    async def _opening(
        self, request: ChatRequest, reason: str | None, estimates: dict[str, float] | None
    ) -> AsyncGenerator[Event | Rest, None]:
        await self.ledger.check(self.config)
        yield Rest(self.inner.stream(request, reason, estimates))

    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:  # pragma: no cover
        return self.inner.generate(request)

    async def check(self) -> Availability:
        return await self.inner.check()

    async def aclose(self) -> None:
        await self.inner.aclose()


class CostModel:
    """Expected cost of a request per mode (see the module docstring)."""

    def __init__(self, window: int = 50, min_samples: int = 3) -> None:
        self._window = window
        self._min_samples = min_samples
        self._tokens: dict[str, deque[tuple[int, int]]] = {}

    def observe(self, mode: str, thinking_tokens: int, answer_tokens: int) -> None:
        samples = self._tokens.setdefault(mode, deque(maxlen=self._window))
        samples.append((thinking_tokens, answer_tokens))

    def expected_usd(
        self, mode: str, model: ModelConfig, request: ChatRequest
    ) -> tuple[float | None, str]:
        """(USD or None, where the figure came from)."""
        price = price_for(model)
        if price is None:
            return None, f"{model.name} has no price"
        if price.free:
            return 0.0, f"{model.name} is free"
        samples = self._tokens.get(mode)
        if samples is None or len(samples) < self._min_samples:
            return None, f"too few recent {mode} requests to estimate their tokens"
        thinking = percentile([float(t) for t, _ in samples], 50) or 0.0
        answer = percentile([float(a) for _, a in samples], 50) or 0.0
        prompt = estimate_tokens("\n".join(m.content for m in request.messages))
        usage = Usage(prompt, int(thinking), int(answer), estimated=True)
        cost = cost_of(price, usage)
        return (cost.total_usd if cost else None), f"median of {len(samples)} recent {mode}"


def budget_choice(
    chosen: M,
    budget: float,
    costs: Mapping[M, tuple[float | None, str]],
) -> tuple[M, str | None]:
    """The mode to use under a cost budget and a reason to add (None: keep the choice)."""
    cost, where = costs[chosen]
    if cost is None:
        return chosen, f"cost budget {format_usd(budget)} not checked: {where}"
    if cost <= budget:
        return chosen, None
    others = [(c, m) for m, (c, _) in costs.items() if m != chosen and c is not None]
    fitting = sorted((c, m) for c, m in others if c <= budget)
    over = f"{chosen} would cost ≈{format_usd(cost)} > budget {format_usd(budget)}"
    if fitting:
        usd, mode = fitting[0]
        return mode, f"{over} → {mode} (≈{format_usd(usd)})"
    unknown = [m for m, (c, _) in costs.items() if m != chosen and c is None]
    if unknown:  # over for certain here, perhaps within there
        mode = unknown[0]
        return mode, f"{over} → {mode} (its cost is not known yet: {costs[mode][1]})"
    cheapest = min([(cost, chosen), *others])
    return cheapest[1], (
        f"every mode exceeds the budget {format_usd(budget)}: the cheapest,"
        f" {cheapest[1]} (≈{format_usd(cheapest[0])})"
    )
