"""``cordiale match people|supervisors|partners``: who at A should work with whom at B."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordiale.cli.common import DbOption, count_progress, handle_errors, notice, out
from cordiale.config import store_path
from cordiale.errors import InputUnreadableError, UsageError
from cordiale.resolve import Institution, resolve_institution
from cordiale.store.connection import reader, require_rows

match_app = typer.Typer(
    help="Matchmaking: researchers to bring together, co-supervisors, third partners.", no_args_is_help=True
)

FORMATS = ("table", "json")
ThemeOption = Annotated[
    str | None,
    typer.Option(help='A theme in French or English, e.g. "DNA data storage".', show_default=False),
]
FormatOption = Annotated[str, typer.Option("--format", help="table or json")]


def _resolve_pair(db_path: Path, a: str, b: str) -> tuple[Institution, Institution]:
    with reader(db_path) as con:
        # An empty store is exit 4 before any name is looked up (a ROR-only store cannot resolve to works)
        require_rows(con, db_path, ("works",), "ingest works with `cordiale ingest FILES…` first")
        ia = resolve_institution(con, a)
        ib = resolve_institution(con, b)
    if ia.id == ib.id:
        raise UsageError(f"A and B are the same institution ({ia.id})")
    return ia, ib


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be table or json, not {fmt!r}")


def _cut(text: str | None, what: str) -> str | None:
    """A theme or project text cut to the length SDG texts are cut to (a pasted full text would cost
    minutes without changing the answer much), with a notice when it is cut."""
    from cordiale.sdg.text import MAX_CHARS

    if text is None or len(text) <= MAX_CHARS:
        return text
    notice(f"{what} has {len(text):,} characters: only the first {MAX_CHARS:,} are used")
    return text[:MAX_CHARS]


def _check_top(top: int) -> None:
    if top < 1:
        raise UsageError("--top must be at least 1")


def _run_pairs(
    a: str,
    b: str,
    db: Path | None,
    fmt: str,
    **kwargs: Any,
) -> None:
    from cordiale.match.suggest import MatchQuery, suggest_pairs

    _check_format(fmt)
    _check_top(kwargs.get("top", 1))
    if kwargs.get("inactive_years", 1) < 1:
        raise UsageError("--inactive-years must be at least 1")
    if kwargs.get("min_works", 1) < 1:
        raise UsageError("--min-works must be at least 1")
    db_path = store_path(db)
    ia, ib = _resolve_pair(db_path, a, b)
    q = MatchQuery(partners=(ia.id, ib.id), **kwargs)
    with count_progress(transient=True) as progress:
        task = progress.add_task("match", total=None)
        result = suggest_pairs(db_path, q, on_step=lambda s: progress.update(task, description=f"match: {s}"))
    payload = result.to_json()
    for note in result.notes:
        notice(note)
    if fmt == "json":
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _pairs_table(payload)


def _pairs_table(payload: dict[str, Any]) -> None:
    pa, pb = payload["partners"]["a"], payload["partners"]["b"]
    title = (
        f"A = {pa['name']} ({pa['id']}), {pa['authors']:,} authors\n"
        f"B = {pb['name']} ({pb['id']}), {pb['authors']:,} authors"
    )
    caption = f"as of {payload['as_of_year']} · {payload['mode']}"
    theme = payload.get("theme")
    if theme:
        near = ", ".join(t["name"] for t in theme["nearest_topics"][:3]) or "none"
        caption += f" · theme: {theme['text'][:60]!r} (nearest topics: {near})"
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left", show_lines=True)
    for col in ("#", "researcher at A", "researcher at B", "score", "shared topics", "examples", "flags"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left", overflow="fold")
    for n, p in enumerate(payload["pairs"], 1):
        ex = "\n".join(
            f"{side.upper()}: {w['id']} ({w['year']}) {(w['title'] or '')[:60]}"
            for side in ("a", "b")
            for w in p["examples"][side][:2]
        )
        table.add_row(
            str(n),
            f"{p['a']['name']}\n{p['a']['id']} · {p['a']['unit']}",
            f"{p['b']['name']}\n{p['b']['id']} · {p['b']['unit']}",
            f"{p['score']:.3f}",
            "\n".join(t["name"] for t in p["shared_topics"][:3]),
            ex,
            "\n".join([*p["flags"], _coi_cell(p.get("coi"))]),
        )
    out.print(table)


def _coi_cell(coi: dict[str, Any] | None) -> str:
    """The conflict-of-interest status and its reasons (each cut to 120 characters)."""
    if not coi:
        return ""
    reasons = [r if len(r) <= 120 else r[:119] + "…" for r in coi["reasons"]]
    return "\n".join([f"conflict of interest: {coi['status']}", *reasons])


@match_app.command("people")
@handle_errors
def people_command(
    a: Annotated[str, typer.Argument(help="Partner A: OpenAlex id, ROR id or name.")],
    b: Annotated[str, typer.Argument(help="Partner B.")],
    theme: ThemeOption = None,
    top: Annotated[int, typer.Option(help="Pairs to show.")] = 20,
    include_existing: Annotated[
        bool, typer.Option(help="Keep pairs who already co-author (flagged).")
    ] = False,
    inactive_years: Annotated[
        int, typer.Option(help="Leave out authors with no work in the last N years.")
    ] = 3,
    min_works: Annotated[
        int, typer.Option(help="Leave out authors with fewer works at their partner in the last five years.")
    ] = 1,
    include_inactive: Annotated[
        bool, typer.Option(help="Rank inactive authors too (flagged inactive-a / inactive-b).")
    ] = False,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Pairs (one researcher at A, one at B) who do not co-author yet, ranked and explained."""
    theme = _cut(theme, "--theme")
    _run_pairs(
        a,
        b,
        db,
        fmt,
        mode="people",
        theme=theme,
        top=top,
        include_existing=include_existing,
        inactive_years=inactive_years,
        min_works=min_works,
        include_inactive=include_inactive,
    )


