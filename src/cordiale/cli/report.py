"""``cordiale report A B --year 2025 --out report.pdf``: the partnership's annual report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from cordiale.cli.common import DbOption, err, handle_errors, notice, parse_types
from cordiale.config import store_path
from cordiale.errors import StoreError, UsageError
from cordiale.observatory.query import DEFAULT_TYPES


class ReportFilters(NamedTuple):
    """What the report is restricted to (the defaults: the whole partnership)."""

    types: str  # as given: comma-separated
    field: str | None
    sdg: int | None


def report_command(
    partners: Annotated[
        list[str],
        typer.Argument(help="The two partners: OpenAlex id/URL, ROR id/URL or name.", show_default=False),
    ],
    year: Annotated[int, typer.Option(help="The report's year (the series shows it and the nine before).")],
    out: Annotated[Path, typer.Option("--out", help="report.pdf (WeasyPrint) or report.html.")],
    lang: Annotated[str, typer.Option(help="en or fr.")] = "en",
    rule: Annotated[str, typer.Option(help="Affiliation roll-up: direct, lineage or ror.")] = "lineage",
    counting: Annotated[str, typer.Option(help="full or fractional.")] = "full",
    event: Annotated[
        int | None, typer.Option(help="Event year (e.g. a joint lab's launch) for growth.")
    ] = None,
    types: Annotated[
        str, typer.Option(help="Work types, comma-separated, matched exactly (default: the observatory's).")
    ] = ",".join(DEFAULT_TYPES),
    field: Annotated[
        str | None, typer.Option(help="Only works whose primary topic is in this field (22 or fields/22).")
    ] = None,
    sdg: Annotated[int | None, typer.Option(help="Only works OpenAlex assigns this SDG (1-17).")] = None,
    web_db: Annotated[
        str | None,
        typer.Option(
            help="The programmes database for the programme figures: a database URL "
            "(postgres://…, sqlite:///…) or an SQLite file (default: the web app's configured database)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """A designed annual report of a partnership: summary page, charts, tables and methods."""
    only = ReportFilters(types, field, sdg)
    handle_errors(_report)(partners, year, out, lang, rule, counting, event, db, web_db, only)


def _report(
    texts: list[str],
    year: int,
    out: Path,
    lang: str,
    rule: str,
    counting: str,
    event: int | None,
    db: Path | None,
    web_db: str | None = None,
    only: ReportFilters | None = None,
) -> None:
    from cordiale.cli.pair import _resolve
    from cordiale.ids import field_id

    if len(texts) != 2:
        raise UsageError(f"a report is about two partners, not {len(texts)}")
    only = only or ReportFilters(",".join(DEFAULT_TYPES), None, None)
    types = parse_types(only.types)
    if only.sdg is not None and not 1 <= only.sdg <= 17:
        raise UsageError(f"--sdg must be a goal from 1 to 17, not {only.sdg}")
    db_path = store_path(db)
    if not db_path.is_file():
        raise StoreError(
            f"no store at {db_path}: run `cordiale ingest FILES…` or `cordiale pair A B --fetch`"
        )
    resolved = _resolve(db_path, texts)
    if web_db is not None and "://" not in web_db and not Path(web_db).expanduser().is_file():
        # SQLite would create an empty database file there, and a report only reads: an empty in-memory
        # database instead gives the same "No programme data" note, and nothing is left behind
        notice(f"--web-db {web_db}: no such file; the report says it has no programme data")
        web_db = "sqlite://:memory:"
    if web_db is not None:  # read by the web app's settings when Django starts below
        os.environ["CORDIALE_DATABASE_URL"] = (
            web_db if "://" in web_db else f"sqlite:///{Path(web_db).expanduser().resolve()}"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cordiale.web.settings")
    import django

    django.setup()
    from cordiale.web.dashboard.report import YEARS_SHOWN, ReportRequest, write_report

    first = year - YEARS_SHOWN + 1
    if event is not None and not first < event <= year:
        raise UsageError(
            f"--event {event} is outside the report's years {first}–{year}: it must lie in "
            f"{first + 1}–{year} (the window before the event needs one of those years)"
        )
    req = ReportRequest(
        partners=(resolved[0].id, resolved[1].id),
        year=year,
        lang=lang,
        rule=rule,
        counting=counting,
        event=event,
        types=types,
        field=field_id(only.field),
        sdg=only.sdg,
    )
    with err.status("rendering the report"):
        path = write_report(db_path, req, out)
    err.print(f"wrote {path}", highlight=False, markup=False)
