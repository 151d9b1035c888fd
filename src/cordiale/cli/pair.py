"""``cordiale pair A B``: the partnership's joint works per year, from the store (fetching what it lacks)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordiale.cli.common import DbOption, err, handle_errors, notice, out, parse_types
from cordiale.config import store_path
from cordiale.errors import InstitutionError, UsageError
from cordiale.ids import field_id, short_openalex_id, short_ror_id
from cordiale.indicators.pair import (
    DEFAULT_TYPES,
    RULES,
    PairQuery,
    YearRow,
    compute_pair,
    pair_json,
    parse_years,
    store_facts,
    warn_unknown_types,
)
from cordiale.observatory.query import FAMILIES as OBS_FAMILIES
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
    partners: Annotated[
        list[str],
        typer.Argument(help="Two or more partners: OpenAlex id/URL, ROR id/URL or name.", show_default=False),
    ],
    rule: Annotated[str, typer.Option(help="Affiliation roll-up: direct, lineage or ror.")] = "lineage",
    years: Annotated[
        str | None, typer.Option(help="Years, e.g. 2015-2025 (default: every year in the store).")
    ] = None,
    types: Annotated[str, typer.Option(help="Work types, comma-separated, matched exactly.")] = ",".join(
        DEFAULT_TYPES
    ),
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or parquet (with --out).")] = "table",
    include_retracted: Annotated[bool, typer.Option(help="Count retracted works too.")] = False,
    fetch: Annotated[
        bool, typer.Option(help="Fetch the pair's joint works and yearly totals from OpenAlex first.")
    ] = False,
    fetch_all: Annotated[
        bool,
        typer.Option(help="Also page through each partner's whole output (prints the cost in calls first)."),
    ] = False,
    show: Annotated[
        str, typer.Option(help=f"Indicator families, comma-separated: {', '.join(OBS_FAMILIES)}.")
    ] = "summary",
    all_families: Annotated[bool, typer.Option("--all", help="Every family (with --out DIR).")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write files into this folder.")] = None,
    event: Annotated[int | None, typer.Option(help="Event year for growth windows, e.g. 2018.")] = None,
    window: Annotated[int, typer.Option(help="Years before the event in the first growth window (1-5).")] = 5,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark (PySpark local mode).")] = "duckdb",
    export: Annotated[
        Path | None, typer.Option(help="Parquet export for --engine spark (default: a temporary export).")
    ] = None,
    curation: Annotated[Path | None, typer.Option(help="A curation.toml of overrides.")] = None,
    sdg_source: Annotated[str, typer.Option(help="SDG labels: openalex or cordiale.")] = "openalex",
    strong: Annotated[float, typer.Option(help="Activity index at or above: strong.")] = 1.2,
    weak: Annotated[float, typer.Option(help="Activity index at or below: weak.")] = 0.8,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for stability intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed (recorded in every output).")] = 20260101,
    field: Annotated[
        str | None, typer.Option(help="Only works whose primary topic is in this field (22 or fields/22).")
    ] = None,
    sdg: Annotated[
        int | None, typer.Option(help="Only works assigned this SDG (1-17) by --sdg-source.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Joint works of the partners per year, full and fractional, under one affiliation rule; with
    --show or --all, the observatory's indicator families."""
    obs_opts = ObsOptions(
        show,
        all_families,
        out_dir,
        event,
        window,
        engine,
        export,
        curation,
        sdg_source,
        strong,
        weak,
        resamples,
        seed,
        field,
        sdg,
    )
    handled = handle_errors(_pair)
    handled(partners, rule, years, types, fmt, include_retracted, fetch, fetch_all, db, obs_opts)


@dataclass(frozen=True)
class ObsOptions:
    show: str
    all_families: bool
    out_dir: Path | None
    event: int | None
    window: int
    engine: str
    export: Path | None
    curation: Path | None
    sdg_source: str
    strong: float
    weak: float
    resamples: int
    seed: int
    field: str | None = None  # as given; normalised by field_id
    sdg: int | None = None

    def foundation_view(self, n_partners: int, rule: str) -> bool:
        """Whether the foundation's pair view answers (two partners, summary only, nothing else asked)."""
        return (
            n_partners == 2
            and self.show == "summary"
            and not self.all_families
            and self.out_dir is None
            and self.event is None
            and self.engine == "duckdb"
            and self.curation is None
            and self.field is None
            and self.sdg is None
            and rule in RULES
        )


def _pair(
    texts: list[str],
    rule: str,
    years: str | None,
    types: str,
    fmt: str,
    include_retracted: bool,
    fetch: bool,
    fetch_all: bool,
    db: Path | None,
    opts: ObsOptions,
) -> None:
    if len(texts) < 2:
        raise UsageError("give two or more partners")
    if fmt not in ("table", "json", "csv", "parquet"):
        raise UsageError(f"--format must be table, json, csv or parquet, not {fmt!r}")
    db_path = store_path(db)
    type_list = parse_types(types)
    if not opts.foundation_view(len(texts), rule):
        _observatory(texts, rule, years, type_list, fmt, include_retracted, db_path, opts)
        return
    if fmt == "parquet":
        raise UsageError("--format parquet writes files: give --out DIR")
    partners = _resolve(db_path, texts)
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


def _observatory(
    texts: list[str],
    rule: str,
    years: str | None,
    types: tuple[str, ...],
    fmt: str,
    include_retracted: bool,
    db_path: Path,
    opts: ObsOptions,
) -> None:
    """The observatory's families (any number of partners, any family, either engine)."""
    from cordiale.cli.observatory import emit, parse_show, prepare_out_dir
    from cordiale.indicators import ObsQuery, load_curation, observe_store
    from cordiale.observatory.curation import EMPTY
    from cordiale.observatory.engines import spark_session
    from cordiale.observatory.query import FAMILIES
    from cordiale.store.connection import require_rows

    families = list(FAMILIES) if opts.all_families else parse_show(opts.show)
    if opts.all_families and opts.out_dir is None:
        raise UsageError("--all writes every family: give --out DIR")
    if opts.out_dir is not None:
        prepare_out_dir(opts.out_dir)  # before the work: a bad --out fails at once
    if opts.engine not in ("duckdb", "spark"):
        raise UsageError(f"--engine must be duckdb or spark, not {opts.engine!r}")
    if opts.engine == "spark":
        spark_session()  # exit 5 at once when PySpark or Java is missing
    if not db_path.is_file():
        from cordiale.errors import StoreError

        raise StoreError(
            f"no store at {db_path}: run `cordiale ingest FILES…` or `cordiale pair A B --fetch`"
        )
    with reader(db_path) as con:
        require_rows(con, db_path, ("works",), "run `cordiale ingest FILES…` first")
    resolved = _resolve(db_path, texts)
    cur = load_curation(opts.curation) if opts.curation else EMPTY
    q = ObsQuery(
        partners=tuple(p.id for p in resolved),
        rule=rule,
        types=types,
        years=parse_years(years),
        include_retracted=include_retracted,
        event=opts.event,
        window=opts.window,
        strong=opts.strong,
        weak=opts.weak,
        resamples=opts.resamples,
        seed=opts.seed,
        sdg_source=opts.sdg_source,
        field=field_id(opts.field),
        sdg=opts.sdg,
    )
    with reader(db_path) as con:
        warn_unknown_types(con, q.types)
    obs = observe_store(db_path, q, families, cur, engine=opts.engine, export_dir=opts.export)
    emit(obs, "parquet" if fmt == "table" and opts.out_dir is not None else fmt, opts.out_dir)
