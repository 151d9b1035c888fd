"""What an observatory question is: partners, roll-up rule, document types, years, event, thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from cordiale.errors import UsageError

# The same default as `cordiale pair` (indicators.pair.DEFAULT_TYPES; a test keeps them equal; not
# imported from there because cordiale.indicators re-exports this module).
DEFAULT_TYPES: tuple[str, ...] = ("article", "review", "book-chapter", "book")
RULES = ("direct", "lineage", "ror")
FAMILIES = (
    "summary",
    "growth",
    "fields",
    "impact",
    "oa",
    "collab",
    "people",
    "third-parties",
    "funders",
    "sdg",
)
SDG_SOURCES = ("openalex", "cordiale")


@dataclass(frozen=True)
class ObsQuery:
    """One observatory question. ``partners`` are short OpenAlex institution ids, two or more."""

    partners: tuple[str, ...]
    rule: str = "lineage"
    types: tuple[str, ...] = DEFAULT_TYPES
    years: tuple[int, int] | None = None
    include_retracted: bool = False
    event: int | None = None
    window: int = 5  # k: years before the event in the first growth window (k <= 5)
    strong: float = 1.2  # activity index at or above: strong
    weak: float = 0.8  # activity index at or below: weak
    resamples: int = 1000
    seed: int = 20260101
    sdg_source: str = "openalex"
    top_pairs: int = 50  # co-author pairs listed
    field: str | None = None  # only works whose primary topic is in this field (e.g. "fields/22")
    sdg: int | None = None  # only works assigned this SDG by ``sdg_source``

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise UsageError(f"--rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if len(self.partners) < 2 or len(set(self.partners)) != len(self.partners):
            raise UsageError("a partnership needs two or more different institutions")
        if not 1 <= self.window <= 5:
            raise UsageError(f"--window must be between 1 and 5 years, not {self.window}")
        if not self.weak < 1 < self.strong:
            raise UsageError("activity thresholds must satisfy weak < 1 < strong")
        if self.sdg_source not in SDG_SOURCES:
            raise UsageError(f"--sdg-source must be openalex or cordiale, not {self.sdg_source!r}")
        if self.resamples < 1:
            raise UsageError("--resamples must be at least 1")
        if self.sdg is not None and not 1 <= self.sdg <= 17:
            raise UsageError(f"--sdg must be a goal from 1 to 17, not {self.sdg}")

    @property
    def groups(self) -> list[tuple[str, tuple[int, ...]]]:
        """The joint groups: ``all`` (at least two partners), then each pair when there are more than two."""
        idx = tuple(range(len(self.partners)))
        out: list[tuple[str, tuple[int, ...]]] = [("all", idx)]
        if len(self.partners) > 2:
            for i, j in combinations(idx, 2):
                out.append((f"{self.partners[i]}+{self.partners[j]}", (i, j)))
        return out


def lit(value: str) -> str:
    """A SQL string literal (quotes doubled); every value we inline goes through here."""
    return "'" + value.replace("'", "''") + "'"


def lit_list(values: Iterable[str]) -> str:
    return ", ".join(lit(v) for v in values)


def values_table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[object]]) -> str:
    """A typed inline table as a SELECT (portable across DuckDB and Spark; empty tables allowed).

    ``columns`` are (name, SQL type); values are str, int, float, bool or None.
    """

    def cell(v: object, typ: str) -> str:
        if v is None:
            return f"CAST(NULL AS {typ})"
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, int | float):
            return f"CAST({v!r} AS {typ})"
        return f"CAST({lit(str(v))} AS {typ})"

    if not rows:
        sel = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns)
        return f"SELECT {sel} FROM (SELECT 1 AS one) AS empty_rows WHERE 1 = 0"
    names = ", ".join(n for n, _ in columns)
    body = ",\n".join(
        "(" + ", ".join(cell(v, t) for v, (_, t) in zip(row, columns, strict=True)) + ")" for row in rows
    )
    return f"SELECT * FROM (VALUES {body}) AS inline_rows({names})"
