"""The ``cordiale`` command: the front door for every job."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cordiale import __version__
from cordiale.cli.common import (
    DbOption,
    byte_progress,
    count_progress,
    err,
    handle_errors,
    notice,
    out,
    tagged,
)
from cordiale.cli.match import match_app
from cordiale.cli.observe import observe_app
from cordiale.cli.pair import pair_command
from cordiale.cli.report import report_command
from cordiale.cli.sdg import sdg_app
from cordiale.cli.serve import manage_command, serve_command
from cordiale.config import store_path
from cordiale.errors import ExitCode, NothingDoneError, UsageError
from cordiale.sources.inputs import InputFile
from cordiale.store.export import export_parquet
from cordiale.store.ingest import FileOutcome, IngestSummary, ingest, plan_bytes

app = typer.Typer(
    name="cordiale",
    help="Observe and run an international research partnership from open scholarly metadata.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
ror_app = typer.Typer(help="ROR registry data.", no_args_is_help=True)
inst_app = typer.Typer(help="Institutions: find and resolve.", no_args_is_help=True)
app.add_typer(ror_app, name="ror")
app.add_typer(inst_app, name="institutions")
app.add_typer(sdg_app, name="sdg")
app.command("pair")(pair_command)
app.command("serve")(serve_command)
app.command("report")(report_command)
app.command("manage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    manage_command
)
app.add_typer(match_app, name="match")
app.add_typer(observe_app, name="observe")


def _version(value: bool) -> None:
    if value:
        out.print(f"cordiale {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """cordiale: observe and run an international research partnership."""


@app.command("ingest")
@handle_errors
def ingest_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Snapshot folders, .jsonl/.jsonl.gz or .parquet files.")
    ],
    db: DbOption = None,
    workers: Annotated[int | None, typer.Option(help="Parse processes (default: CPU count).")] = None,
    institutions: Annotated[
        str | None,
        typer.Option(help="Keep only works with these institutions (comma-separated ids; lineage counts)."),
    ] = None,
    partial: Annotated[
        bool, typer.Option(help="Records carry only some fields (fetched with select): update only those.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Re-ingest files already ingested unchanged.")] = False,
    parts: Annotated[
        bool | None,
        typer.Option(
            "--parts/--no-parts",
            help="Keep the rows of large files of new works as Parquet parts beside the database "
            "(faster bulk ingest; default: CORDIALE_INGEST_PARTS, else yes).",
        ),
    ] = None,
) -> None:
    """Ingest OpenAlex works (and institution records) into the store; incremental and resumable."""
    from cordiale.ids import short_openalex_id

    filt: list[str] = []
    for part in (institutions or "").split(","):
        if part.strip():
            sid = short_openalex_id(part)
            if not sid or not sid.startswith("I"):
                raise UsageError(f"--institutions: {part!r} is not an OpenAlex institution id")
            filt.append(sid)
    db_path = store_path(db)
    total = plan_bytes(paths)
    # The objects the imports made live as long as the command: later collections need not walk them
    # (they did, a full collection at a time, while each file was merged).
    gc.freeze()
    with byte_progress() as progress:
        task = progress.add_task("ingest", total=total or None)

        def on_file(item: InputFile, outcome: FileOutcome) -> None:
            progress.update(task, advance=item.size, description=f"ingest {item.path.name}")

        summary = ingest(
            paths,
            db_path,
            workers=workers,
            partial=partial,
            institution_filter=filt,
            force=force,
            on_file=on_file,
            keep_parts=parts,
        )
    _print_ingest_summary(summary, db_path)
    code = _ingest_exit_code(summary)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _print_ingest_summary(summary: IngestSummary, db_path: Path) -> None:
    table = Table(title=f"ingest into {db_path}", title_justify="left")
    for col in ("file", "read", "stored", "quarantined", "filtered out", "note"):
        table.add_column(col, justify="right" if col not in ("file", "note") else "left")
    for f in summary.files:
        note = "already ingested (unchanged)" if f.skipped else (f.error or "")
        table.add_row(
            Path(f.path).name, f"{f.read:,}", f"{f.stored:,}", f"{f.rejected:,}", f"{f.filtered:,}", note
        )
    table.add_row(
        "total",
        f"{summary.read:,}",
        f"{summary.stored:,}",
        f"{summary.rejected:,}",
        f"{summary.filtered:,}",
        f"{summary.skipped} skipped",
        style="bold",
    )
    err.print(table)
    for message in summary.errors:
        err.print(tagged("error:", "bold red", message), highlight=False)
    for f in summary.files:
        for line, reason in f.samples:
            if (line, reason) != f.cut:
                err.print(f"{f.path}:{line}: {reason}", highlight=False, markup=False)
        shown = len(f.samples) - (f.cut in f.samples)
        hidden = f.rejected - shown - (f.cut is not None)
        if hidden > 0:
            err.print(f"{f.path}: {hidden:,} more quarantined records", highlight=False, markup=False)
        if f.cut is not None:  # always shown, whatever the samples held
            err.print(f"{f.path}:{f.cut[0]}: {f.cut[1]}", style="bold yellow", highlight=False, markup=False)
    if summary.absent_parts:
        n = len(summary.absent_parts)
        listed = ", ".join(summary.absent_parts[:3]) + (f" and {n - 3:,} more" if n > 3 else "")
        notice(
            f"{n:,} works part{'s' if n != 1 else ''} the snapshot manifest lists "
            f"{'are' if n != 1 else 'is'} not on disk: {listed}; the store is not reference-complete"
        )
    if summary.rejected:
        notice(
            f"{summary.rejected:,} record{'s' if summary.rejected != 1 else ''} quarantined with file, line "
            "and reason: "
            "see the `quarantine` table (or `cordiale export`)"
        )


def _ingest_exit_code(summary: IngestSummary) -> ExitCode:
    if summary.errors:
        return ExitCode.USAGE
    if summary.read == 0 and summary.skipped == 0:
        notice("no records could be read from the inputs")
        return ExitCode.NOTHING_DONE
    if summary.read == 0:
        notice("every input was already ingested unchanged; nothing to do")
    return ExitCode.OK


@app.command("export")
@handle_errors
def export_command(
    directory: Annotated[Path, typer.Argument(help="Folder to write (one file per table).")],
    fmt: Annotated[str, typer.Option("--format", help="Only parquet for now.")] = "parquet",
    db: DbOption = None,
) -> None:
    """Export every table of the store."""
    if fmt != "parquet":
        raise UsageError(f"--format {fmt}: only parquet is supported")
    counts = export_parquet(store_path(db), directory)
    table = Table(title=f"exported to {directory}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


@ror_app.command("load")
@handle_errors
def ror_load_command(
    paths: Annotated[list[Path], typer.Argument(help="ROR dump (.json/.zip) or JSON Lines files, v1 or v2.")],
    db: DbOption = None,
) -> None:
    """Load ROR records (names in every language, relations, coordinates) into the store."""
    from cordiale.sources.ror import load_ror

    db_path = store_path(db)
    with count_progress() as progress:
        task = progress.add_task("ror load", total=None)
        summary = load_ror(
            paths,
            db_path,
            progress=lambda path, n: progress.update(task, description=f"ror load {path.name}", completed=n),
        )
    table = Table(title=f"ROR records into {db_path}", title_justify="left")
    for col in ("file", "read", "stored", "quarantined", "seconds"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for f in summary.files:
        table.add_row(
            Path(f.path).name,
            f"{f.records_read:,}",
            f"{f.records_stored:,}",
            f"{f.records_rejected:,}",
            f"{f.seconds:.1f}",
        )
    err.print(table)
    for f in summary.files:
        if f.cut is not None:  # a truncated file: what was before the damage is stored; say where it stops
            err.print(
                f"{f.path}:{f.cut[0]}: {f.cut[1]}",
                style="bold yellow",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if summary.records_rejected:
        notice(
            f"{summary.records_rejected:,} quarantine row{'s' if summary.records_rejected != 1 else ''} "
            "with file, line and reason: see the `quarantine` table (or `cordiale export`)"
        )
    for f in summary.files:
        if f.records_read and not f.records_stored:  # as in `ingest`: quarantined, not a failure
            notice(
                f"{f.path}: none of its {f.records_read:,} records could be stored; "
                f"{f.records_rejected:,} quarantined (see the `quarantine` table)"
            )
    if summary.records_read == 0:
        raise NothingDoneError("no ROR record could be read from the inputs")


@inst_app.command("search")
@handle_errors
def institutions_search_command(
    text: Annotated[str, typer.Argument(help="Name, acronym, OpenAlex or ROR id.")],
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Candidates to list.")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Find institutions by name through the ROR data and OpenAlex records in the store."""
    import json
    from dataclasses import asdict

    from cordiale.resolve import search_institutions
    from cordiale.store.connection import reader, require_rows

    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt}: use table or json")
    db_path = store_path(db)
    with reader(db_path) as con:
        hint = "load names with `cordiale ror load` or `cordiale ingest` first"
        require_rows(con, db_path, ("institutions", "ror_organizations"), hint)
        candidates = search_institutions(con, text, limit=limit)
    if fmt == "json":
        out.print_json(json.dumps([asdict(c) for c in candidates]))
        return
    if not candidates:
        notice(f"no institution matches {text!r}")
        return
    table = Table(title=f"institutions matching {text!r}", title_justify="left")
    for col in ("id", "name", "country", "types", "works", "matched"):
        table.add_column(col, justify="right" if col == "works" else "left", overflow="fold")
    for c in candidates:
        table.add_row(c.key, c.name, c.country_code or "", ", ".join(c.types), f"{c.works:,}", c.matched)
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
