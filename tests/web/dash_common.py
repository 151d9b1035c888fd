"""Helpers of the dashboard's tests: the partnership, the numbers a page shows, the CLI's JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cordiale.cli.main import app
from cordiale.store.connection import reader

KFUPM, ARAMCO = "I134085113", "I4210143841"
ARTIFACTS = Path(__file__).resolve().parents[2] / "ci-artifacts"
VENDOR = Path(__file__).resolve().parents[2] / "src/cordiale/web/dashboard/static/dashboard/vendor"


def lonely_partner(store: Path) -> str:
    """An institution of the store that never shares a work with ARAMCO (the empty partnership)."""
    with reader(store) as con:
        row = con.execute(
            """SELECT i.id FROM institutions i WHERE i.id NOT IN (
                   SELECT ai.institution_id FROM authorship_institutions ai WHERE ai.work_id IN (
                       SELECT work_id FROM authorship_institutions WHERE institution_id = ?))
               AND i.id IN (SELECT institution_id FROM authorship_institutions) ORDER BY i.id LIMIT 1""",
            [ARAMCO],
        ).fetchone()
    assert row is not None
    return str(row[0])


class DataAttrs(HTMLParser):
    """Every element's data-* attributes, with its id and classes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = {k: v or "" for k, v in attrs}
        if any(k.startswith("data-") for k in d):
            self.items.append(d)


def page_numbers(html: str) -> dict[str, Any]:
    """The numbers the overview page shows, read from its data attributes."""
    p = DataAttrs()
    p.feed(html)

    def num(v: str) -> float | None:
        return None if v == "None" else float(v)

    out: dict[str, Any] = {"years": {}, "growth": {}, "shares": {}}
    for d in p.items:
        cls, ident = d.get("class", ""), d.get("id", "")
        if "year-row" in cls:
            out["years"][int(d["data-year"])] = (num(d["data-value"]), d["data-partial"] == "true")
        elif "growth-row" in cls:
            out["growth"][d["data-window"]] = tuple(
                num(d[k]) for k in ("data-value", "data-low", "data-high")
            )
        elif "share-overall" in cls:
            out["shares"][d["data-partner"]] = num(d["data-value"])
        elif ident in ("total-joint", "total-fractional"):
            out[ident] = num(d["data-value"])
    return out


def cli_json(store: Path, args: list[str]) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["pair", *args, "--format", "json", "--db", str(store)])
    assert res.exit_code == 0, res.output
    start = res.output.index("{")
    payload: dict[str, Any] = json.loads(res.output[start:])
    return payload


def cli_args_on_page(html: str) -> list[str]:
    """The `cordiale pair …` command the page prints under its numbers."""
    m = re.search(r'<code id="cli">cordiale pair (.*?) --format json</code>', html)
    assert m, "the page names the CLI command giving its numbers"
    return m.group(1).split(" ")
