"""``curation.toml``: a versioned file of overrides applied at the per-work step.

Four kinds of override, each a TOML array of tables::

    version = "2026-11-30"                 # required; echoed in every output's metadata

    [[institution]]                        # add or remove an institution on a work or one authorship
    action = "add"                         # add | remove
    work = "W4400255569"
    institution = "I1294671590"
    position = 3                           # optional: 0-based authorship; without it, the whole work

    [[merge_authors]]                      # several author ids are one person
    into = "A5023888391"
    ids = ["A5100000001"]

    [[affiliation]]                        # raw affiliation strings matching a regex get these institutions
    pattern = "(?i)joint (lab|laboratory) x"
    institutions = ["I1294671590", "I47508984"]

The file is decoded with msgspec, so an error names the field (``$.institution[0].work``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import msgspec

from cordiale.errors import InputUnreadableError, UsageError
from cordiale.ids import short_openalex_id


class InstitutionOverride(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["add", "remove"]
    work: str
    institution: str
    position: int | None = None


class AuthorMerge(msgspec.Struct, forbid_unknown_fields=True):
    into: str
    ids: list[str]


class AffiliationRule(msgspec.Struct, forbid_unknown_fields=True):
    pattern: str
    institutions: list[str]


class CurationFile(msgspec.Struct, forbid_unknown_fields=True):
    version: str
    institution: list[InstitutionOverride] = msgspec.field(default_factory=list)
    merge_authors: list[AuthorMerge] = msgspec.field(default_factory=list)
    affiliation: list[AffiliationRule] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Curation:
    """Overrides in the shape the pipeline's inline tables need."""

    version: str
    path: str
    adds: tuple[tuple[str, int, str], ...]  # (work, position or -1 for the whole work, institution)
    removes: tuple[tuple[str, int, str], ...]
    author_map: tuple[tuple[str, str], ...]  # (from id, into id)
    patterns: tuple[tuple[str, str], ...]  # (regex, institution)
    # Where each id and pattern came from (``$.institution[0].work`` …), for the store checks
    # (``cordiale.observatory.curation_checks``): (field, institution id) …
    institution_refs: tuple[tuple[str, str], ...] = ()
    work_refs: tuple[tuple[str, str, int], ...] = ()  # (entry, work, position or -1)
    author_refs: tuple[tuple[str, str], ...] = ()  # (field, author id)
    pattern_refs: tuple[tuple[str, str], ...] = ()  # (field, regex)

    @property
    def size(self) -> int:
        return len(self.adds) + len(self.removes) + len(self.author_map) + len(self.patterns)


EMPTY = Curation(version="", path="", adds=(), removes=(), author_map=(), patterns=())


def _short(kind: str, value: str, where: str, path: Path) -> str:
    sid = short_openalex_id(value)
    if not sid or not sid.startswith(kind):
        raise UsageError(f"{path}: {where}: {value!r} is not an OpenAlex {kind}… id")
    return sid


# Syntax Python and Java accept but RE2 (DuckDB) does not, or that Java reads otherwise than RE2: the
# engines must run one pattern the same way, so these are refused before either runs it.
_NOT_SHARED = (
    (re.compile(r"\(\?<?[=!]"), "lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`) are not RE2 syntax"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\([1-9]|k<)"), "backreferences (`\\1`, `\\k<name>`) are not RE2 syntax"),
    (re.compile(r"\(\?P"), "`(?P…)` named groups are not Java syntax: use a plain group"),
    (re.compile(r"\[\[:"), "POSIX classes (`[[:alpha:]]`) are not Java syntax: use `\\p{Alpha}` or a range"),
)


def check_pattern(pattern: str, where: str) -> None:
    """Refuse a pattern that both engines would not run alike: invalid for Python, syntax outside the
    shared subset of RE2 and Java, or rejected by DuckDB's RE2 itself (e.g. ``\\Z``)."""
    for found, why in _NOT_SHARED:
        if found.search(pattern):
            raise UsageError(f"{where}: {pattern!r}: {why} (use the shared subset of RE2 and Java syntax)")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{where} is not a valid regex: {exc}") from exc
    con = duckdb.connect()
    try:
        row = con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchone()
    except duckdb.Error as exc:
        reason = str(exc).split("Error: ", 1)[-1]
        raise UsageError(f"{where}: {pattern!r} is not valid RE2 syntax (DuckDB): {reason}") from exc
    finally:
        con.close()
    if row and row[0]:  # "" or "x*": found in every string, so it would tag every affiliation
        raise UsageError(
            f"{where}: {pattern!r} matches the empty text, so it would match every affiliation: "
            "give a pattern that needs at least one character"
        )


def load_curation(path: Path) -> Curation:
    """Read and validate a curation file; errors name the file and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputUnreadableError(f"cannot read the curation file {path}: {exc.strerror}") from exc
    try:
        doc = msgspec.toml.decode(raw, type=CurationFile)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{path}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from exc
    institution_refs: list[tuple[str, str]] = []
    work_refs: list[tuple[str, str, int]] = []
    author_refs: list[tuple[str, str]] = []
    pattern_refs: list[tuple[str, str]] = []
    adds: list[tuple[str, int, str]] = []
    removes: list[tuple[str, int, str]] = []
    for i, o in enumerate(doc.institution):
        where = f"$.institution[{i}]"
        if o.position is not None and o.position < 0:
            raise UsageError(f"{path}: {where}.position must be 0 or more")
        row = (
            _short("W", o.work, f"{where}.work", path),
            -1 if o.position is None else o.position,
            _short("I", o.institution, f"{where}.institution", path),
        )
        (adds if o.action == "add" else removes).append(row)
        institution_refs.append((f"{where}.institution", row[2]))
        work_refs.append((where, row[0], row[1]))
    author_map: list[tuple[str, str]] = []
    for i, m in enumerate(doc.merge_authors):
        into = _short("A", m.into, f"$.merge_authors[{i}].into", path)
        for j, a in enumerate(m.ids):
            author_map.append((_short("A", a, f"$.merge_authors[{i}].ids[{j}]", path), into))
            author_refs.append((f"$.merge_authors[{i}].ids[{j}]", author_map[-1][0]))
    patterns: list[tuple[str, str]] = []
    for i, r in enumerate(doc.affiliation):
        check_pattern(r.pattern, f"{path}: $.affiliation[{i}].pattern")
        pattern_refs.append((f"$.affiliation[{i}].pattern", r.pattern))
        for j, inst in enumerate(r.institutions):
            patterns.append((r.pattern, _short("I", inst, f"$.affiliation[{i}].institutions[{j}]", path)))
            institution_refs.append((f"$.affiliation[{i}].institutions[{j}]", patterns[-1][1]))
    return Curation(
        version=doc.version,
        path=str(path),
        adds=tuple(adds),
        removes=tuple(removes),
        author_map=tuple(author_map),
        patterns=tuple(patterns),
        institution_refs=tuple(institution_refs),
        work_refs=tuple(work_refs),
        author_refs=tuple(author_refs),
        pattern_refs=tuple(pattern_refs),
    )
