"""``cordiale sdg``: classify texts against the 17 SDGs, and score the store's works."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cordiale.cli.common import DbOption, count_progress, err, handle_errors, notice, out
from cordiale.config import store_path
from cordiale.errors import InputUnreadableError, UsageError

sdg_app = typer.Typer(help="SDG mapping: classify texts, score the store's works.", no_args_is_help=True)

BATCH = 256
COUNT_NOTE = "a work counts once under each SDG it is assigned (a work may count under several SDGs)"


class BadLine(ValueError):
    """A line that cannot be classified; ``rid`` is the id it gave when it parsed as a JSON object."""

    def __init__(self, message: str, rid: Any = None) -> None:
        super().__init__(message)
        self.rid = rid


def _parse_line(raw: str) -> tuple[Any, Any]:
    """(id, WorkText) from one JSON line, or raise BadLine naming the field.

    Takes ``text``, or ``title`` and ``abstract``; a raw OpenAlex work also works: its ``display_name``
    stands for a missing title and its ``abstract_inverted_index`` is rebuilt into the abstract."""
    from cordiale.sdg.text import WorkText, abstract_from_inverted_index

    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise BadLine(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    rid = obj.get("id")
    fields = {k: obj.get(k) for k in ("text", "title", "abstract", "display_name")}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise BadLine(f"field {name!r} is not a string", rid)
    index = obj.get("abstract_inverted_index")
    if index is not None and not isinstance(index, dict):
        raise BadLine("field 'abstract_inverted_index' is not an object", rid)
    if fields["text"] is not None:
        return rid, WorkText("", fields["text"])
    title = fields["title"] if fields["title"] is not None else fields["display_name"]
    abstract = fields["abstract"] if fields["abstract"] is not None else None
    if abstract is None and index is not None:
        abstract = abstract_from_inverted_index(index)
    if title is None and abstract is None:
        raise BadLine("no 'text' (or 'title' / 'abstract', or an OpenAlex work's fields) field", rid)
    return rid, WorkText(title or "", abstract or "")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is not part of line 1
        fh = sys.stdin if str(path) == "-" else path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputUnreadableError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        for n, line in enumerate(fh, start=1):
            if n == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                yield n, line
    except UnicodeDecodeError as exc:
        raise InputUnreadableError(f"{path}: not UTF-8 text ({exc.reason})") from None
    finally:
        if fh is not sys.stdin:
            fh.close()


def _classify_file(path: Path) -> tuple[int, int]:
    """Write one JSON line per input line; returns (malformed lines, non-blank lines)."""
    from cordiale.sdg.classify import classify_texts

    bad = total = 0
    batch: list[tuple[int, Any, Any]] = []

    def flush() -> None:
        results = classify_texts([w for _, _, w in batch])
        for (_, rid, _), res in zip(batch, results, strict=True):
            sys.stdout.write(json.dumps({"id": rid, **res.as_json()}, ensure_ascii=False) + "\n")
        batch.clear()

    with count_progress(transient=True) as progress:
        task = progress.add_task("sdg classify", total=None)
        for n, raw in _lines(path):
            total += 1
            try:
                rid, work = _parse_line(raw)
            except BadLine as exc:
                if batch:
                    flush()
                bad += 1
                err.print(f"{path}:{n}: {exc}", highlight=False, markup=False)
                error = {"id": exc.rid, "line": n, "status": "error", "error": str(exc)}
                sys.stdout.write(json.dumps(error) + "\n")
                continue
            batch.append((n, rid, work))
            if len(batch) >= BATCH:
                flush()
            progress.update(task, advance=1)
        if batch:
            flush()
    sys.stdout.flush()
    return bad, total


def _un_text_label(label: str) -> str:
    """``6`` is the UN goal text, ``6.1`` a target text."""
    return f"UN target {label}" if "." in label else f"UN goal {label}"


def _print_result(res: Any, fmt: str) -> None:
    if fmt == "json":
        out.print_json(json.dumps(res.as_json(), ensure_ascii=False))
        return
    if res.status == "no text":
        notice("no text: nothing to classify (no SDG assigned)")
        return
    table = Table(
        title=f"SDGs ({res.status}, language {res.language or 'unknown'}, path {res.path})",
        title_justify="left",
    )
    for col in ("SDG", "score", "assigned", "why"):
        table.add_column(col, justify="right" if col in ("SDG", "score") else "left", overflow="fold")
    order = sorted(range(17), key=lambda s: -res.scores[s])
    for s in order[:5]:
        why = "; ".join(
            f"query {r['target']}: {r['matched']}"
            if r["layer"] == "query"
            else f"{_un_text_label(str(r['target']))} (cosine {r['cosine']})"
            for r in res.reasons.get(str(s + 1), [])
        )
        held = res.held_back.get(str(s + 1))
        if held:
            why = held
        assigned = "yes" if s + 1 in res.sdgs else ("held back" if held else "")
        table.add_row(str(s + 1), f"{res.scores[s]:.3f}", assigned, why)
    out.print(table)
    if not res.sdgs:
        notice("no SDG assigned to this text")


@sdg_app.command("classify")
@handle_errors
def classify_command(
    text: Annotated[str | None, typer.Argument(help="The text to classify (title and abstract).")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="JSON Lines with id and text (or title and abstract); - = stdin."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table or json, for a single TEXT (default table); --file always writes JSON Lines.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Classify a text, or every line of a JSON Lines file (one JSON line out per line in)."""
    from cordiale.sdg.classify import classify

    if (text is None) == (file is None):
        raise UsageError("give either a TEXT or --file IN.jsonl")
    if fmt not in (None, "table", "json"):
        raise UsageError(f"--format {fmt}: use table or json")
    if file is not None:
        if fmt == "table":
            raise UsageError("--format table is for a single TEXT: --file writes JSON Lines")
        if str(file) != "-":
            if file.is_dir():
                raise InputUnreadableError(f"{file} is a directory: give a JSON Lines file")
            if not file.is_file():
                raise InputUnreadableError(f"no such file: {file}")
        # Like ``ingest`` (bad records quarantined, exit 0): a malformed line is answered, not fatal. Each
        # gets an error line in the output and its reason on stderr, with a count; exit 0. Only a file
        # that cannot be read at all (missing, not UTF-8) exits non-zero.
        bad, total = _classify_file(file)
        if not total:
            notice(f"{file} holds no lines: nothing to classify")
        if bad:
            notice(f"{bad} of {total} line(s) in {file} malformed: each got an error line in the output")
        return
    _print_result(classify(text or ""), fmt or "table")


