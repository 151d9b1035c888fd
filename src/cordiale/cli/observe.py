"""``cordiale observe …``: jobs on the observatory's store-wide reference tables."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cordiale.cli.common import DbOption, count_progress, handle_errors, notice, out
from cordiale.config import store_path

observe_app = typer.Typer(help="The partnership observatory's reference tables.", no_args_is_help=True)


@observe_app.command("prepare")
@handle_errors
def prepare_command(
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the tables are fresh.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Build the store-wide reference tables (link shares, roll-ups under every rule, classes) once, so
    that `cordiale pair` only filters and aggregates. Idempotent: nothing is done when they were built
    from the store's current state; a store changed since (an ingest, a ROR load) is rebuilt."""
    from cordiale.observatory.reference import prepare

    db_path = store_path(db)
    with count_progress(transient=True) as progress:
        task = progress.add_task("reference tables", total=None)

        def step(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        report = prepare(db_path, force=force, on_step=step)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "built": report.built,
                    "seconds": round(report.seconds, 3),
                    "tables": report.tables,
                    "store_state": report.store_state,
                }
            )
        )
        return
    if not report.built:
        notice(f"the reference tables of {db_path} are fresh: nothing to do (--force rebuilds them)")
        return
    rows = sum(report.tables.values())
    out.print(f"reference tables built in {report.seconds:.1f} s: {len(report.tables)} tables, {rows:,} rows")
