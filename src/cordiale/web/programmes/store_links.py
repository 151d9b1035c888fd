"""Links from the programmes to the store: a partner's OpenAlex and ROR ids must name an institution there."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from cordiale.config import store_path
from cordiale.store.connection import reader


def partner_id_problems(openalex_id: str, ror_id: str, store: Path | None = None) -> list[str]:
    """Why these ids do not link to the store (empty when they do, or when there is no store to check)."""
    path = store or store_path(settings.CORDIALE_STORE)
    if not path.is_file() or not (openalex_id or ror_id):
        return []
    problems: list[str] = []
    with reader(path) as con:
        if openalex_id:
            row = con.execute("SELECT ror FROM institutions WHERE id = ?", [openalex_id]).fetchone()
            if row is None:
                problems.append(
                    f"{openalex_id} is not an institution in the store {path}: ingest works of it, "
                    "or find its id with `cordiale institutions search`"
                )
            elif ror_id and row[0] and not str(row[0]).endswith(ror_id):
                problems.append(f"the store gives {openalex_id} the ROR id {row[0]}, not {ror_id}")
        elif ror_id:
            known = con.execute(
                "SELECT 1 FROM institutions WHERE ror LIKE '%' || ? UNION ALL "
                "SELECT 1 FROM ror_organizations WHERE ror_id = ? LIMIT 1",
                [ror_id, ror_id],
            ).fetchone()
            if known is None:
                problems.append(f"the ROR id {ror_id} is not in the store {path}: run `cordiale ror load`")
    return problems
