"""``cordiale pair A B [C …] --show FAMILY | --all --out DIR``: the observatory's families."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from cordiale.cli.common import count_progress, err, notice, out
from cordiale.errors import UsageError
from cordiale.observatory.query import FAMILIES
from cordiale.observatory.run import Observation

FORMATS = ("table", "json", "csv", "parquet")
TABLE_ROWS = 60  # rows a Rich table shows per section; every row goes to json/csv/parquet


def parse_show(show: str) -> list[str]:
    fams = [s.strip() for s in show.split(",") if s.strip()]
    bad = [f for f in fams if f not in FAMILIES]
    if bad or not fams:
        raise UsageError(f"--show must be among {', '.join(FAMILIES)}, not {show!r}")
    return fams


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _meta(table: pa.Table) -> dict[str, str]:
    raw = table.schema.metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items()}


def observation_header(obs: Observation) -> dict[str, Any]:
    """How the observation was counted: the JSON output's top level, a CSV file's sidecar."""
    q = obs.query
    return {
        "partners": list(q.partners),
        "rule": q.rule,
        "types": list(q.types),
        "years": list(q.years) if q.years else None,
        "include_retracted": q.include_retracted,
        "field": q.field,
        "sdg": q.sdg,
        "sdg_source": q.sdg_source,
        "engine": obs.engine,
        "snapshot_date": obs.facts.snapshot_date,
        "reference_complete": obs.facts.reference_complete,
        "seed": obs.query.seed,
        "resamples": obs.query.resamples,
        "curation": {
            "version": obs.curation.version,
            "file": obs.curation.path,
            "works_changed": obs.works_changed,
            "changed_works": obs.changed_works,
        },
        "joint_works": obs.joint_works,
        "notices": obs.notices,
    }


def observation_json(obs: Observation) -> dict[str, Any]:
    return {
        **observation_header(obs),
        "families": {
            fam: {
                name: {
                    "metadata": _meta(t),
                    "rows": [{k: _jsonable(v) for k, v in r.items()} for r in t.to_pylist()],
                }
                for name, t in secs.items()
            }
            for fam, secs in obs.sections.items()
        },
    }


def _csv(table: pa.Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.column_names)
    for row in table.to_pylist():
        w.writerow(["" if v is None else v for v in row.values()])
    return buf.getvalue()


def counted_line(obs: Observation) -> str:
    """One line saying how a CSV on stdout was counted (printed to stderr, never into the CSV)."""
    h = observation_header(obs)
    cur = h["curation"]
    parts = [
        f"partners={','.join(h['partners'])}",
        f"rule={h['rule']}",
        f"types={','.join(h['types'])}",
        f"years={'-'.join(map(str, h['years'])) if h['years'] else 'all'}",
        f"include_retracted={str(h['include_retracted']).lower()}",
    ]
    if h["field"] is not None:
        parts.append(f"field={h['field']}")
    if h["sdg"] is not None:
        parts.append(f"sdg={h['sdg']} ({h['sdg_source']})")
    parts += [
        f"snapshot={h['snapshot_date']}",
        f"reference={'store' if h['reference_complete'] else 'partners'}",
        f"engine={h['engine']}",
        f"seed={h['seed']}",
        f"resamples={h['resamples']}",
        f"curation={cur['version'] or 'none'}",
    ]
    return "# counted: " + "; ".join(parts)


def _is_year(column: str) -> bool:
    return column.endswith("year")


def _fmt(v: Any, column: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.3f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v) if _is_year(column) else f"{v:,}"  # years print plain: 2019, not 2,019
    return str(v)


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``--out``'s folder, or say in one line why it cannot be (exit 2)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a folder: give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out_dir}: cannot create the folder ({exc.strerror or exc})") from exc


def _rich(fam: str, name: str, table: pa.Table, obs: Observation) -> None:
    meta = _meta(table)
    rt = Table(
        title=f"{fam} · {name}" if name != fam else fam,
        caption=f"rule: {meta.get('rule')} · types: {meta.get('types')} · source: {meta.get('source')} · "
        f"snapshot: {meta.get('snapshot_date')} · engine: {obs.engine}"
        + (
            f" · curation {obs.curation.version}: {obs.works_changed} works changed"
            if obs.curation.version
            else ""
        )
        + (
            f" · {table.num_rows - TABLE_ROWS} more rows in json/csv/parquet"
            if table.num_rows > TABLE_ROWS
            else ""
        ),
        title_justify="left",
        caption_justify="left",
    )
    for c in table.column_names:
        rt.add_column(
            c.replace("_", " "),
            justify="right"
            if pa.types.is_integer(table.schema.field(c).type)
            or pa.types.is_floating(table.schema.field(c).type)
            else "left",
        )
    for row in table.slice(0, TABLE_ROWS).to_pylist():
        rt.add_row(*[_fmt(v, c) for c, v in row.items()])
    out.print(rt)


def emit(obs: Observation, fmt: str, out_dir: Path | None) -> None:
    """Print (table/json/csv) or write files (``--out``: one file per section, or one JSON)."""
    for n in obs.notices:
        notice(n)
    if out_dir is not None:
        prepare_out_dir(out_dir)
        try:
            _write_files(obs, fmt, out_dir)
        except OSError as exc:
            raise UsageError(f"--out {out_dir}: cannot write there ({exc.strerror or exc})") from exc
        err.print(f"wrote {sum(len(s) for s in obs.sections.values())} sections to {out_dir}", markup=False)
        return
    if fmt == "parquet":
        raise UsageError("--format parquet writes files: give --out DIR")
    if fmt == "json":
        typer.echo(json.dumps(observation_json(obs), indent=2))
    elif fmt == "csv":
        typer.echo(counted_line(obs), err=True)
        parts = []
        for fam, secs in obs.sections.items():
            for name, t in secs.items():
                parts.append(
                    ("" if len(obs.sections) == 1 and len(secs) == 1 else f"# {fam}.{name}\n") + _csv(t)
                )
        typer.echo("\n".join(parts), nl=False)
    else:
        for fam, secs in obs.sections.items():
            for name, t in secs.items():
                _rich(fam, name, t, obs)


def _write_files(obs: Observation, fmt: str, out_dir: Path) -> None:
    """One JSON, or one file per section; a CSV gets a ``<section>.meta.json`` saying how it was counted."""
    if fmt == "json":
        (out_dir / "observatory.json").write_text(json.dumps(observation_json(obs), indent=2))
    else:
        sections = [(f, n, t) for f, secs in obs.sections.items() for n, t in secs.items()]
        with count_progress(transient=True) as progress:
            task = progress.add_task("write", total=len(sections))
            for fam, name, table in sections:
                stem = fam if name == fam else f"{fam}.{name}"
                if fmt == "csv":
                    (out_dir / f"{stem}.csv").write_text(_csv(table))
                    sidecar = {**observation_header(obs), "section": stem, "metadata": _meta(table)}
                    (out_dir / f"{stem}.meta.json").write_text(json.dumps(sidecar, indent=2))
                else:
                    pq.write_table(table, out_dir / f"{stem}.parquet")
                progress.advance(task)
