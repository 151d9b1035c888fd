"""What every command shares: consoles, the error → exit-code mapping, progress bars, the store option."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from cordiale.errors import CordialeError, ExitCode, InstitutionError, UsageError

# No console markup: data values (names, paths with "[…]") are printed as they are; styles are explicit.
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)


def tagged(tag: str, style: str, message: str) -> Text:
    """``tag`` in ``style``, then the message as plain text (e.g. ``error: …`` in bold red)."""
    return Text.assemble((tag, style), " ", message)


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Store path (else CORDIALE_DB, else $CORDIALE_DATA_DIR/cordiale.duckdb).",
        show_default=False,
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn CordialeError into a message on stderr and the exit code the README lists."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CordialeError as exc:
            err.print(tagged("error:", "bold red", str(exc)), highlight=False)
            if isinstance(exc, InstitutionError) and exc.candidates:
                err.print("candidates:")
                for cid, name, detail in exc.candidates:
                    err.print(Text.assemble(f"  {cid:<14} {name}  ", (detail, "dim")), highlight=False)
            raise typer.Exit(int(exc.exit_code)) from None

    return wrapper


def parse_types(text: str) -> tuple[str, ...]:
    """``--types``: comma-separated work types, matched exactly; an empty list is a usage error."""
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    if not types:
        raise UsageError("--types is empty")
    return types


def notice(message: str) -> None:
    err.print(tagged("notice:", "yellow", message), highlight=False)


def byte_progress(transient: bool = False) -> Progress:
    """A progress bar over bytes of input (files ingest at different speeds, bytes tell the truth)."""
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )


def count_progress(transient: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )


def exit_with(code: ExitCode) -> Any:
    raise typer.Exit(int(code))
