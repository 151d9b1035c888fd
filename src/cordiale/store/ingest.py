"""``cordiale ingest``: input files → the store, one file one atomic unit of work.

Pipeline: plan the inputs (skip files already committed unchanged) → parse files in worker processes
(streaming, staging files on disk: the per-work tables as Parquet when new works are kept as parts) →
merge each parsed file into the store, or keep its Parquet files as a part (``parts.py``), within a
transaction → apply merged ids → log the run. A crash loses at most the files in flight; a rerun redoes
exactly those.

Parsing never touches the store, so readers are never kept waiting on it: while the next parsed file is
awaited (one large file may take minutes), the writer polls for a waiting reader; when one comes, it
commits its open group and releases the store until the file is ready to merge (``_CommitGroup.idle``).
A reader waits at most for one file's merge.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from types import ModuleType

import duckdb

from cordiale.errors import InputUnreadableError, UsageError
from cordiale.sources.inputs import InputFile, InputPlan, plan_inputs
from cordiale.store.connection import WriterSession
from cordiale.store.merge import apply_merged_ids, merge_parsed
from cordiale.store.parse_file import ParsedFile, ParseOptions, parse_one, yield_cpu_to_merge
from cordiale.store.parts import collect_garbage, parts_wanted
from cordiale.store.schema import INGESTED_FILES_COLUMNS

# Parsed files waiting for the merge (on disk): enough that workers never wait on the merge.
IN_FLIGHT_PER_WORKER = 3
# Small files share a transaction up to this many works (CORDIALE_COMMIT_WORKS) or seconds.
GROUP_WORKS = 50_000
GROUP_SECONDS = 5.0
# How often the writer looks for waiting readers while a file is being parsed.
IDLE_POLL_SECONDS = 0.02
_BLAS_THREADS = "OPENBLAS_NUM_THREADS"

ProgressFn = Callable[[InputFile, "FileOutcome"], None]


@dataclass
class FileOutcome:
    path: str
    read: int = 0
    stored: int = 0
    rejected: int = 0
    filtered: int = 0
    skipped: bool = False
    error: str | None = None
    samples: list[tuple[int, str]] = field(default_factory=list)
    cut: tuple[int, str] | None = None  # where a truncated or corrupt file stopped being readable


@dataclass
class IngestSummary:
    run_id: str
    files: list[FileOutcome] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    total_bytes: int = 0
    absent_parts: list[str] = field(default_factory=list)  # snapshot works parts listed, not on disk
    reference_complete: bool | None = None  # the store's state after the run (None: the run failed)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def filtered(self) -> int:
        return sum(f.filtered for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def errors(self) -> list[str]:
        return self.missing + [f.error for f in self.files if f.error]


def default_workers() -> int:
    env = os.environ.get("CORDIALE_WORKERS")
    if env:
        if not env.strip().isdigit():
            raise UsageError(f"CORDIALE_WORKERS={env!r} is not a whole number of parse workers")
        return max(1, int(env))
    return max(1, os.cpu_count() or 1)


def plan_bytes(paths: Sequence[Path]) -> int:
    return sum(f.size for f in plan_inputs(list(paths)).files)


def ingest(
    paths: Sequence[Path],
    db_path: Path,
    *,
    workers: int | None = None,
    partial: bool = False,
    institution_filter: Sequence[str] = (),
    force: bool = False,
    source: str = "files",
    on_file: ProgressFn | None = None,
    keep_parts: bool | None = None,
) -> IngestSummary:
    """Ingest ``paths`` into the store at ``db_path``; see the module docstring. ``keep_parts``: keep new
    works' rows as Parquet parts (store/parts.py; None: ``CORDIALE_INGEST_PARTS``)."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: give at least one parse worker")
    plan = plan_inputs(list(paths))
    run_id = uuid.uuid4().hex[:12]
    summary = IngestSummary(run_id=run_id, missing=list(plan.missing), absent_parts=plan.absent_parts)
    summary.total_bytes = sum(f.size for f in plan.files)
    filt = frozenset(institution_filter)

    opts = _RunOptions(run_id, filt, partial, force, source, workers, on_file, parts_wanted(keep_parts))
    # The ingest reads and writes the database's own rows; it keeps the parts' apart (store/parts.py).
    session = WriterSession(db_path, part_views=False)
    try:
        return _run(session, plan, paths, summary, opts)
    finally:
        session.close()


