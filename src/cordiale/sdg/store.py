"""SDG scores in the store: the ``sdg_scores`` table (contract with the observatory) and incremental scoring.

Each row in ``sdg_scores`` is one (work, SDG) pair: all 17 SDGs of every scored work. A work is scored
again only when the hash of its text (title + rebuilt abstract) or the model version changed. The table
is not one of the ingest's work tables, so re-ingesting works never deletes scores. Scores are committed
per chunk of 256 works, and a reader waiting for the store is let in between two chunks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from cordiale.errors import StoreError, UsageError
from cordiale.sdg.classify import SdgResult, classify_texts, model_version
from cordiale.sdg.queries import N_SDGS
from cordiale.sdg.text import WorkText, abstract_from_inverted_index, text_hash
from cordiale.store.connection import WriterSession

SDG_SCORES = """
CREATE TABLE IF NOT EXISTS sdg_scores (
    work_id VARCHAR NOT NULL,      -- short OpenAlex id, W...
    sdg INTEGER NOT NULL,          -- 1..17
    score DOUBLE NOT NULL,         -- combined score in [0, 1]
    assigned BOOLEAN NOT NULL,     -- true when the SDG is assigned to the work
    reasons VARCHAR,               -- JSON text: why (query / UN target matched)
    text_hash VARCHAR NOT NULL,    -- hash of the text scored (incremental re-scoring)
    model_version VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL
)"""

CHUNK = 256


@dataclass
class ScoreSummary:
    candidates: int = 0  # works of the selected institutions
    scored: int = 0  # (re)scored in this run
    unchanged: int = 0  # skipped: same text hash and model version
    # the three below count every work in scope (scored in this run or unchanged), not this run's only
    no_text: int = 0  # works without title or abstract
    title_only: int = 0
    assigned: int = 0  # works with at least one SDG assigned
    model_version: str = ""


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SDG_SCORES)


def _candidate_ids(con: duckdb.DuckDBPyConnection, institutions: Sequence[str] | None) -> list[str]:
    if institutions is None:
        rows = con.execute("SELECT id FROM works ORDER BY id").fetchall()
    else:
        rows = con.execute(
            """
            WITH inst AS (
                SELECT id FROM institutions WHERE list_has_any(lineage, $ids)
                UNION SELECT unnest($ids::VARCHAR[])
            )
            SELECT DISTINCT work_id FROM authorship_institutions
            WHERE institution_id IN (SELECT id FROM inst) ORDER BY work_id
            """,
            {"ids": list(institutions)},
        ).fetchall()
    return [str(r[0]) for r in rows]


def asked_partners(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every institution a user asked the store about (the default partners)."""
    rows = con.execute("SELECT DISTINCT institution_id FROM asked_institutions ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def _rows(work_ids: list[str], results: list[SdgResult], version: str, now: datetime) -> pa.Table:
    cols: dict[str, list[object]] = {
        k: []
        for k in ("work_id", "sdg", "score", "assigned", "reasons", "text_hash", "model_version", "scored_at")
    }
    for wid, res in zip(work_ids, results, strict=True):
        for s in range(1, N_SDGS + 1):
            assigned = s in res.sdgs
            reasons = {"status": res.status, "path": res.path, "evidence": res.reasons.get(str(s), [])}
            if str(s) in res.held_back:
                reasons["held_back"] = res.held_back[str(s)]
            cols["work_id"].append(wid)
            cols["sdg"].append(s)
            cols["score"].append(min(1.0, max(0.0, res.scores[s - 1])))
            cols["assigned"].append(assigned)
            cols["reasons"].append(json.dumps(reasons, ensure_ascii=False))
            cols["text_hash"].append(res.text_hash)
            cols["model_version"].append(version)
            cols["scored_at"].append(now)
    schema = pa.schema(
        [
            ("work_id", pa.string()),
            ("sdg", pa.int32()),
            ("score", pa.float64()),
            ("assigned", pa.bool_()),
            ("reasons", pa.string()),
            ("text_hash", pa.string()),
            ("model_version", pa.string()),
            ("scored_at", pa.timestamp("us")),
        ]
    )
    return pa.table(cols, schema=schema)


def score_store(
    db_path: Path,
    institutions: Sequence[str] | None,
    *,
    use_asked: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ScoreSummary:
    """Score the works of ``institutions`` (lineage counts; None = every work, or the asked partners when
    ``use_asked``) into ``sdg_scores``, skipping works whose text and model version are unchanged."""
    if not db_path.is_file():
        raise StoreError(f"no store at {db_path}: run `cordiale ingest FILES…` first")
    version = model_version()
    summary = ScoreSummary(model_version=version)
    with WriterSession(db_path) as session:
        con = session.con
        ensure_table(con)
        if con.execute("SELECT 1 FROM works LIMIT 1").fetchone() is None:
            raise StoreError(f"the store {db_path} holds no works: run `cordiale ingest FILES…` first")
        if use_asked:
            institutions = asked_partners(con)
            if not institutions:
                raise UsageError(
                    "no partner institution recorded in the store: name them with --institutions A,B "
                    "(or score every work with --all)"
                )
        ids = _candidate_ids(con, institutions)
        summary.candidates = len(ids)
        known = dict(
            con.execute(
                "SELECT work_id, any_value(text_hash || '|' || model_version) FROM sdg_scores "
                "GROUP BY work_id"
            ).fetchall()
        )
        done = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.yield_to_readers()  # a reader waiting for the store gets it between two chunks
            con = session.con
            rows = con.execute(
                "SELECT id, title, abstract_inverted_index FROM works WHERE id IN (SELECT unnest($ids))",
                {"ids": chunk},
            ).fetchall()
            items = {str(r[0]): WorkText(r[1] or "", abstract_from_inverted_index(r[2])) for r in rows}
            present = [w for w in chunk if w in items]
            todo = [w for w in present if known.get(w) != f"{text_hash(items[w].text)}|{version}"]
            summary.unchanged += len(present) - len(todo)
            changed = list(zip(todo, classify_texts([items[w] for w in todo]), strict=True)) if todo else []
            if changed:
                table = _rows(
                    [w for w, _ in changed],
                    [r for _, r in changed],
                    version,
                    datetime.now(UTC).replace(tzinfo=None),
                )
                con.execute("BEGIN TRANSACTION")
                con.execute(
                    "DELETE FROM sdg_scores WHERE work_id IN (SELECT unnest($ids))",
                    {"ids": [w for w, _ in changed]},
                )
                con.register("sdg_new_rows", table)
                con.execute("INSERT INTO sdg_scores SELECT * FROM sdg_new_rows")
                con.unregister("sdg_new_rows")
                con.execute("COMMIT")
            summary.scored += len(changed)
            done += len(chunk)
            if on_progress is not None:
                on_progress(done, len(ids))
        _count_scope(session.con, ids, summary)
    return summary


def _count_scope(con: duckdb.DuckDBPyConnection, ids: list[str], summary: ScoreSummary) -> None:
    """No text, title only and with an SDG over every work in scope (scored now or unchanged), so a rerun
    that finds every work unchanged still reports what the scope holds."""
    ((no_text, title_only, assigned),) = con.execute(
        """
        SELECT count(DISTINCT work_id) FILTER (WHERE json_extract_string(reasons, '$.status') = 'no text'),
               count(DISTINCT work_id) FILTER (WHERE json_extract_string(reasons, '$.status') = 'title only'),
               count(DISTINCT work_id) FILTER (WHERE assigned)
        FROM sdg_scores WHERE work_id IN (SELECT unnest($ids))
        """,
        {"ids": ids},
    ).fetchall()
    summary.no_text, summary.title_only, summary.assigned = int(no_text), int(title_only), int(assigned)
