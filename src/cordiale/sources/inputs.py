"""Finding the input files: a snapshot directory, plain JSON Lines (gzipped or not), or Parquet.

One input file is one unit of work. A snapshot directory is recognised by its ``manifest.json`` and
``updated_date=YYYY-MM-DD/part_NNNN.gz`` partitions; its ``merged_ids/works/*.csv.gz`` files are applied
after the works. Anything else is walked for ``.jsonl``, ``.jsonl.gz``, ``.json.gz``, ``.gz`` and
``.parquet`` files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cordiale.errors import InputUnreadableError

EXPORT_MANIFEST = "cordiale_export.json"  # a folder written by `cordiale export`
_PARTITION = re.compile(r"updated_date=(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class InputFile:
    """One file to ingest."""

    path: Path
    kind: str  # jsonl / jsonl.gz / parquet / merged_ids / cordiale_export
    size: int
    mtime: float
    partition: str | None = None  # the snapshot's updated_date folder, when any


@dataclass(frozen=True)
class SnapshotPart:
    """One file a snapshot must bring into the store whole (see ``snapshot_parts`` in the schema)."""

    path: Path  # absolute; the manifest itself when ``problem`` is set
    kind: str  # works / merged_ids / manifest
    record_count: int | None = None
    problem: str | None = None


@dataclass
class SnapshotExpect:
    """What one snapshot folder's manifest (and merged-ids folder) says the store must hold."""

    works_dir: Path
    parts: list[SnapshotPart] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # works parts the manifest lists, not on disk