@dataclass(frozen=True)
class _RunOptions:
    run_id: str
    institution_filter: frozenset[str]
    partial: bool
    force: bool
    source: str
    workers: int | None
    on_file: ProgressFn | None
    keep_parts: bool


def _covers(earlier: list[str] | None, now: frozenset[str]) -> bool:
    """Whether a file read under the filter ``earlier`` ([] none; None not recorded) holds every work a
    read under ``now`` would store."""
    if earlier is None:
        return False
    return not earlier or (bool(now) and now <= set(earlier))


def _run(
    session: WriterSession, plan: InputPlan, paths: Sequence[Path], summary: IngestSummary, opts: _RunOptions
) -> IngestSummary:
    run_id, filt = opts.run_id, opts.institution_filter
    started = datetime.now(UTC).replace(tzinfo=None)
    con = session.con
    # A run still `running` was killed (one writer at a time holds the store): say so.
    con.execute("UPDATE ingest_log SET status = 'interrupted' WHERE status = 'running'")
    con.execute(
        "INSERT INTO ingest_log VALUES (?, ?, ?, NULL, ?, ?, NULL, NULL, NULL, NULL, ?, NULL, 'running')",
        [run_id, opts.source, started, [str(p) for p in paths], len(plan.files), sorted(filt)],
    )
    status = "failed"
    try:
        _ingest_files(session, plan, summary, opts)
        summary.reference_complete = _record_snapshots(session, plan)
        status = "done" if not summary.errors else "done with errors"
    finally:
        session.yield_to_readers()
        session.con.execute(
            """UPDATE ingest_log SET finished_at = ?, files_skipped = ?, records_read = ?, records_stored = ?,
               records_rejected = ?, reference_complete = ?, status = ? WHERE run_id = ?""",
            [
                datetime.now(UTC).replace(tzinfo=None),
                summary.skipped,
                summary.read,
                summary.stored,
                summary.rejected,
                summary.reference_complete,
                status,
                run_id,
            ],
        )
    return summary


def _ingest_files(session: WriterSession, plan: InputPlan, summary: IngestSummary, opts: _RunOptions) -> None:
    run_id, filt, on_file = opts.run_id, opts.institution_filter, opts.on_file
    db_path = session.path
    done: dict[str, tuple[int, float, list[str] | None]] = {
        p: (s, m, f)
        for p, s, m, f in session.con.execute(
            "SELECT input_path, size, mtime, institution_filter FROM ingested_files"
        ).fetchall()
    }
    todo: list[InputFile] = []
    # The filter each re-read file will be recorded under: an unchanged file read before under another
    # filter keeps the works of both (the merge only adds and replaces).
    recorded: dict[str, list[str]] = {}
    for item in plan.files:
        key = str(item.path)
        earlier = done.get(key)
        unchanged = earlier is not None and earlier[:2] == (item.size, item.mtime)
        if not opts.force and earlier is not None and unchanged and _covers(earlier[2], filt):
            outcome = FileOutcome(key, skipped=True)
            summary.files.append(outcome)
            if on_file:
                on_file(item, outcome)
            continue
        todo.append(item)
        union = set(filt)
        if filt and unchanged and earlier is not None and earlier[2]:
            union |= set(earlier[2])
        recorded[key] = sorted(union)

    # Folders of parts dissolved by an earlier run (or left by a crash) go now, not when dissolved: a
    # reader that opened the store before that still found its files.
    collect_garbage(session.con, db_path)
    works_files = [f for f in todo if f.kind != "merged_ids"]
    merged_files = [f for f in todo if f.kind == "merged_ids"]
    tmp_root = Path(tempfile.mkdtemp(prefix=".cordiale-ingest-", dir=db_path.parent))
    try:
        group = _CommitGroup(session)
        for parsed in _parse_all(
            works_files,
            tmp_root,
            ParseOptions(opts.partial, filt, opts.keep_parts),
            opts.workers or default_workers(),
            group.idle,
        ):
            outcome = group.merge(parsed, run_id, recorded[str(parsed.input.path)])
            summary.files.append(outcome)
            for path in parsed.tables.values():
                path.unlink(missing_ok=True)
            if on_file:
                on_file(parsed.input, outcome)
        group.commit()
        for item in merged_files:
            outcome = _apply_merged_ids_file(session, item, run_id)
            summary.files.append(outcome)
            if on_file:
                on_file(item, outcome)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    # A file that changed and can no longer be read is no longer "ingested": its earlier record goes.
    failed = [[f.path] for f in summary.files if f.error]
    if failed:
        session.yield_to_readers()
        session.con.executemany("DELETE FROM ingested_files WHERE input_path = ?", failed)


