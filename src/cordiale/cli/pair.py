"""``cordiale pair A B``: the partnership's joint works per year, from the store (fetching what it lacks)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordiale.cli.common import DbOption, err, handle_errors, notice, out
from cordiale.config import store_path
from cordiale.errors import InstitutionError, UsageError
from cordiale.ids import short_openalex_id, short_ror_id
from cordiale.indicators.pair import (
    DEFAULT_TYPES,
    PairQuery,
    YearRow,
    compute_pair,
    pair_json,
    parse_years,
    store_facts,
    warn_unknown_types,
)
from cordiale.resolve import Institution, resolve_institution
from cordiale.store.connection import note_asked, reader


def _resolve(db_path: Path, texts: list[str]) -> list[Institution]:
    """Resolve both partners; without a store only ids can be resolved (ROR through the API)."""
    from cordiale.sources.pair_fetch import lookup_ror_via_api

    if db_path.is_file():
        with reader(db_path) as con:
            return [resolve_institution(con, t, lookup_ror=lookup_ror_via_api) for t in texts]
    resolved = []
    for t in texts:
        sid = short_openalex_id(t)
        if sid and sid.startswith("I"):
            resolved.append(Institution(id=sid, name=sid, ror=None, country_code=None))
            continue
        ror = short_ror_id(t)
        found = lookup_ror_via_api(ror) if ror else None
        if found is None:
            raise InstitutionError(
                f"cannot resolve {t!r} without a store: give an OpenAlex id (e.g. I1294671590), or load "
                "names with `cordiale ror load` / `cordiale ingest` first"
            )
        resolved.append(Institution(id=found[0], name=found[1], ror=ror, country_code=None))
    return resolved


def _has_works(db_path: Path, q: PairQuery) -> bool:
    """Whether the store holds at least one work of each partner under the rule."""
    if not db_path.is_file():
        return False
    if q.rule == "direct":
        sql = "SELECT 1 FROM authorship_institutions WHERE institution_id = $1 LIMIT 1"
    else:
        sql = (
            "SELECT 1 FROM authorship_institutions ai LEFT JOIN institutions i ON i.id = ai.institution_id "
            "WHERE ai.institution_id = $1 OR list_contains(i.lineage, $1) LIMIT 1"
        )
    with reader(db_path) as con:
        return all(con.execute(sql, [p]).fetchone() is not None for p in q.partners)


def pair_command(
    a: Annotated[str, typer.Argument(help="First partner: OpenAlex id/URL, ROR id/URL or name.")],
    b: Annotated[str, typer.Argument(help="Second partner.")],
    rule: Annotated[str, typer.Option(help="Affiliation roll-up: direct or lineage.")] = "lineage",
    years: Annotated[
        str | None, typer.Option(help="Years, e.g. 2015-2025 (default: every year in the store).")
    ] = None,
    types: Annotated[str, typer.Option(help="Work types, comma-separated, matched exactly.")] = ",".join(
        DEFAULT_TYPES
    ),
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    include_retracted: Annotated[bool, typer.Option(help="Count retracted works too.")] = False,
    fetch: Annotated[
        bool, typer.Option(help="Fetch the pair's joint works and yearly totals from OpenAlex first.")
    ] = False,
    fetch_all: Annotated[
        bool,
        typer.Option(help="Also page through each partner's whole output (prints the cost in calls first)."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Joint works of A and B per year, full and fractional, under one affiliation rule."""
    handled = handle_errors(_pair)
    handled(a, b, rule, years, types, fmt, include_retracted, fetch, fetch_all, db)


