"""Classify texts against the 17 SDGs: queries, then (when flagged) similarity, then the combiner.

Routing: the language is detected per text. English (and texts whose language is unsure) take the
``minilm`` path; French and other languages the multilingual ``e5`` path. On both paths only texts the
query layer flags (at least one query matched; the queries carry French terms) are embedded; the others
are decided by the query-only path, which assigns nothing to a text without any query hit. Embedding
costs 20-200 ms a text against ~3 ms for the rest, so this keeps the throughput gate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from cordiale.sdg.combiner import load_weights, query_features, similarity_features
from cordiale.sdg.minilm_model import graph_key
from cordiale.sdg.queries import N_SDGS, QueryHit, run_queries
from cordiale.sdg.similarity import (
    E5_MAX_CHARS,
    MINILM_MAX_TOKENS,
    EncoderName,
    SimilarityScores,
    data_path,
    encoder,
    similarity_scores,
)
from cordiale.sdg.text import WorkText, detect_language, text_hash

EmbedMode = Literal["auto", "always", "never"]
Layers = Literal["all", "query", "similarity"]
BATCH = 32


@lru_cache(maxsize=1)
def model_version() -> str:
    """Weights version + a hash of the shipped queries, UN texts, weights, encoder input lengths and the
    MiniLM graph's key (source model, recipe, onnx/onnxruntime versions): a change re-scores every work."""
    digest = hashlib.sha256()
    for name in ("queries.toml", "un_sdg_texts.tsv", "weights.json"):
        digest.update(data_path(name).read_bytes())
    digest.update(f"minilm:{MINILM_MAX_TOKENS} {graph_key()} e5:{E5_MAX_CHARS}".encode())
    return f"{load_weights().version}+{digest.hexdigest()[:10]}"


@dataclass(frozen=True)
class SdgResult:
    """The answer for one text. ``status`` is ``scored``, ``title only`` or ``no text``."""

    sdgs: list[int]
    scores: list[float]  # 17, in SDG order, each in [0, 1]
    reasons: dict[str, list[dict[str, Any]]]  # per assigned SDG: which queries / UN target matched
    status: str
    language: str | None
    path: str  # minilm / e5 / query / none: which layers produced the scores
    text_hash: str
    hits: list[QueryHit] = field(default_factory=list)
    # SDGs whose score reached the threshold but that the similarity-only rule held back, with why
    held_back: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "sdgs": self.sdgs,
            "scores": {str(s + 1): round(v, 4) for s, v in enumerate(self.scores)},
            "reasons": self.reasons,
            "status": self.status,
            "language": self.language,
            "path": self.path,
            "held_back": self.held_back,
        }


def _no_text(h: str) -> SdgResult:
    return SdgResult([], [0.0] * N_SDGS, {}, "no text", None, "none", h)


def _reasons(
    assigned: list[int], hits: list[QueryHit], sim: SimilarityScores | None
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in assigned:
        items: list[dict[str, Any]] = [
            {"layer": "query", "target": h.target, "matched": h.matched} for h in hits if h.sdg == s
        ]
        if sim is not None:
            items.append(
                {
                    "layer": "similarity",
                    "target": sim.best_label[s - 1],
                    "cosine": round(float(sim.best[s - 1]), 3),
                }
            )
        out[str(s)] = items
    return out


def _route(lang: str | None) -> EncoderName:
    return "minilm" if lang in (None, "en") else "e5"


def classify_texts(
    items: Sequence[WorkText], embed: EmbedMode = "auto", layers: Layers = "all"
) -> list[SdgResult]:
    """Classify many texts (batched embeddings); one result per input, in order.

    ``layers``: ``all`` (the shipped classifier), or one layer alone for measuring it: ``query`` (never
    embeds) or ``similarity`` (always embeds, ignores the queries)."""
    weights = load_weights()
    if layers == "query":
        embed = "never"
    elif layers == "similarity":
        embed = "always"
    texts = [w.text for w in items]
    hashes = [text_hash(t) for t in texts]
    langs: list[str | None] = [None] * len(texts)
    hits: list[list[QueryHit]] = [[] for _ in texts]
    route: list[EncoderName | None] = [None] * len(texts)
    for i, t in enumerate(texts):
        if not t.strip():
            continue
        langs[i] = detect_language(t)
        if layers != "similarity":
            hits[i] = run_queries(t)
        name = _route(langs[i])
        if embed == "always" or (embed == "auto" and hits[i]):
            route[i] = name
    sims: dict[int, SimilarityScores] = {}
    for name in ("minilm", "e5"):
        idx = sorted((i for i, r in enumerate(route) if r == name), key=lambda i: len(texts[i]))
        for start in range(0, len(idx), BATCH):
            chunk = idx[start : start + BATCH]
            vecs = encoder(name).encode([texts[i] for i in chunk])
            for i, s in zip(chunk, similarity_scores(vecs, name), strict=True):
                sims[i] = s
    results: list[SdgResult] = []
    for i, item in enumerate(items):
        if not texts[i].strip():
            results.append(_no_text(hashes[i]))
            continue
        enc_name = _route(langs[i])
        sim = sims.get(i)
        if layers == "similarity" and sim is not None:
            path = weights.path(enc_name, "similarity")
            x = similarity_features(sim)
            used = f"{enc_name} similarity only"
        elif sim is not None:
            path = weights.path(enc_name, "full")
            x = np.hstack([query_features(hits[i]), similarity_features(sim)])
            used = enc_name
        else:
            path = weights.path(enc_name, "query")
            x = query_features(hits[i])
            used = "query"
        probs = path.probabilities(x)
        assigned, held = path.assign(probs, x)
        if sim is None and not hits[i]:
            assigned = []  # no query evidence and no similarity computed: nothing to assign
        results.append(
            SdgResult(
                sdgs=assigned,
                scores=[float(p) for p in probs],
                reasons=_reasons(assigned, hits[i], sim),
                status="title only" if item.title_only else "scored",
                language=langs[i],
                path=used,
                text_hash=hashes[i],
                hits=hits[i],
                held_back={str(s): why for s, why in held.items()},
            )
        )
    return results


def classify(
    text: str = "", *, title: str = "", abstract: str = "", embed: EmbedMode = "auto", layers: Layers = "all"
) -> SdgResult:
    """Classify one text (or a title and an abstract)."""
    item = WorkText(title, abstract) if (title or abstract) else WorkText("", text)
    return classify_texts([item], embed=embed, layers=layers)[0]
