"""``cordiale serve`` and ``cordiale manage``: the programmes web app."""

from __future__ import annotations

import errno
from typing import Annotated

import typer

from cordiale.cli.common import err, tagged
from cordiale.errors import ExitCode


def serve_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    threads: Annotated[int, typer.Option(min=1, help="Worker threads.")] = 8,
) -> None:
    """Serve the programmes web app (migrates on first start; files under $CORDIALE_DATA_DIR/web)."""
    from cordiale.web.server import serve

    err.print(f"cordiale programmes on http://{host}:{port}/ (Ctrl-C to stop)", highlight=False)
    try:
        serve(host, port, threads)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        # the port is taken, or the address cannot be bound on this machine
        reason = exc.strerror or exc
        err.print(tagged("error:", "bold red", f"cannot listen on {host}:{port}: {reason}"), highlight=False)
        raise typer.Exit(int(ExitCode.USAGE)) from exc


def manage_command(ctx: typer.Context) -> None:
    """Django management commands, e.g. `cordiale manage createsuperuser`."""
    from cordiale.web.server import manage

    manage(list(ctx.args))