def _pair(
    a: str,
    b: str,
    rule: str,
    years: str | None,
    types: str,
    fmt: str,
    include_retracted: bool,
    fetch: bool,
    fetch_all: bool,
    db: Path | None,
) -> None:
    if fmt not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {fmt!r}")
    db_path = store_path(db)
    type_list = tuple(t.strip() for t in types.split(",") if t.strip())
    if not type_list:
        raise UsageError("--types is empty")
    partners = _resolve(db_path, [a, b])
    q = PairQuery(
        partners=(partners[0].id, partners[1].id),
        rule=rule,
        years=parse_years(years),
        types=type_list,
        include_retracted=include_retracted,
    )
    if fetch or fetch_all or not _has_works(db_path, q):
        from cordiale.sources.pair_fetch import fetch_pair

        if not (fetch or fetch_all):
            notice("the store holds no works for one of the partners: fetching the pair from OpenAlex")
        fetch_pair(db_path, q.partners, q.rule, fetch_all=fetch_all)

    note_asked(db_path, q.partners)
    with reader(db_path) as con:
        warn_unknown_types(con, q.types)
        rows = compute_pair(con, q)
        facts = store_facts(con, db_path)
        names = {
            i: n
            for i, n in con.execute(
                "SELECT id, display_name FROM institutions WHERE id IN (?, ?)", list(q.partners)
            ).fetchall()
            if n
        }
    for p in partners:
        if p.id not in names and p.name and p.name != p.id:
            names[p.id] = p.name
    payload = pair_json(q, names, rows, facts)
    if payload["joint_total"] == 0:
        notice("no joint works in the store for this pair, rule, types and years")
    if fmt == "json":
        typer.echo(json.dumps(payload, indent=2))
    elif fmt == "csv":
        typer.echo(_csv(q, rows), nl=False)
    else:
        _table(q, names, rows, payload)


def _csv(q: PairQuery, rows: list[YearRow]) -> str:
    a, b = q.partners
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "year",
            "rule",
            "joint",
            "joint_fractional",
            f"fractional_{a}",
            f"fractional_{b}",
            f"total_{a}",
            f"total_{b}",
            f"api_total_{a}",
            f"api_total_{b}",
            "unaffiliated_share",
            "approximate_works",
        ]
    )
    for r in rows:
        w.writerow(
            [
                r.year,
                q.rule,
                r.joint,
                r.joint_fractional,
                r.fractional[a],
                r.fractional[b],
                r.totals[a],
                r.totals[b],
                r.api_totals.get(a, ""),
                r.api_totals.get(b, ""),
                r.unaffiliated_share,
                r.approximate,
            ]
        )
    return buf.getvalue()


def _table(q: PairQuery, names: dict[str, str], rows: list[YearRow], payload: dict[str, Any]) -> None:
    a, b = q.partners
    na, nb = names.get(a, a), names.get(b, b)
    table = Table(
        title=f"A = {na} ({a})\nB = {nb} ({b})",
        caption=f"rule: {q.rule} · types: {', '.join(q.types)} · retracted "
        f"{'included' if q.include_retracted else 'excluded'} · store: {payload['store']['path']}",
        title_justify="left",
        caption_justify="left",
    )
    has_api = any(r.api_totals for r in rows)
    table.add_column("year", justify="right")
    table.add_column("joint", justify="right", style="bold")
    table.add_column("joint (frac.)", justify="right")
    table.add_column("w A", justify="right")
    table.add_column("w B", justify="right")
    table.add_column("total A", justify="right")
    table.add_column("total B", justify="right")
    if has_api:
        table.add_column("API total A", justify="right")
        table.add_column("API total B", justify="right")
    for r in rows:
        cells = [
            str(r.year),
            f"{r.joint:,}",
            f"{r.joint_fractional:.2f}",
            f"{r.fractional[a]:.2f}",
            f"{r.fractional[b]:.2f}",
            f"{r.totals[a]:,}",
            f"{r.totals[b]:,}",
        ]
        if has_api:
            cells += [f"{r.api_totals.get(a, 0):,}", f"{r.api_totals.get(b, 0):,}"]
        table.add_row(*cells)
    table.add_section()
    table.add_row(
        "all",
        f"{payload['joint_total']:,}",
        f"{payload['joint_fractional_total']:.2f}",
        f"{sum(r.fractional[a] for r in rows):.2f}",
        f"{sum(r.fractional[b] for r in rows):.2f}",
        style="bold",
    )
    out.print(table)
    approx = sum(r.approximate for r in rows)
    if approx:
        err.print(
            f"{approx} joint works have truncated author lists: their fractional weights are approximate"
        )