@sdg_app.command("score")
@handle_errors
def score_command(
    db: DbOption = None,
    institutions: Annotated[
        str | None, typer.Option(help="Score these institutions' works (comma-separated; lineage counts).")
    ] = None,
    all_works: Annotated[bool, typer.Option("--all", help="Score every work in the store.")] = False,
) -> None:
    """Score works into the store's ``sdg_scores`` table (only works whose text changed)."""
    from cordiale.sdg.store import score_store
    from cordiale.store.connection import reader

    if institutions and all_works:
        raise UsageError("give --institutions or --all, not both")
    db_path = store_path(db)
    # Every usage and store check runs before the progress bar is drawn.
    ids = _scope(db_path, institutions, all_works)
    with count_progress() as progress:
        task = progress.add_task("sdg score", total=None)
        summary = score_store(
            db_path,
            ids,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    table = Table(title=f"SDG scores in {db_path} (model {summary.model_version})", title_justify="left")
    table.caption = (
        "works: in scope · scored now / unchanged: this run · "
        "no text, title only, with an SDG: every work in scope"
    )
    table.caption_justify = "left"
    for col in ("works", "scored now", "unchanged", "no text", "title only", "with an SDG"):
        table.add_column(col, justify="right")
    table.add_row(
        *(
            f"{v:,}"
            for v in (
                summary.candidates,
                summary.scored,
                summary.unchanged,
                summary.no_text,
                summary.title_only,
                summary.assigned,
            )
        )
    )
    err.print(table)
    with reader(db_path) as con:
        rows = con.execute(
            "SELECT sdg, count(*) FILTER (WHERE assigned) FROM sdg_scores GROUP BY sdg ORDER BY sdg"
        ).fetchall()
    per = Table(title="works per SDG (every scored work in the store)", title_justify="left")
    per.add_column("SDG", justify="right")
    per.add_column("works", justify="right")
    for sdg, n in rows:
        per.add_row(str(sdg), f"{n:,}")
    out.print(per)
    notice(COUNT_NOTE)


def _scope(db_path: Path, institutions: str | None, all_works: bool) -> list[str] | None:
    """The institutions whose works are scored (None = every work), checked before any scoring: the store
    exists and holds works, ``--institutions`` resolve, or the store records partners asked about."""
    from cordiale.sdg.store import asked_partners
    from cordiale.store.connection import reader, require_rows

    with reader(db_path) as con:
        require_rows(con, db_path, ("works",), "run `cordiale ingest FILES…` first")
        if institutions is not None:
            return _institution_ids(con, institutions)
        if all_works:
            return None
        asked = asked_partners(con)
    if not asked:
        raise UsageError(
            "no partner institution recorded in the store: name them with --institutions A,B "
            "(or score every work with --all)"
        )
    return asked


def _institution_ids(con: Any, text: str) -> list[str]:
    """``--institutions``: OpenAlex ids, ROR ids or names, as ``cordiale pair`` takes them; each must have
    works in the store (directly or through lineage), else exit 3.

    Names may hold commas ("China University of Petroleum, Beijing"): from each position the longest run of
    comma-separated pieces that resolves to one institution is taken (the whole text first), so the
    text is split on a comma only where the pieces on both sides resolve on their own."""
    from cordiale.errors import InstitutionError
    from cordiale.resolve import Institution, resolve_institution

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError("--institutions: give at least one institution")
    resolved: list[tuple[str, Institution]] = []
    i = 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            name = ", ".join(parts[i:j])
            if j > i + 1:
                try:
                    resolved.append((name, resolve_institution(con, name)))
                except InstitutionError:
                    continue
            else:  # a single piece: its error (unknown, ambiguous) is the answer
                resolved.append((name, resolve_institution(con, name)))
            i = j
            break
    ids: list[str] = []
    for part, inst in resolved:
        found = con.execute(
            "SELECT 1 FROM authorship_institutions ai JOIN institutions i ON i.id = ai.institution_id "
            "WHERE ai.institution_id = ? OR list_contains(i.lineage, ?) LIMIT 1",
            [inst.id, inst.id],
        ).fetchall()
        if not found:
            raise InstitutionError(f"--institutions: the store holds no works of {part} ({inst.id})")
        ids.append(inst.id)
    return ids
