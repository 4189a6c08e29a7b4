"""Fit a :class:`~ponder.router.learned.LinearScorer` from bench outcomes (scikit-learn).

- P(correct | mode): L2 logistic regression per mode; C chosen by template-grouped
  cross-validated log-loss, then Platt-scaled on the same out-of-fold scores (calibration
  never sees a row's own fit). The calibration is folded into the weights.
- E2E and TTFA per mode: ridge regression on log milliseconds, with Duan's smearing so
  ``exp`` gives a mean rather than a median; predictions are clipped to the seen range.

Structure columns are standardised for fitting; the scaling is folded back into the saved
weights, so inference is a plain dot product on raw features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]

from ponder.router.data import Outcome
from ponder.router.features import STRUCTURE, Featurizer
from ponder.router.learned import HEADS, Head, LinearScorer
from ponder.router.rules import RuleRouter

C_GRID = (0.3, 1.0, 3.0)
RIDGE_ALPHA = 1.0
MAX_FOLDS = 5
# Below this share of known hashed features, a prompt is routed by the rules instead.
MIN_COVERAGE = 0.7

Matrix = Any  # scipy.sparse.csr_matrix (untyped)


@dataclass(frozen=True, slots=True)
class Space:
    """The columns a training set uses and its structure statistics (mean, scale)."""

    columns: npt.NDArray[np.int64]
    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]


class FeatureMatrix:
    """Featurised prompts, restricted to the columns that occur, structure standardised.

    Fitting in the compact column space (hundreds of columns, not 2^15) makes each solver
    run take milliseconds. ``space`` maps new prompts into an earlier matrix's space.
    """

    def __init__(
        self, featurizer: Featurizer, prompts: Sequence[str], space: Space | None = None
    ) -> None:
        self.featurizer = featurizer
        cache: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        indptr, indices, data = [0], [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
        for prompt in prompts:
            if prompt not in cache:
                cache[prompt] = featurizer.transform(prompt)
            cols, vals = cache[prompt]
            indices.append(cols)
            data.append(vals)
            indptr.append(indptr[-1] + len(cols))
        raw = sparse.csr_matrix(
            (np.concatenate(data), np.concatenate(indices), indptr),
            shape=(len(prompts), featurizer.dim),
        )
        start = featurizer.hash_dim
        dense = raw[:, start:].toarray()
        if space is None:
            hashed = np.unique(raw.indices[raw.indices < start])
            columns = np.concatenate([hashed, np.arange(start, featurizer.dim)]).astype(np.int64)
            mean = dense.mean(axis=0) if len(prompts) else np.zeros(len(STRUCTURE))
            std = dense.std(axis=0) if len(prompts) else np.ones(len(STRUCTURE))
            space = Space(columns, mean, np.where(std > 1e-9, std, 1.0))
        self.space = space
        n_hashed = len(space.columns) - len(STRUCTURE)
        scaled = (dense - space.mean) / space.scale
        self.x: Matrix = sparse.hstack(
            [raw[:, space.columns[:n_hashed]], sparse.csr_matrix(scaled)]
        ).tocsr()

    def head(self, link: str, coef: npt.NDArray[np.float64], intercept: float,
             clip: tuple[float, float] | None = None) -> Head:
        """A head over raw feature columns: scaling folded in, compact columns mapped back."""
        n_hashed = len(self.space.columns) - len(STRUCTURE)
        weights = np.array(coef, dtype=np.float64)
        weights[n_hashed:] = coef[n_hashed:] / self.space.scale
        intercept -= float(np.dot(coef[n_hashed:], self.space.mean / self.space.scale))
        keep = np.abs(weights) > 1e-9
        return Head(link, intercept, self.space.columns[keep], weights[keep], clip)

    def constant(self, link: str, intercept: float) -> Head:
        return Head(link, intercept, np.zeros(0, dtype=np.int64), np.zeros(0))


def fit_scorer(
    outcomes: Sequence[Outcome],
    featurizer: Featurizer | None = None,
    seed: int = 0,
    c_grid: Sequence[float] = C_GRID,
) -> LinearScorer:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    # One BLAS thread: these problems are tiny, and spinning threads on a shared machine
    # make each solver iteration ~30x slower.
    with threadpool_limits(limits=1):
        return _fit(outcomes, featurizer or Featurizer(), seed, c_grid)


def _fit(
    outcomes: Sequence[Outcome], featurizer: Featurizer, seed: int, c_grid: Sequence[float]
) -> LinearScorer:
    heads: dict[str, Head] = {}
    meta: dict[str, Any] = {"trained_on": _describe(outcomes)}
    meta["domain"] = {
        "categories": sorted({RuleRouter.categorise(p) for p in {o.prompt for o in outcomes}}),
        "min_coverage": MIN_COVERAGE,
    }
    for mode in ("fast", "deep"):
        rows = [o for o in outcomes if o.mode == mode]
        if not rows:
            raise ValueError(f"no {mode} outcomes to learn from; run the bench with both modes")
        fm = FeatureMatrix(featurizer, [o.prompt for o in rows])
        groups = [o.template for o in rows]
        y = np.array([1 if o.correct else 0 for o in rows])
        heads[f"p_{mode}"], meta[f"p_{mode}"] = _fit_probability(fm, y, groups, seed, c_grid)
        for metric in ("e2e", "ttfa"):
            ms = np.array([getattr(o, f"{metric}_ms") for o in rows])
            heads[f"{metric}_{mode}_ms"] = _fit_latency(fm, ms)
    return LinearScorer(featurizer, {name: heads[name] for name in HEADS}, meta)


def _fit_probability(
    fm: FeatureMatrix,
    y: npt.NDArray[np.int_],
    groups: Sequence[str],
    seed: int,
    c_grid: Sequence[float],
) -> tuple[Head, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    n, positives = len(y), int(y.sum())
    if positives in (0, n):  # one class only: a constant, smoothed
        p = (positives + 1) / (n + 2)
        return fm.constant("logit", math.log(p / (1 - p))), {
            "C": None, "platt": None, "pass_rate": positives / n,
        }
    best_c, best_loss, best_oof = c_grid[0], math.inf, None
    for c in c_grid:
        oof = _out_of_fold(fm.x, y, groups, c, seed)
        if oof is None:
            break
        loss = _log_loss(y, 1 / (1 + np.exp(-oof)))
        if loss < best_loss:
            best_c, best_loss, best_oof = c, loss, oof
    model = _logistic(best_c, seed).fit(fm.x, y)
    coef, intercept = model.coef_[0], float(model.intercept_[0])
    a, b = 1.0, 0.0
    if best_oof is not None:
        platt = LogisticRegression(C=1e4).fit(best_oof.reshape(-1, 1), y)
        a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
        if a <= 0:  # the scores carried no signal out of fold; keep the raw model
            a, b = 1.0, 0.0
    info = {"C": best_c, "platt": [a, b], "oof_log_loss": best_loss, "pass_rate": positives / n}
    return fm.head("logit", coef * a, intercept * a + b), info


def _out_of_fold(
    x: Matrix, y: npt.NDArray[np.int_], groups: Sequence[str], c: float, seed: int
) -> npt.NDArray[np.float64] | None:
    """Decision values for each row from a model that never saw the row's template."""
    from sklearn.model_selection import GroupKFold

    n_groups = len(set(groups))
    if n_groups < 2:
        return None
    oof = np.zeros(len(y))
    splitter = GroupKFold(n_splits=min(MAX_FOLDS, n_groups))
    for train, test in splitter.split(x, y, groups):
        if len(set(y[train].tolist())) < 2:
            return None
        model = _logistic(c, seed).fit(x[train], y[train])
        oof[test] = model.decision_function(x[test])
    return oof


def _logistic(c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, random_state=seed)


def _fit_latency(fm: FeatureMatrix, ms: npt.NDArray[np.float64]) -> Head:
    from sklearn.linear_model import Ridge

    target = np.log(np.maximum(ms, 1.0))
    model = Ridge(alpha=RIDGE_ALPHA).fit(fm.x, target)
    residual = target - model.predict(fm.x)
    smear = float(np.log(np.mean(np.exp(residual))))
    clip = (float(max(ms.min(), 1.0)), float(ms.max()))
    return fm.head("log", model.coef_, float(model.intercept_) + smear, clip)


def _log_loss(y: npt.NDArray[np.int_], p: npt.NDArray[np.float64]) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _describe(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    prompts = {o.key for o in outcomes}
    return {
        "outcomes": len(outcomes),
        "prompts": len(prompts),
        "templates": len({o.template for o in outcomes}),
        "suites": sorted({o.template.split("/", 1)[0] for o in outcomes}),
        "pass_rate": {
            mode: round(float(np.mean([o.correct for o in outcomes if o.mode == mode])), 4)
            for mode in ("fast", "deep")
            if any(o.mode == mode for o in outcomes)
        },
    }
