"""Scoring candidate pairs: content (topics, words) and the co-author network, in one readable sum.

    score(a, b) = W_TOPIC · cos(topics a, topics b) + W_TEXT · cos(tf-idf words a, tf-idf words b)
                + W_NETWORK · AA / (1 + AA)

where AA is the Adamic–Adar index of a and b in the co-authorship graph (a shared co-author z counts
1 / log(degree z)), squashed into [0, 1). The weights are fixed, not fitted (see the README); the
components are returned with the score so every suggestion can be explained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

from cordiale.match.profiles import ProfileSet

W_TOPIC = 0.35
W_TEXT = 0.35
W_NETWORK = 0.30
BLOCK_ROWS = 512
RANKING_TERMS = 60


def idf(terms: sparse.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency of each term over the authors (an author is a document)."""
    n = terms.shape[0]
    df = np.bincount(terms.indices, minlength=terms.shape[1]) if terms.nnz else np.zeros(terms.shape[1])
    return np.asarray(np.log((1 + n) / (1 + df)) + 1.0)


@dataclass
class ContentVectors:
    """Length-normalised topic and tf-idf word vectors of a profile set, ready for dot products."""

    topics: sparse.csr_matrix
    terms: sparse.csr_matrix
    idf: np.ndarray

    @classmethod
    def of(cls, profiles: ProfileSet, ranking_terms: int = RANKING_TERMS) -> ContentVectors:
        """Vectors for ranking: each author's ``ranking_terms`` heaviest tf-idf words (the dot products
        of every pair are the ranking's main cost; the lighter words change the cosine little)."""
        from cordiale.match.profiles import top_per_row

        weights = idf(profiles.terms)
        terms = profiles.terms @ sparse.diags(weights) if profiles.terms.shape[1] else profiles.terms
        return cls(
            topics=normalize(profiles.topics, copy=True).tocsr(),
            terms=normalize(top_per_row(terms.tocsr(), ranking_terms), copy=False).tocsr(),
            idf=weights,
        )


def coauthor_graph(
    n_authors: int, work_authors: Sequence[Sequence[int]]
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Adjacency (1 when two authors share a work) and degrees, from each work's author indices."""
    rows: list[int] = []
    cols: list[int] = []
    for members in work_authors:
        uniq = sorted(set(members))
        for i in uniq:
            for j in uniq:
                if i != j:
                    rows.append(i)
                    cols.append(j)
    adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_authors, n_authors))
    adj.data[:] = 1.0
    adj.sum_duplicates()
    adj.data[:] = 1.0
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return adj, degree


def adamic_adar_matrix(adj: sparse.csr_matrix, degree: np.ndarray) -> sparse.csr_matrix:
    """Adjacency scaled so that ``rows_a @ scaled @ rows_b.T`` is the Adamic–Adar index."""
    inv = np.zeros_like(degree, dtype=float)
    ok = degree > 1
    inv[ok] = 1.0 / np.log(degree[ok])
    return (adj @ sparse.diags(inv)).tocsr()


@dataclass
class PairComponents:
    """Scores of a block of candidate pairs (rows: a, columns: b)."""

    topic: np.ndarray
    text: np.ndarray
    network: np.ndarray

    @property
    def score(self) -> np.ndarray:
        return np.asarray(
            W_TOPIC * self.topic + W_TEXT * self.text + W_NETWORK * self.network / (1.0 + self.network)
        )


def pair_components(
    content: ContentVectors,
    a_rows: np.ndarray,
    b_rows: np.ndarray,
    graph_a: sparse.csr_matrix | None = None,
    graph_b: sparse.csr_matrix | None = None,
) -> PairComponents:
    """Components for every (a, b) with a in ``a_rows`` and b in ``b_rows`` (dense |a| × |b|).

    ``graph_a`` holds the a authors' rows of the Adamic–Adar-scaled adjacency and ``graph_b`` the b
    authors' rows of the plain adjacency (both over the same author index), or None for no network.
    """
    topic = (content.topics[a_rows] @ content.topics[b_rows].T).toarray()
    text = (content.terms[a_rows] @ content.terms[b_rows].T).toarray()
    if graph_a is not None and graph_b is not None:
        network = np.asarray((graph_a @ graph_b.T).toarray())
    else:
        network = np.zeros_like(topic)
    return PairComponents(topic=topic, text=text, network=network)


def blocks(n: int, size: int = BLOCK_ROWS) -> Iterator[slice]:
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))
