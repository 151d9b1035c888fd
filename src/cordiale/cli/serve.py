"""``cordiale serve`` and ``cordiale manage``: the programmes web app."""

from __future__ import annotations

from typing import Annotated

import typer

from cordiale.cli.common import err


def serve_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    threads: Annotated[int, typer.Option(help="Worker threads.")] = 8,
) -> None:
    """Serve the programmes web app (migrates on first start; files under $CORDIALE_DATA_DIR/web)."""
    from cordiale.web.server import serve

    err.print(f"cordiale programmes on http://{host}:{port}/ (Ctrl-C to stop)", highlight=False)
    serve(host, port, threads)


def manage_command(ctx: typer.Context) -> None:
    """Django management commands, e.g. `cordiale manage createsuperuser`."""
    from cordiale.web.server import manage

    manage(list(ctx.args))