@match_app.command("supervisors")
@handle_errors
def supervisors_command(
    a: Annotated[str, typer.Argument(help="Partner A.")],
    b: Annotated[str, typer.Argument(help="Partner B.")],
    text: Annotated[str | None, typer.Option(help="Title and abstract of the joint PhD project.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="A text file with the project's title and abstract.")
    ] = None,
    top: Annotated[int, typer.Option(help="Pairs to show.")] = 10,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Co-supervisor pairs, one at each partner, for a joint PhD project."""
    if (text is None) == (file is None):
        raise UsageError("give the project as --text or --file (one of them)")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputUnreadableError(f"cannot read the project text {file}: {exc}") from exc
    if not (text or "").strip():
        raise UsageError("the project text is empty")
    text = _cut(text, "the project text")
    _run_pairs(a, b, db, fmt, mode="supervisors", theme=text, top=top, include_existing=True)


@match_app.command("partners")
@handle_errors
def partners_command(
    a: Annotated[str, typer.Argument(help="Partner A.")],
    b: Annotated[str, typer.Argument(help="Partner B.")],
    region: Annotated[
        str,
        typer.Option(
            help="A continent (africa, asia, europe, north-america, south-america, oceania) "
            "or ISO countries, e.g. SN,CI,MA."
        ),
    ],
    theme: ThemeOption = None,
    top: Annotated[int, typer.Option(help="Institutions to show.")] = 20,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Third partners: institutions of a region working on the theme; do they co-publish with A, B?"""
    from cordiale.match.partners import PartnerQuery, suggest_partners

    _check_format(fmt)
    _check_top(top)
    theme = _cut(theme, "--theme")
    db_path = store_path(db)
    ia, ib = _resolve_pair(db_path, a, b)
    q = PartnerQuery(partners=(ia.id, ib.id), region=region, theme=theme, top=top)
    with count_progress(transient=True) as progress:
        task = progress.add_task("match partners", total=None)
        payload = suggest_partners(
            db_path, q, on_step=lambda s: progress.update(task, description=f"partners: {s}")
        )
    for note in payload["notes"]:
        notice(note)
    if fmt == "json":
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    pa, pb = payload["partners"]["a"], payload["partners"]["b"]
    table = Table(
        title=f"third partners in {payload['region']['name']}\n"
        f"A = {pa['name']} ({pa['id']}), B = {pb['name']} ({pb['id']})",
        caption=f"theme: {theme!r}" if theme else "no theme: ranked by closeness to the topics of A and B",
        title_justify="left",
        caption_justify="left",
    )
    for col in (
        "#",
        "institution",
        "country",
        "score",
        "works",
        "on theme",
        "with A",
        "with B",
        "already with",
    ):
        table.add_column(
            col, justify="left" if col in ("institution", "country", "already with") else "right"
        )
    for n, inst in enumerate(payload["institutions"], 1):
        table.add_row(
            str(n),
            f"{inst['name']}\n{inst['id']}",
            inst["country"] or "",
            f"{inst['score']:.3f}",
            f"{inst['works']:,}",
            f"{inst['works_on_theme']:,}" if inst["works_on_theme"] is not None else "",
            f"{inst['joint_with_a']:,}",
            f"{inst['joint_with_b']:,}",
            inst["co_publishes_with"],
        )
    out.print(table)
