"""Expertise profiles: what each author works on, from their works, recency-weighted.

A profile has three parts, all kept in the store in cordiale's own tables (``match_*``):

- topics: OpenAlex topic, subfield and field of each work (weights 1, 1/2, 1/4 of the topic's score);
- terms: the words of titles and abstracts (log term counts, each work's vector of length 1);
- units: the direct institutions on the author's works, per year (roll-up by lineage at query time).

Each work counts ``2 ** ((year - 2000) / 3)``: a work three years older weighs half as much. That
exponential weight is the same whatever today's date, up to one factor per author, so a profile stays
valid as years pass and only authors whose works changed (new, updated or removed works: a hash of
their works' ids and ``updated_date``) are recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from scipy import sparse
from sklearn.preprocessing import normalize

from cordiale.match.text import vectorizer, work_text
from cordiale.store.connection import writer

PROFILE_VERSION = "1"
ANCHOR_YEAR = 2000
HALF_LIFE_YEARS = 3.0
MAX_TERMS = 300
BATCH_AUTHORS = 10_000
LEVEL_WEIGHTS = {"topic": 1.0, "subfield": 0.5, "field": 0.25}

# Each row is one author's profile summary (one author of a partner the store was asked about).
MATCH_PROFILES = """
CREATE TABLE IF NOT EXISTS match_profiles (
    author_id VARCHAR NOT NULL,
    name VARCHAR,
    works INTEGER NOT NULL,
    first_year INTEGER,
    last_year INTEGER,
    works_hash VARCHAR NOT NULL,           -- hash of the author's works' ids and updated_date
    profile_version VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL
)"""
# Each row is one topic, subfield or field in one author's profile, with its recency-weighted weight.
MATCH_PROFILE_TOPICS = """
CREATE TABLE IF NOT EXISTS match_profile_topics (
    author_id VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,              -- T…, subfields/…, fields/…
    level VARCHAR NOT NULL,                -- topic / subfield / field
    name VARCHAR,
    weight DOUBLE NOT NULL
)"""
# Each row is one of the author's top terms (titles and abstracts), with its recency-weighted weight.
MATCH_PROFILE_TERMS = """
CREATE TABLE IF NOT EXISTS match_profile_terms (
    author_id VARCHAR NOT NULL,
    term VARCHAR NOT NULL,
    weight DOUBLE NOT NULL
)"""
# Each row is one (author, year, direct institution) with the number of the author's works there.
MATCH_PROFILE_UNITS = """
CREATE TABLE IF NOT EXISTS match_profile_units (
    author_id VARCHAR NOT NULL,
    year INTEGER NOT NULL,
    institution_id VARCHAR NOT NULL,
    works INTEGER NOT NULL
)"""
PROFILE_TABLES = ("match_profiles", "match_profile_topics", "match_profile_terms", "match_profile_units")


def recency(years: np.ndarray) -> np.ndarray:
    """The weight of a work published in each year."""
    return np.asarray(2.0 ** ((years.astype(float) - ANCHOR_YEAR) / HALF_LIFE_YEARS))


@dataclass
class Corpus:
    """Works and who wrote them, indexed 0..n-1: the input of ``build_profiles``."""

    work_ids: list[str]
    years: np.ndarray  # per work
    texts: list[str]  # per work: title and abstract
    # per work topic row: (work index, topic id, topic name, subfield id, name, field id, name, score)
    topics: list[tuple[int, str, str, str | None, str | None, str | None, str | None, float]]
    authors: list[str]
    names: list[str]  # per author
    link_author: np.ndarray  # one entry per (author, work) link
    link_work: np.ndarray


@dataclass
class ProfileSet:
    """Profiles of several authors as sparse matrices (one row per author)."""

    authors: list[str]
    names: list[str]
    works: np.ndarray
    first_year: np.ndarray
    last_year: np.ndarray
    topics: sparse.csr_matrix  # authors × topic features
    topic_keys: list[str]
    topic_names: dict[str, str]
    terms: sparse.csr_matrix  # authors × terms
    vocab: list[str]

    def row(self, author_id: str) -> int:
        return self.authors.index(author_id)

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.authors)}


def feature_level(key: str) -> str:
    if key.startswith("subfields/"):
        return "subfield"
    if key.startswith("fields/"):
        return "field"
    return "topic"


def _topic_matrix(corpus: Corpus) -> tuple[sparse.csr_matrix, list[str], dict[str, str]]:
    keys: dict[str, int] = {}
    names: dict[str, str] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for w, tid, tname, sid, sname, fid, fname, score in corpus.topics:
        for key, name, level in ((tid, tname, "topic"), (sid, sname, "subfield"), (fid, fname, "field")):
            if not key:
                continue
            col = keys.setdefault(key, len(keys))
            names.setdefault(key, name or key)
            rows.append(w)
            cols.append(col)
            vals.append(float(score or 0.0) * LEVEL_WEIGHTS[level])
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(corpus.work_ids), len(keys)))
    return matrix, list(keys), names


def _term_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, list[str]]:
    if not any(t.strip() for t in texts):
        return sparse.csr_matrix((len(texts), 0)), []
    vec = vectorizer()
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # only stop words
        return sparse.csr_matrix((len(texts), 0)), []
    counts.data = np.log1p(counts.data)
    return normalize(counts, norm="l2", copy=False).tocsr(), list(vec.get_feature_names_out())


def top_per_row(matrix: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Keep each row's ``keep`` largest entries."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    indptr, data = matrix.indptr, matrix.data
    mask = np.ones(len(data), dtype=bool)
    for r in np.flatnonzero(np.diff(indptr) > keep):
        lo, hi = indptr[r], indptr[r + 1]
        drop = np.argpartition(data[lo:hi], hi - lo - keep)[: hi - lo - keep]
        mask[lo + drop] = False
    if mask.all():
        return matrix
    coo = matrix.tocoo()
    return sparse.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape)


def build_profiles(corpus: Corpus, max_terms: int = MAX_TERMS) -> ProfileSet:
    """Profiles of every author of the corpus, from all their works in it."""
    n_a, n_w = len(corpus.authors), len(corpus.work_ids)
    weights = recency(corpus.years)[corpus.link_work]
    r = sparse.csr_matrix((weights, (corpus.link_author, corpus.link_work)), shape=(n_a, n_w))
    tmat, topic_keys, topic_names = _topic_matrix(corpus)
    wmat, vocab = _term_matrix(corpus.texts)
    terms = top_per_row((r @ wmat).tocsr(), max_terms) if vocab else sparse.csr_matrix((n_a, 0))
    presence = sparse.csr_matrix(
        (np.ones(len(corpus.link_author)), (corpus.link_author, corpus.link_work)), shape=(n_a, n_w)
    )
    presence.data[:] = 1.0  # an author listed twice on one work counts once
    works = np.asarray(presence.sum(axis=1)).ravel().astype(int)
    first = np.full(n_a, 10_000, dtype=int)
    last = np.zeros(n_a, dtype=int)
    years = corpus.years[corpus.link_work].astype(int)
    np.minimum.at(first, corpus.link_author, years)
    np.maximum.at(last, corpus.link_author, years)
    return ProfileSet(
        authors=list(corpus.authors),
        names=list(corpus.names),
        works=works,
        first_year=first,
        last_year=last,
        topics=(r @ tmat).tocsr(),
        topic_keys=topic_keys,
        topic_names=topic_names,
        terms=terms,
        vocab=vocab,
    )


# --- reading the works of some authors from the store ------------------------------------------------


def partner_institutions_sql(param: str = "$partners") -> str:
    """SQL: the ids of institutions that roll up (OpenAlex lineage) to one of the partners."""
    return f"(SELECT id FROM institutions WHERE list_has_any(lineage, {param}) UNION SELECT unnest({param}))"


def load_corpus(
    con: duckdb.DuckDBPyConnection,
    author_ids: Sequence[str],
    years: tuple[int, int] | None = None,
    max_authors_per_work: int | None = None,
) -> Corpus:
    """The works (optionally of some years, and with at most so many authors) of these authors."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _match_authors AS SELECT unnest($a) AS author_id",
        {"a": list(author_ids)},
    )
    year_sql = "" if years is None else f" AND w.publication_year BETWEEN {int(years[0])} AND {int(years[1])}"
    size_sql = "" if max_authors_per_work is None else f" AND w.authors_count <= {int(max_authors_per_work)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _match_links AS
        SELECT DISTINCT a.author_id, a.work_id
        FROM authorships a JOIN _match_authors USING (author_id) JOIN works w ON w.id = a.work_id
        WHERE w.publication_year IS NOT NULL{year_sql}{size_sql}
        """
    )
    works = con.execute(
        """
        SELECT w.id, w.publication_year, w.title, w.abstract_inverted_index
        FROM works w WHERE w.id IN (SELECT work_id FROM _match_links) ORDER BY w.id
        """
    ).fetchall()
    work_index = {w[0]: i for i, w in enumerate(works)}
    names = dict(
        con.execute(
            """
            SELECT author_id, arg_max(a.author_name, w.publication_year)
            FROM authorships a JOIN _match_links USING (author_id, work_id) JOIN works w ON w.id = a.work_id
            GROUP BY author_id
            """
        ).fetchall()
    )
    authors = sorted(names)
    author_index = {a: i for i, a in enumerate(authors)}
    links = con.execute("SELECT author_id, work_id FROM _match_links").fetchall()
    topics = con.execute(
        """
        SELECT work_id, topic_id, topic_name, subfield_id, subfield_name, field_id, field_name, score
        FROM work_topics WHERE work_id IN (SELECT work_id FROM _match_links) AND topic_id IS NOT NULL
        """
    ).fetchall()
    return Corpus(
        work_ids=[w[0] for w in works],
        years=np.array([w[1] for w in works], dtype=int),
        texts=[work_text(w[2], w[3]) for w in works],
        topics=[(work_index[t[0]], *t[1:7], float(t[7] or 0.0)) for t in topics],
        authors=authors,
        names=[names[a] or a for a in authors],
        link_author=np.array([author_index[a] for a, _ in links], dtype=np.int64),
        link_work=np.array([work_index[w] for _, w in links], dtype=np.int64),
    )


# --- the stored profiles: incremental update and loading ---------------------------------------------


@dataclass(frozen=True)
class UpdateSummary:
    authors: int  # authors of the partners
    recomputed: int  # profiles (re)computed in this run
    removed: int  # stale profiles of authors no longer in the store


def init_tables(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in (MATCH_PROFILES, MATCH_PROFILE_TOPICS, MATCH_PROFILE_TERMS, MATCH_PROFILE_UNITS):
        con.execute(ddl)


def update_profiles(
    store: Path, partners: Sequence[str], on_batch: Callable[[int, int], None] | None = None
) -> UpdateSummary:
    """Compute the profiles of every author of the partners whose works changed since the last run."""
    with writer(store) as con:
        init_tables(con)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _match_partner_authors AS
            SELECT DISTINCT a.author_id
            FROM authorships a
            JOIN authorship_institutions ai ON ai.work_id = a.work_id AND ai.position = a.position
            WHERE a.author_id IS NOT NULL AND ai.institution_id IN {partner_institutions_sql()}
            """,
            {"partners": list(partners)},
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _match_hash AS
            SELECT a.author_id,
                   md5(string_agg(w.id || ':' || coalesce(w.updated_date, ''), ',' ORDER BY w.id)) AS h
            FROM (SELECT DISTINCT author_id, work_id FROM authorships
                  WHERE author_id IN (SELECT author_id FROM _match_partner_authors)) a
            JOIN works w ON w.id = a.work_id
            GROUP BY a.author_id
            """
        )
        changed = [
            r[0]
            for r in con.execute(
                """
                SELECT h.author_id FROM _match_hash h
                LEFT JOIN match_profiles p ON p.author_id = h.author_id
                WHERE p.author_id IS NULL OR p.works_hash <> h.h OR p.profile_version <> $v
                ORDER BY h.author_id
                """,
                {"v": PROFILE_VERSION},
            ).fetchall()
        ]
        total = int(con.execute("SELECT count(*) FROM _match_hash").fetchone()[0])  # type: ignore[index]
        # profiles whose author no longer has any work in the store
        stale = [
            r[0]
            for r in con.execute(
                "SELECT author_id FROM match_profiles WHERE author_id NOT IN "
                "(SELECT author_id FROM authorships WHERE author_id IS NOT NULL)"
            ).fetchall()
        ]
        con.execute("BEGIN")
        for table in PROFILE_TABLES:
            con.execute(f"DELETE FROM {table} WHERE author_id IN (SELECT unnest($a))", {"a": changed + stale})
        for lo in range(0, len(changed), BATCH_AUTHORS):  # bounded memory, whatever the store's size
            corpus = load_corpus(con, changed[lo : lo + BATCH_AUTHORS])
            _write(con, build_profiles(corpus))
            if on_batch is not None:
                on_batch(min(len(changed), lo + BATCH_AUTHORS), len(changed))
        con.execute("COMMIT")
        return UpdateSummary(authors=total, recomputed=len(changed), removed=len(stale))


def _sparse_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coo = matrix.tocoo()
    return coo.row, coo.col, coo.data


def _write(con: duckdb.DuckDBPyConnection, profiles: ProfileSet) -> None:
    authors = np.array(profiles.authors, dtype=object)
    now = datetime.now(UTC).replace(tzinfo=None)
    summary = pa.table(
        {
            "author_id": profiles.authors,
            "name": profiles.names,
            "works": profiles.works.astype(np.int32),
            "first_year": profiles.first_year.astype(np.int32),
            "last_year": profiles.last_year.astype(np.int32),
        }
    )
    con.register("_match_summary", summary)
    con.execute(
        """
        INSERT INTO match_profiles
        SELECT s.author_id, s.name, s.works, s.first_year, s.last_year, h.h, $v, $now
        FROM _match_summary s JOIN _match_hash h USING (author_id)
        """,
        {"v": PROFILE_VERSION, "now": now},
    )
    con.unregister("_match_summary")
    r, c, v = _sparse_rows(profiles.topics)
    keys = np.array(profiles.topic_keys, dtype=object)
    topic_rows = pa.table(
        {
            "author_id": authors[r].tolist() if len(r) else [],
            "feature": keys[c].tolist() if len(c) else [],
            "level": [feature_level(k) for k in keys[c]] if len(c) else [],
            "name": [profiles.topic_names[k] for k in keys[c]] if len(c) else [],
            "weight": v.astype(float),
        },
        schema=pa.schema(
            [
                ("author_id", pa.string()),
                ("feature", pa.string()),
                ("level", pa.string()),
                ("name", pa.string()),
                ("weight", pa.float64()),
            ]
        ),
    )
    con.register("_match_topic_rows", topic_rows)
    con.execute("INSERT INTO match_profile_topics SELECT * FROM _match_topic_rows")
    con.unregister("_match_topic_rows")
    r, c, v = _sparse_rows(profiles.terms)
    vocab = np.array(profiles.vocab, dtype=object)
    term_rows = pa.table(
        {
            "author_id": authors[r].tolist() if len(r) else [],
            "term": vocab[c].tolist() if len(c) else [],
            "weight": v.astype(float),
        },
        schema=pa.schema([("author_id", pa.string()), ("term", pa.string()), ("weight", pa.float64())]),
    )
    con.register("_match_term_rows", term_rows)
    con.execute("INSERT INTO match_profile_terms SELECT * FROM _match_term_rows")
    con.unregister("_match_term_rows")
    con.execute(
        """
        INSERT INTO match_profile_units
        SELECT a.author_id, w.publication_year, ai.institution_id, count(DISTINCT a.work_id)::INTEGER
        FROM authorships a
        JOIN _match_authors USING (author_id)
        JOIN authorship_institutions ai ON ai.work_id = a.work_id AND ai.position = a.position
        JOIN works w ON w.id = a.work_id
        WHERE w.publication_year IS NOT NULL
        GROUP BY ALL
        """
    )


def load_profiles(con: duckdb.DuckDBPyConnection, author_ids: Sequence[str]) -> ProfileSet:
    """The stored profiles of these authors (in this order; authors without a profile are left out)."""
    rows = con.execute(
        """
        SELECT p.author_id, p.name, p.works, p.first_year, p.last_year
        FROM match_profiles p JOIN (SELECT unnest($a) AS author_id, generate_subscripts($a, 1) AS k) q
          USING (author_id)
        ORDER BY q.k
        """,
        {"a": list(author_ids)},
    ).fetchall()
    authors = [r[0] for r in rows]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _match_load AS "
        "SELECT unnest($a) AS author_id, generate_subscripts($a, 1) - 1 AS k",
        {"a": authors},
    )
    tmat, topic_keys, names = _load_matrix(con, "match_profile_topics", "feature", len(authors), "name")
    wmat, vocab, _ = _load_matrix(con, "match_profile_terms", "term", len(authors), None)
    return ProfileSet(
        authors=authors,
        names=[r[1] or r[0] for r in rows],
        works=np.array([r[2] for r in rows], dtype=int),
        first_year=np.array([r[3] for r in rows], dtype=int),
        last_year=np.array([r[4] for r in rows], dtype=int),
        topics=tmat,
        topic_keys=topic_keys,
        topic_names=names,
        terms=wmat,
        vocab=vocab,
    )


def _load_matrix(
    con: duckdb.DuckDBPyConnection, table: str, key: str, n_authors: int, name: str | None
) -> tuple[sparse.csr_matrix, list[str], dict[str, str]]:
    """An authors × keys matrix of the stored weights (authors as in ``_match_load``), its keys in column
    order and their names."""
    keys_rows = con.execute(
        f"""
        SELECT {key}, {f"any_value({name})" if name else "NULL"}
        FROM {table} JOIN _match_load USING (author_id) GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    keys = [r[0] for r in keys_rows]
    arrays = con.execute(
        f"""
        SELECT l.k, dense_rank() OVER (ORDER BY t.{key}) - 1 AS col, t.weight
        FROM {table} t JOIN _match_load l USING (author_id)
        """
    ).fetchnumpy()
    matrix = sparse.csr_matrix(
        (np.asarray(arrays["weight"], dtype=float), (np.asarray(arrays["k"]), np.asarray(arrays["col"]))),
        shape=(n_authors, len(keys)),
    )
    return matrix, keys, {r[0]: r[1] or r[0] for r in keys_rows}
