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

    def probabilities(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        z = self.intercepts + (self.weights * x).sum(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


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
    return Path_(feats, intercepts, weights, threshold)


@lru_cache(maxsize=1)
def load_weights() -> Weights:
    """The shipped weights."""
    raw = json.loads(data_path("weights.json").read_text(encoding="utf-8"))
    paths = {name: _parse_path(p) for name, p in raw["paths"].items()}
    return Weights(str(raw["version"]), paths, dict(raw.get("meta", {})))