@dataclass
class InputPlan:
    """What a set of paths expands to."""

    files: list[InputFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # named paths that do not exist / cannot be read
    snapshot_dirs: list[Path] = field(default_factory=list)
    snapshots: list[SnapshotExpect] = field(default_factory=list)
    manifest_complete: bool = False  # every manifest entry of every snapshot dir was found

    @property
    def absent_parts(self) -> list[str]:
        return [a for s in self.snapshots for a in s.absent]


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl.gz", ".json.gz", ".ndjson.gz")) or (name.endswith(".gz") and "csv" not in name):
        return "jsonl.gz"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return None


def _input(path: Path, kind: str) -> InputFile:
    st = path.stat()
    m = _PARTITION.search(str(path))
    return InputFile(path.resolve(), kind, st.st_size, st.st_mtime, m.group(1) if m else None)


def _works_dir(root: Path) -> Path | None:
    """The folder holding the works partitions inside a snapshot layout, if ``root`` is one."""
    # The 2026 layout has two complete copies, data/jsonl/ and data/parquet/: JSON Lines is read when both
    # are there; point at data/parquet to read the Parquet copy.
    for candidate in (
        root,
        root / "works",
        root / "data" / "jsonl" / "works",
        root / "data" / "parquet" / "works",
        root / "jsonl" / "works",
        root / "parquet" / "works",
        root / "data" / "works",
    ):
        if (candidate / "manifest.json").is_file() or any(candidate.glob("updated_date=*")):
            return candidate
    return None


def _merged_ids_dir(root: Path, works_dir: Path) -> Path | None:
    for candidate in (
        root / "merged_ids" / "works",
        root / "data" / "merged_ids" / "works",
        root / "legacy-data" / "merged_ids" / "works",
        works_dir.parent / "merged_ids" / "works",
        works_dir.parent.parent / "merged_ids" / "works",
    ):
        if candidate.is_dir():
            return candidate
    return None


def _manifest_file(works_dir: Path) -> Path | None:
    """The works folder's own manifest, or the format's combined one (2026 layout:
    ``data/jsonl/manifest.json`` lists every entity; only ``/works/`` entries count here)."""
    for manifest in (works_dir / "manifest.json", works_dir.parent / "manifest.json"):
        if manifest.is_file():
            return manifest
    return None


def manifest_parts(manifest: Path) -> dict[str, int | None]:
    """The works part files a manifest lists (``updated_date=…/part_…``) with their record counts (None
    when not given); InputUnreadableError naming the file and what is wrong when it is malformed."""
    try:
        data = json.loads(manifest.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputUnreadableError(f"{manifest}: unreadable snapshot manifest ({exc})") from exc
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputUnreadableError(f"{manifest}: snapshot manifest without an `entries` list")
    out: dict[str, int | None] = {}
    for i, entry in enumerate(entries):
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            raise InputUnreadableError(f"{manifest}: entries[{i}].url is not a text URL ({url!r})")
        m = _PARTITION.search(url)
        if not (m and "/works/" in url):
            continue
        meta = entry.get("meta")
        count = meta.get("record_count") if isinstance(meta, dict) else None
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise InputUnreadableError(
                f"{manifest}: entries[{i}].meta.record_count is not a record count ({count!r})"
            )
        out[f"updated_date={m.group(1)}/{url.rsplit('/', 1)[-1]}"] = count
    return out


def _expect(works_dir: Path, found: set[str], merged: list[Path], errors: list[str]) -> SnapshotExpect:
    """What the store must hold for this snapshot to make it reference-complete (see SnapshotPart)."""
    expect = SnapshotExpect(works_dir.resolve())
    expect.parts.extend(SnapshotPart(f.resolve(), "merged_ids") for f in merged)
    manifest = _manifest_file(works_dir)
    if manifest is None:
        problem = "no manifest.json: which parts make the snapshot whole is unknown"
        expect.parts.append(SnapshotPart((works_dir / "manifest.json").resolve(), "manifest", None, problem))
        return expect
    try:
        listed = manifest_parts(manifest)
    except InputUnreadableError as exc:
        errors.append(str(exc))
        expect.parts.append(SnapshotPart(manifest.resolve(), "manifest", None, str(exc)))
        return expect
    if not listed:
        problem = f"{manifest}: the manifest lists no works parts"
        expect.parts.append(SnapshotPart(manifest.resolve(), "manifest", None, problem))
        return expect
    for name, count in sorted(listed.items()):
        expect.parts.append(SnapshotPart((works_dir / name).resolve(), "works", count))
        if name not in found:
            expect.absent.append(str(works_dir / name))
    return expect


def plan_inputs(paths: list[Path]) -> InputPlan:
    """Expand user paths into input files, in a stable order (partitions by date, then part)."""
    plan = InputPlan()
    complete: list[bool] = []
    for p in paths:
        if not p.exists():
            plan.missing.append(f"{p}: no such file or directory")
            continue
        if p.is_dir() and (p / EXPORT_MANIFEST).is_file():
            st = (p / EXPORT_MANIFEST).stat()
            size = sum(f.stat().st_size for f in p.glob("*.parquet"))
            plan.files.append(InputFile(p.resolve(), "cordiale_export", size, st.st_mtime))
            continue
        if p.is_dir():
            works_dir = _works_dir(p)
            if works_dir is not None:
                plan.snapshot_dirs.append(p)
                parts = sorted(works_dir.glob("updated_date=*/*.gz"))
                plan.files.extend(_input(f, "jsonl.gz") for f in parts)
                plan.files.extend(
                    _input(f, "parquet") for f in sorted(works_dir.glob("updated_date=*/*.parquet"))
                )
                found = {
                    f"{f.parent.name}/{f.name}" for f in (*parts, *works_dir.glob("updated_date=*/*.parquet"))
                }
                merged_dir = _merged_ids_dir(p, works_dir)
                merged = sorted(merged_dir.glob("*.csv*")) if merged_dir is not None else []
                plan.files.extend(_input(f, "merged_ids") for f in merged)
                expect = _expect(works_dir, found, merged, plan.missing)
                plan.snapshots.append(expect)
                complete.append(not expect.absent and all(x.problem is None for x in expect.parts))
                continue
            for f in sorted(p.rglob("*")):
                kind = _kind(f)
                if f.is_file() and kind:
                    plan.files.append(_input(f, kind))
            continue
        kind = _kind(p)
        if kind is None:
            plan.missing.append(f"{p}: not a JSON Lines (.jsonl, .jsonl.gz) or Parquet file")
            continue
        plan.files.append(_input(p, kind))
    plan.manifest_complete = bool(complete) and all(complete)
    # merged ids apply after every works file
    plan.files.sort(key=lambda f: f.kind == "merged_ids")
    return plan