def _apply_merged_ids_file(session: WriterSession, item: InputFile, run_id: str) -> FileOutcome:
    """One merged-ids CSV in its own transaction; a file that cannot be applied is named, not raised."""
    outcome = FileOutcome(str(item.path))
    session.yield_to_readers()
    con = session.con
    con.execute("BEGIN TRANSACTION")
    try:
        removed = apply_merged_ids(con, item.path, session.path)
        con.execute("DELETE FROM ingested_files WHERE input_path = ?", [str(item.path)])
        con.execute(
            f"INSERT INTO ingested_files ({INGESTED_FILES_COLUMNS}) "
            "VALUES (?, ?, ?, ?, 0, ?, 0, now(), [], true, NULL)",
            [str(item.path), item.size, item.mtime, run_id, removed],
        )
    except InputUnreadableError as exc:
        con.execute("ROLLBACK")
        outcome.error = str(exc)
        return outcome
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        outcome.error = f"{item.path}: unreadable merged ids ({str(exc).splitlines()[0]})"
        return outcome
    con.execute("COMMIT")
    return outcome


# Each row: one file of a snapshot the store lacks whole (or a problem of its manifest).
_INCOMPLETE_PARTS = """
SELECT p.input_path, p.problem FROM snapshot_parts p LEFT JOIN ingested_files f ON f.input_path = p.input_path
WHERE p.problem IS NOT NULL OR f.input_path IS NULL
   OR (p.kind = 'works' AND (f.institution_filter IS NULL OR len(f.institution_filter) > 0
                             OR NOT coalesce(f.read_to_end, false)
                             OR (p.record_count IS NOT NULL
                                 AND f.records_read IS DISTINCT FROM p.record_count)))
"""


def _record_snapshots(session: WriterSession, plan: InputPlan) -> bool:
    """Record what each snapshot of this run must bring in whole, and say whether the store holds all of
    it for every snapshot ever ingested: the store's ``reference_complete``."""
    session.yield_to_readers()
    con = session.con
    con.execute("BEGIN TRANSACTION")
    for snap in plan.snapshots:
        con.execute("DELETE FROM snapshot_parts WHERE snapshot = ?", [str(snap.works_dir)])
        con.executemany(
            "INSERT INTO snapshot_parts VALUES (?, ?, ?, ?, ?)",
            [[str(snap.works_dir), str(x.path), x.kind, x.record_count, x.problem] for x in snap.parts],
        )
    con.execute("COMMIT")
    has_snapshot = con.execute("SELECT count(*) FROM snapshot_parts").fetchall()[0][0] > 0
    return bool(has_snapshot) and not con.execute(_INCOMPLETE_PARTS + " LIMIT 1").fetchall()


class _CommitGroup:
    """Merges parsed files into the store, several small files to a transaction.

    Each file is still all-or-nothing (its rows and its ``ingested_files`` row commit together); grouping
    only spares the fixed cost of a commit (the write-ahead log, a checkpoint) on many small files. A
    group commits once it holds ``GROUP_WORKS`` works, has been open ``GROUP_SECONDS``, or a reader is
    waiting; readers are let in between groups and while the next file is parsed (``idle``), so one waits
    for one file's merge at most, never for a parse.
    """

    def __init__(self, session: WriterSession) -> None:
        self.session = session
        self.max_works = int(os.environ.get("CORDIALE_COMMIT_WORKS", GROUP_WORKS))
        self.works = 0
        self.opened_at: float | None = None

    def merge(self, parsed: ParsedFile, run_id: str, recorded_filter: list[str]) -> FileOutcome:
        outcome = FileOutcome(
            str(parsed.input.path),
            read=parsed.read,
            rejected=parsed.rejected,
            filtered=parsed.filtered,
            error=parsed.error,
            samples=parsed.samples,
            cut=parsed.cut,
        )
        if parsed.error:
            return outcome
        if self.opened_at is None:
            self.session.yield_to_readers()
            self.session.con.execute("BEGIN TRANSACTION")
            self.opened_at = time.monotonic()
        try:
            con, path = self.session.con, self.session.path
            outcome.stored = merge_parsed(con, parsed, run_id, recorded_filter, path)
        except BaseException:
            self.session.con.execute("ROLLBACK")
            self.opened_at = None
            raise
        self.works += parsed.works
        if (
            self.works >= self.max_works
            or time.monotonic() - self.opened_at >= GROUP_SECONDS
            or self.session.readers_waiting()
        ):
            self.commit()
        return outcome

    def idle(self) -> None:
        """Called while the next parsed file is awaited: when a reader is waiting, the open group commits
        and the store is released until that file is ready to merge (readers come and go meanwhile); a
        group open ``GROUP_SECONDS`` commits without waiting for a file."""
        if self.session.released:
            return
        if self.session.readers_waiting():
            self.commit()
            self.session.release()
        elif self.opened_at is not None and time.monotonic() - self.opened_at >= GROUP_SECONDS:
            self.commit()

    def commit(self) -> None:
        if self.opened_at is not None:
            self.session.con.execute("COMMIT")
            self.opened_at = None
            self.works = 0


