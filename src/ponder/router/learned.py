"""The learned router: estimate each mode's chance and cost, pick the cheaper expected wait.

For a prompt, :class:`LinearScorer` estimates P(correct | fast), P(correct | deep) (calibrated
logistic regressions) and each mode's E2E and TTFA (log-linear regressions), all as linear
heads over the same :mod:`ponder.router.features` vector: one gather and one small matrix
product per request. :class:`LearnedRouter` then minimises the expected time-to-correct
E2E + (1 − p)·D (DESIGN.md), among the modes whose expected TTFA meets the request's latency
budget. The rules stay as overrides (see :class:`LearnedRouter`) and as a feature.

Models are saved as JSON (coefficients, calibration folded in, hashing parameters): loading
one runs no code from the file. Training lives in :mod:`ponder.router.train`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ponder.events import Mode
from ponder.request import ChatRequest
from ponder.router.base import Decision
from ponder.router.features import Featurizer, clip
from ponder.router.latency import LatencyTracker
from ponder.router.rules import CATEGORY_MODE, REASONS, RuleRouter

FORMAT = "ponder.router/linear"
VERSION = 1
#: Output heads, in matrix row order. ``p_*`` use a logit link, the latencies a log link.
HEADS: tuple[str, ...] = (
    "p_fast", "p_deep", "e2e_fast_ms", "e2e_deep_ms", "ttfa_fast_ms", "ttfa_deep_ms",
)
DEFAULT_D_MINUTES = 15.0


@dataclass(frozen=True, slots=True)
class Estimate:
    p_fast: float
    p_deep: float
    e2e_fast_ms: float
    e2e_deep_ms: float
    ttfa_fast_ms: float
    ttfa_deep_ms: float

    def p(self, mode: Mode) -> float:
        return self.p_fast if mode == "fast" else self.p_deep

    def e2e_ms(self, mode: Mode) -> float:
        return self.e2e_fast_ms if mode == "fast" else self.e2e_deep_ms

    def ttfa_ms(self, mode: Mode) -> float:
        return self.ttfa_fast_ms if mode == "fast" else self.ttfa_deep_ms

    def cost_ms(self, mode: Mode, d_ms: float) -> float:
        """Expected time-to-correct: E2E + (1 − p)·D."""
        return self.e2e_ms(mode) + (1.0 - self.p(mode)) * d_ms

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(getattr(self, name)), 4) for name in HEADS}


class Scorer(Protocol):
    def estimate(self, text: str, category: str | None = None) -> Estimate: ...


@dataclass(frozen=True, slots=True)
class Head:
    """One linear head: ``link(w · x + intercept)``, latencies clipped to the seen range."""

    link: str  # "logit" or "log"
    intercept: float
    columns: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float64]
    clip: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        keep = np.abs(self.weights) > 1e-9
        return {
            "link": self.link,
            "intercept": _round(self.intercept),
            "clip": list(self.clip) if self.clip else None,
            "columns": [int(c) for c in self.columns[keep]],
            "weights": [_round(float(w)) for w in self.weights[keep]],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Head:
        link = str(data["link"])
        if link not in ("logit", "log"):
            raise ValueError(f"unknown link {link!r}")
        clip = data.get("clip")
        return cls(
            link=link,
            intercept=float(data["intercept"]),
            columns=np.asarray(data["columns"], dtype=np.int64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            clip=(float(clip[0]), float(clip[1])) if clip else None,
        )


class LinearScorer:
    """All heads as one ``(dim, len(HEADS))`` matrix over the featurizer's columns."""

    def __init__(
        self,
        featurizer: Featurizer,
        heads: Mapping[str, Head],
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        missing = set(HEADS) - set(heads)
        if missing:
            raise ValueError(f"router model lacks heads: {', '.join(sorted(missing))}")
        self.featurizer = featurizer
        self.heads = {name: heads[name] for name in HEADS}
        self.meta: dict[str, Any] = dict(meta or {})
        self._matrix = np.zeros((featurizer.dim, len(HEADS)))
        for j, name in enumerate(HEADS):
            head = self.heads[name]
            outside = head.columns.size and (
                head.columns.min() < 0 or head.columns.max() >= featurizer.dim
            )
            if outside:
                raise ValueError(f"head {name} has columns outside the feature space")
            self._matrix[head.columns, j] = head.weights
        self._intercepts = np.array([self.heads[n].intercept for n in HEADS])
        # Hashed columns the probability heads learned something about (coverage, below).
        self._known = np.zeros(featurizer.dim, dtype=bool)
        for name in ("p_fast", "p_deep"):
            self._known[self.heads[name].columns] = True
        self._lo = np.array([(self.heads[n].clip or (0.0, math.inf))[0] for n in HEADS[2:]])
        self._hi = np.array([(self.heads[n].clip or (0.0, math.inf))[1] for n in HEADS[2:]])

    def assess(self, text: str, category: str | None = None) -> tuple[Estimate, float]:
        """The estimate, and its *coverage*: the share of the prompt's hashed features that
        the training data had (low coverage = a prompt unlike anything it learned from)."""
        columns, values = self.featurizer.transform(text, category)
        z = values @ self._matrix[columns] + self._intercepts
        p = 1.0 / (1.0 + np.exp(-np.clip(z[:2], -30.0, 30.0)))
        ms = np.clip(np.exp(np.clip(z[2:], -20.0, 20.0)), self._lo, self._hi)
        hashed = columns[columns < self.featurizer.hash_dim]
        coverage = float(self._known[hashed].mean()) if hashed.size else 0.0
        estimate = Estimate(float(p[0]), float(p[1]), float(ms[0]), float(ms[1]),
                            float(ms[2]), float(ms[3]))
        return estimate, coverage

    def estimate(self, text: str, category: str | None = None) -> Estimate:
        return self.assess(text, category)[0]

    def in_domain(self, category: str, coverage: float) -> bool:
        """Whether the training data covers a prompt: its rule category was seen and enough
        of its features were (``meta["domain"]``; no such entry = everything is in domain)."""
        domain = self.meta.get("domain")
        if not isinstance(domain, dict):
            return True
        categories = domain.get("categories")
        if isinstance(categories, list) and category not in categories:
            return False
        return coverage >= float(domain.get("min_coverage", 0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "featurizer": self.featurizer.params(),
            "heads": {name: head.to_json() for name, head in self.heads.items()},
            "meta": self.meta,
        }

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n",
                              encoding="utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearScorer:
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} v{VERSION} router file")
        featurizer = Featurizer.from_params(dict(data["featurizer"]))
        heads = {name: Head.from_json(h) for name, h in dict(data["heads"]).items()}
        return cls(featurizer, heads, data.get("meta"))

    @classmethod
    def load(cls, path: Path | str) -> LinearScorer:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def choose(
    estimate: Estimate, d_ms: float, max_ttfa_ms: float | None = None
) -> tuple[Mode, str]:
    """The mode with the lowest expected time-to-correct that meets the TTFA budget, and why."""
    cost: dict[Mode, float] = {m: estimate.cost_ms(m, d_ms) for m in ("fast", "deep")}
    best: Mode = "deep" if cost["deep"] < cost["fast"] else "fast"
    figures = (
        f"P(deep correct) {estimate.p_deep:.2f}; expected time-to-correct "
        f"{_human(cost['fast'])} fast vs {_human(cost['deep'])} deep"
    )
    lead = f"P(fast correct) {estimate.p_fast:.2f}"
    if max_ttfa_ms is None or estimate.ttfa_ms(best) <= max_ttfa_ms:
        return best, f"{lead} → {best} ({figures})"
    other: Mode = "fast" if best == "deep" else "deep"
    if estimate.ttfa_ms(other) <= max_ttfa_ms or estimate.ttfa_ms(other) < estimate.ttfa_ms(best):
        return other, (
            f"latency budget {max_ttfa_ms:.0f} ms < {best} TTFA ~{estimate.ttfa_ms(best):.0f} ms"
            f" → {other} ({lead}, {figures})"
        )
    return best, f"{lead} → {best} ({figures}; no mode meets the {max_ttfa_ms:.0f} ms budget)"


class LearnedRouter:
    """A :class:`~ponder.router.base.Router` over a scorer, with the rules' overrides.

    A prompt outside the training data's domain (a rule category it never saw, or too few
    known features — :meth:`LinearScorer.in_domain`) is routed by the rules, which say so.
    Otherwise, in order: the client's ``thinking.enabled`` wins; an explicit "think hard /
    step by step" forces deep and "quick answer" forces fast (the rule categories); else the
    lower expected time-to-correct. A latency budget (``request.max_ttfa_ms``) then rules out
    deep when its TTFA would miss it: the per-prompt estimate, or the recent TTFA of real
    requests when ``latency`` has seen some and it is slower. ``configured_ttfa`` (from
    ``[router] deep_ttfa_ms`` / ``fast_ttfa_ms``) replaces the per-prompt TTFA estimate.
    """

    def __init__(
        self,
        scorer: Scorer,
        d_minutes: float = DEFAULT_D_MINUTES,
        latency: LatencyTracker | None = None,
        configured_ttfa: Mapping[str, float] | None = None,
    ) -> None:
        self.scorer = scorer
        self.d_ms = d_minutes * 60_000.0
        self.latency = latency
        self.configured_ttfa = dict(configured_ttfa or {})
        featurizer = getattr(scorer, "featurizer", None)
        self._max_chars = featurizer.max_chars if isinstance(featurizer, Featurizer) else 2000
        self.rules = RuleRouter(latency)

    def decide(self, request: ChatRequest) -> Decision:
        text = request.last_user_text
        category = RuleRouter.categorise(clip(text, self._max_chars))
        if isinstance(self.scorer, LinearScorer):
            raw, coverage = self.scorer.assess(text, category)
            if not self.scorer.in_domain(category, coverage):
                fallback = self.rules.decide(request)
                return replace(fallback, reason=f"{fallback.reason} (rules: unlike the learned "
                               f"router's data, {coverage:.0%} of features known)")
        else:
            raw = self.scorer.estimate(text, category)
        estimate = self._with_live_ttfa(raw)
        figures = estimate.as_dict()
        budget = request.max_ttfa_ms
        forced: tuple[Mode, str] | None = None
        enabled = request.thinking.enabled
        if enabled is not None:
            forced = ("deep" if enabled else "fast",
                      f"the client set thinking.enabled={str(enabled).lower()}")
        elif category in ("explicit_deep", "explicit_fast"):
            forced = (CATEGORY_MODE[category], REASONS[category])
        if forced is None:
            mode, reason = choose(estimate, self.d_ms, budget)
            return Decision(mode, reason, figures)
        mode, reason = forced
        if mode == "deep" and budget is not None and estimate.ttfa_deep_ms > budget:
            return Decision("fast", f"latency budget {budget:.0f} ms < deep TTFA "
                            f"~{estimate.ttfa_deep_ms:.0f} ms → fast, although {reason}", figures)
        return Decision(mode, f"{reason} → {mode}", figures)

    def _with_live_ttfa(self, estimate: Estimate) -> Estimate:
        if "fast" in self.configured_ttfa:
            estimate = replace(estimate, ttfa_fast_ms=self.configured_ttfa["fast"])
        if "deep" in self.configured_ttfa:
            estimate = replace(estimate, ttfa_deep_ms=self.configured_ttfa["deep"])
        if self.latency is None:
            return estimate
        live, source = self.latency.estimate("deep")
        if live is None or source in ("configured estimate", "no estimate"):
            return estimate
        return replace(estimate, ttfa_deep_ms=max(estimate.ttfa_deep_ms, live))


def _human(ms: float) -> str:
    if ms < 1_000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _round(x: float) -> float:
    return float(f"{x:.6g}")
