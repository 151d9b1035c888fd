"""The combiner: per SDG, a logistic regression over a few readable evidence features.

Weights live in ``data/weights.json`` (written by ``scripts/sdg_fit.py`` from the fit half of the SDG
Classification Benchmark only). There are three paths per encoder: ``full`` (queries + similarity),
``query`` (queries alone, for texts that never reach the embedding layer) and ``similarity`` (the
similarity layer alone, for measuring it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cordiale.sdg.queries import N_SDGS, QueryHit
from cordiale.sdg.similarity import SimilarityScores, data_path

QUERY_FEATURES = ("query_hits", "query_share")
SIMILARITY_FEATURES = ("similarity", "similarity_margin", "similarity_rank")
FULL_FEATURES = (*QUERY_FEATURES, *SIMILARITY_FEATURES)


def query_features(hits: list[QueryHit]) -> npt.NDArray[np.float64]:
    """(17, 2): log(1 + queries of the SDG that matched), and the SDG's share of all matched queries."""
    counts = np.zeros(N_SDGS)
    for hit in hits:
        counts[hit.sdg - 1] += 1
    total = max(counts.sum(), 1.0)
    return np.stack([np.log1p(np.minimum(counts, 5)), counts / total], axis=1)


def similarity_features(sim: SimilarityScores) -> npt.NDArray[np.float64]:
    """(17, 3): best cosine with the SDG's UN texts, its margin over the best other SDG, and its rank
    (0 = the most similar SDG)."""
    best = sim.best
    top = int(np.argmax(best))
    best_other = np.full(N_SDGS, best[top])  # for every SDG but the top one, the best other is the top
    best_other[top] = np.delete(best, top).max()
    rank = (best[None, :] > best[:, None]).sum(axis=1)
    return np.stack([best, best - best_other, rank.astype(np.float64)], axis=1)


@dataclass(frozen=True)
class Path_:
    """One fitted path: per SDG an intercept and one weight per feature."""

    features: tuple[str, ...]
    intercepts: npt.NDArray[np.float64]  # (17,)
    weights: npt.NDArray[np.float64]  # (17, n_features)
    threshold: float
    # An SDG no query matched is assigned from similarity only when it is the text's most similar SDG by at
    # least this cosine margin (None: no such rule, as on the query-only and similarity-only paths).
    similarity_only_margin: float | None = None

    def probabilities(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        z = self.intercepts + (self.weights * x).sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def assign(
        self, probs: npt.NDArray[np.float64], x: npt.NDArray[np.float64]
    ) -> tuple[list[int], dict[int, str]]:
        """The SDGs (1-17) whose score reaches the threshold, and those held back by the path's
        ``similarity_only_margin`` (SDG -> why): an SDG without a query hit also needs rank 0 and that
        margin in its similarity features ``x``."""
        passed = [s + 1 for s in range(N_SDGS) if probs[s] >= self.threshold]
        if self.similarity_only_margin is None:
            return passed, {}
        col = {name: i for i, name in enumerate(self.features)}
        hits, rank, margin = col["query_hits"], col["similarity_rank"], col["similarity_margin"]
        need = self.similarity_only_margin
        assigned: list[int] = []
        held: dict[int, str] = {}
        for s in passed:
            row = x[s - 1]
            if row[hits] > 0 or (row[rank] == 0 and row[margin] >= need - 1e-9):
                assigned.append(s)
            else:
                held[s] = (
                    f"no query hit, and similarity alone needs the most similar SDG by a cosine margin of "
                    f"{need}: this one ranks {int(row[rank]) + 1} of {N_SDGS}, margin {row[margin]:+.3f}"
                )
        return assigned, held


@dataclass(frozen=True)
class Weights:
    version: str
    paths: dict[str, Path_]  # "<encoder>/<full|query|similarity>", encoder minilm or e5
    meta: dict[str, Any]

    def path(self, encoder: str, kind: str) -> Path_:
        return self.paths[f"{encoder}/{kind}"]


def _parse_path(raw: dict[str, Any]) -> Path_:
    feats = tuple(raw["features"])
    per = raw["per_sdg"]
    intercepts = np.array([float(per[str(s)]["intercept"]) for s in range(1, N_SDGS + 1)])
    weights = np.array([[float(per[str(s)]["weights"][f]) for f in feats] for s in range(1, N_SDGS + 1)])
    threshold = float(raw.get("threshold", 0.5))
    if not (0.0 < threshold < 1.0) or not all(math.isfinite(v) for v in weights.ravel()):
        raise ValueError("weights.json: bad threshold or weights")
    margin = raw.get("similarity_only", {}).get("min_margin")
    if margin is not None and not set(FULL_FEATURES) <= set(feats):
        raise ValueError("weights.json: similarity_only on a path without query and similarity features")
    return Path_(feats, intercepts, weights, threshold, None if margin is None else float(margin))


@lru_cache(maxsize=1)
def load_weights() -> Weights:
    """The shipped weights."""
    raw = json.loads(data_path("weights.json").read_text(encoding="utf-8"))
    paths = {name: _parse_path(p) for name, p in raw["paths"].items()}
    return Weights(str(raw["version"]), paths, dict(raw.get("meta", {})))
