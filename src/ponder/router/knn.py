"""kNN baseline scorer: a prompt's estimates are its nearest training prompts' outcomes.

Cosine similarity over the same features as the learned router (structure standardised),
separately per mode. Used by :mod:`ponder.router.evaluate` as a baseline; not shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ponder.router.data import Outcome
from ponder.router.features import Featurizer
from ponder.router.learned import Estimate
from ponder.router.train import FeatureMatrix

K = 15


class KnnScorer:
    def __init__(self, outcomes: Sequence[Outcome], featurizer: Featurizer | None = None,
                 k: int = K) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.featurizer = featurizer or Featurizer()
        self._modes: dict[str, tuple[FeatureMatrix, Any, npt.NDArray[np.float64]]] = {}
        for mode in ("fast", "deep"):
            rows = [o for o in outcomes if o.mode == mode]
            if not rows:
                raise ValueError(f"no {mode} outcomes for the kNN baseline")
            fm = FeatureMatrix(self.featurizer, [o.prompt for o in rows])
            index = NearestNeighbors(n_neighbors=min(k, len(rows)), metric="cosine",
                                     algorithm="brute").fit(fm.x)
            targets = np.array([[float(o.correct), o.e2e_ms, o.ttfa_ms] for o in rows])
            self._modes[mode] = (fm, index, targets)

    def estimate_many(self, texts: Sequence[str]) -> list[Estimate]:
        per_mode: dict[str, npt.NDArray[np.float64]] = {}
        for mode, (fm, index, targets) in self._modes.items():
            query = FeatureMatrix(self.featurizer, list(texts), fm.space)
            _, idx = index.kneighbors(query.x)
            near = targets[idx]  # (n, k, 3)
            k = near.shape[1]
            p = (near[:, :, 0].sum(axis=1) + 0.5) / (k + 1)
            per_mode[mode] = np.column_stack([p, near[:, :, 1].mean(axis=1),
                                              near[:, :, 2].mean(axis=1)])
        f, d = per_mode["fast"], per_mode["deep"]
        return [
            Estimate(float(f[i, 0]), float(d[i, 0]), float(f[i, 1]), float(d[i, 1]),
                     float(f[i, 2]), float(d[i, 2]))
            for i in range(len(texts))
        ]

    def estimate(self, text: str, category: str | None = None) -> Estimate:
        return self.estimate_many([text])[0]
