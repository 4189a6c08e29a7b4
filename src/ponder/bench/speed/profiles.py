"""Load profiles: which steps a run makes, and how each step offers its load.

| profile       | steps                                                                  |
|---------------|------------------------------------------------------------------------|
| synchronous   | one request at a time                                                  |
| concurrent    | one step per ``--concurrency`` value: that many requests always in flight |
| constant      | one step per ``--rate``: requests start 1/rate seconds apart (open loop) |
| poisson       | one step per ``--rate``: exponential gaps with that mean rate (seeded)  |
| sweep         | synchronous, then throughput (``--max-concurrency`` in flight: the     |
|               | saturation rate), then ``--sweep-rates`` constant rates evenly between |

Closed-loop steps (synchronous, concurrent, throughput) measure what N users waiting on each
other see; open-loop steps (constant, poisson) keep arriving whatever the latency, which is
what exposes queueing. An open-loop step never has more than ``--max-concurrency`` requests
in flight; an arrival beyond that waits for a slot (and the achieved rate says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepKind = Literal["synchronous", "concurrent", "throughput", "constant", "poisson"]
PROFILES = ("synchronous", "concurrent", "constant", "poisson", "sweep")
OPEN_LOOP = frozenset({"constant", "poisson"})


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    value: float  # requests in flight (closed loop) or requests/s (open loop)

    @property
    def name(self) -> str:
        if self.kind == "synchronous":
            return "synchronous"
        if self.kind in OPEN_LOOP:
            return f"{self.kind} {self.value:g}/s"
        return f"{self.kind} {self.value:g}"

    @property
    def open_loop(self) -> bool:
        return self.kind in OPEN_LOOP


class ProfileError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fixed_steps(
    profile: str, concurrencies: tuple[int, ...], rates: tuple[float, ...], max_concurrency: int
) -> list[Step]:
    """The steps of every profile but sweep (whose later steps depend on its first two)."""
    if profile == "synchronous":
        return [Step("synchronous", 1)]
    if profile == "concurrent":
        if not concurrencies:
            raise ProfileError("--profile concurrent needs --concurrency N[,N...], e.g. 1,16,64.")
        return [Step("concurrent", n) for n in concurrencies]
    if profile in OPEN_LOOP:
        if not rates:
            raise ProfileError(f"--profile {profile} needs --rate R[,R...] (requests per second).")
        kind: StepKind = "constant" if profile == "constant" else "poisson"
        return [Step(kind, rate) for rate in rates]
    if profile == "sweep":
        return [Step("synchronous", 1), Step("throughput", max_concurrency)]
    raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")


def sweep_rates(synchronous_rps: float, throughput_rps: float, count: int) -> list[Step]:
    """``count`` constant rates evenly spaced strictly between the two measured rates."""
    if count < 1 or throughput_rps <= 0:
        return []
    low, high = synchronous_rps, throughput_rps
    if high <= low:  # the server does not scale with concurrency: probe around its rate
        low, high = high * 0.5, high
    step = (high - low) / (count + 1)
    return [Step("constant", float(f"{low + step * (i + 1):.3g}")) for i in range(count)]