@contextmanager
def _lean_spawn() -> Iterator[None]:
    """While the pool spawns its parse workers: each starts with only what a parse needs.

    A spawned worker imports the parent's ``__main__`` (the ``cordiale`` script, so the whole command
    line: ~0.1 CPU s) unless there is none to import, and numpy's OpenBLAS starts a thread per core that
    spins for a while (~0.1 CPU s) unless told to use one; a worker does no linear algebra. Both are
    undone as soon as the workers are started.
    """
    main = sys.modules["__main__"]
    blas = os.environ.get(_BLAS_THREADS)
    sys.modules["__main__"] = ModuleType("__main__")
    os.environ[_BLAS_THREADS] = "1"
    try:
        yield
    finally:
        sys.modules["__main__"] = main
        if blas is None:
            os.environ.pop(_BLAS_THREADS, None)
        else:
            os.environ[_BLAS_THREADS] = blas


def _parse_all(
    files: list[InputFile],
    tmp_root: Path,
    opts: ParseOptions,
    workers: int,
    idle: Callable[[], None],
) -> Iterator[ParsedFile]:
    """Yield parsed files as they complete, calling ``idle`` every ``IDLE_POLL_SECONDS`` while none is
    ready. One worker (or one file): parsed one after another in a thread of this process."""
    if workers <= 1 or len(files) <= 1:
        for i, item in enumerate(files):
            yield from _await({_in_thread(parse_one, item, tmp_root / str(i), opts)}, idle)
        return
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=yield_cpu_to_merge) as pool:
        pending: set[Future[ParsedFile]] = set()
        queue = list(enumerate(files))
        queue.reverse()
        started = False
        while queue or pending:
            with contextlib.nullcontext() if started else _lean_spawn():
                while queue and len(pending) < IN_FLIGHT_PER_WORKER * workers:
                    i, item = queue.pop()
                    pending.add(pool.submit(parse_one, item, tmp_root / str(i), opts))
            started = True  # the pool spawns its workers at the first submits (all of them, here)
            finished, pending = _first_done(pending, idle)
            for fut in finished:
                yield fut.result()


def _first_done(
    pending: set[Future[ParsedFile]], idle: Callable[[], None]
) -> tuple[set[Future[ParsedFile]], set[Future[ParsedFile]]]:
    """Wait for at least one of ``pending`` to finish, calling ``idle`` at each poll that finds none."""
    while True:
        finished, rest = wait(pending, timeout=IDLE_POLL_SECONDS, return_when=FIRST_COMPLETED)
        if finished:
            return finished, rest
        idle()


def _await(pending: set[Future[ParsedFile]], idle: Callable[[], None]) -> Iterator[ParsedFile]:
    while pending:
        finished, pending = _first_done(pending, idle)
        for fut in finished:
            yield fut.result()


def _in_thread(
    fn: Callable[[InputFile, Path, ParseOptions], ParsedFile],
    item: InputFile,
    out_dir: Path,
    opts: ParseOptions,
) -> Future[ParsedFile]:
    """Run one parse in a daemon thread (an interrupted ingest does not wait for it to end)."""
    fut: Future[ParsedFile] = Future()

    def run() -> None:
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(item, out_dir, opts))
        except BaseException as exc:  # handed to the caller through the future
            fut.set_exception(exc)

    threading.Thread(target=run, name=f"cordiale-parse-{item.path.name}", daemon=True).start()
    return fut
