"""Output suggestions from the store: works by a project's people published on or after its start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from cordiale.config import store_path
from cordiale.store.connection import reader
from cordiale.web.programmes.models import Project


@dataclass(frozen=True)
class Suggestion:
    work_id: str
    doi: str
    title: str
    year: int | None
    publication_date: str
    project_people: int  # how many of the project's people are authors


def project_author_ids(project: Project) -> list[str]:
    ids = {m.person.openalex_author_id for m in project.members.select_related("person")}
    ids |= {s.person.openalex_author_id for s in project.students.select_related("person")}
    return sorted(i for i in ids if i)


def suggest_outputs(project: Project, store: Path | None = None, limit: int = 100) -> list[Suggestion]:
    """Works in the store co-authored by the project's people on or after its start, not yet linked.

    Ranked by the number of project people on the work, then newest first. Raises StoreError when the
    store is missing.
    """
    authors = project_author_ids(project)
    if not authors:
        return []
    linked = set(project.outputs.values_list("work_id", flat=True))
    path = store or store_path(settings.CORDIALE_STORE)
    with reader(path) as con:
        rows = con.execute(
            """
            SELECT w.id, coalesce(w.doi, ''), coalesce(w.title, ''), w.publication_year,
                   coalesce(w.publication_date, ''), count(DISTINCT a.author_id) AS people
            FROM authorships a JOIN works w ON w.id = a.work_id
            WHERE a.author_id IN (SELECT unnest(?::VARCHAR[]))
              AND w.publication_date >= ?
            GROUP BY ALL
            ORDER BY people DESC, 5 DESC, 1
            LIMIT ?
            """,
            [authors, project.start.isoformat(), limit + len(linked)],
        ).fetchall()
    out = [Suggestion(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows if r[0] not in linked]
    return out[:limit]
