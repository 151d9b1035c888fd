"""Compare two ``cordiale export`` folders table by table: are the stores' rows the same?

For changes to the ingest that must not change what is stored: build a store with the code before and
after, export both (``cordiale export --db STORE DIR``), then ``python bench/compare_exports.py DIR_A DIR_B``.
Each table must have the same columns and the same multiset of rows (``EXCEPT ALL`` both ways); the row
order of the export is compared too and reported. Run-specific columns (run ids, times) are left out.
Exit status 1 when any table differs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import duckdb

VOLATILE = {
    "ingest_log": {"run_id", "started_at", "finished_at"},
    "ingested_files": {"run_id", "committed_at"},
}


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def compare_table(con: duckdb.DuckDBPyConnection, table: str, a: Path, b: Path) -> tuple[bool, str]:
    """Whether ``table`` holds the same rows in both folders, and a line that says how it compares."""
    pa_, pb = a / f"{table}.parquet", b / f"{table}.parquet"
    if not (pa_.is_file() and pb.is_file()):
        return False, f"{table:26s} missing in {'the first' if not pa_.is_file() else 'the second'} folder"
    src_a, src_b = f"read_parquet('{pa_}')", f"read_parquet('{pb}')"
    cols_a = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src_a}").fetchall()]
    cols_b = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src_b}").fetchall()]
    if cols_a != cols_b:
        return False, f"{table:26s} columns differ: {cols_a} vs {cols_b}"
    cols = ", ".join(f'"{c}"' for c in cols_a if c not in VOLATILE.get(table, set()))
    n_a, n_b = _one(con, f"SELECT count(*) FROM {src_a}"), _one(con, f"SELECT count(*) FROM {src_b}")
    only_a = _one(
        con, f"SELECT count(*) FROM (SELECT {cols} FROM {src_a} EXCEPT ALL SELECT {cols} FROM {src_b})"
    )
    only_b = _one(
        con, f"SELECT count(*) FROM (SELECT {cols} FROM {src_b} EXCEPT ALL SELECT {cols} FROM {src_a})"
    )
    order = [
        _one(
            con,
            f"SELECT md5(string_agg(md5(CAST(ROW({cols}) AS VARCHAR)), '' ORDER BY rn)) "
            f"FROM (SELECT *, row_number() OVER () AS rn FROM {src})",
        )
        for src in (src_a, src_b)
    ]
    same = n_a == n_b and only_a == 0 and only_b == 0
    line = (
        f"{table:26s} rows {n_a:>10} vs {n_b:>10}  only in first {only_a}  only in second {only_b}  "
        f"{'identical' if same else 'DIFFERENT'} (row order {'same' if order[0] == order[1] else 'differs'})"
    )
    return same, line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args(argv)
    tables = sorted({p.stem for d in (args.first, args.second) for p in d.glob("*.parquet")})
    con = duckdb.connect()
    ok = True
    for table in tables:
        same, line = compare_table(con, table, args.first, args.second)
        ok &= same
        print(line)
    print("all tables identical" if ok else "differences found")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
