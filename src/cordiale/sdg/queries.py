"""The query layer: our own phrase, wildcard and proximity queries per SDG target (``data/queries.toml``).

A term is a word or a phrase; a word ending in ``*`` matches any word it begins. Each query has English
terms (``any``, ``near``) and their French translations (``any_fr``, ``near_fr``), matched alike. A query
matches when one of its ``any`` terms occurs, and, when it has ``near`` terms, one of those starts within
``within`` words (at another word: a word never stands near itself).
Matching runs on folded word tokens (lower case, no accents), through two position indexes built once per
text (word → positions, prefix → positions), so each term costs one dictionary look-up; only the queries
one of whose terms starts with a word of the text are tried.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from cordiale.sdg.text import words

N_SDGS = 17
MAX_PREFIX = 16


@dataclass(frozen=True)
class Term:
    """One term: a sequence of words, each exact or a prefix (``*``)."""

    parts: tuple[tuple[str, bool], ...]  # (word, is_prefix)
    source: str
    first: str = field(init=False, repr=False, compare=False)
    first_is_prefix: bool = field(init=False, repr=False, compare=False)
    rest: tuple[tuple[str, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # split once here: ``TextIndex.find`` runs for every candidate term of every text
        object.__setattr__(self, "first", self.parts[0][0])
        object.__setattr__(self, "first_is_prefix", self.parts[0][1])
        object.__setattr__(self, "rest", self.parts[1:])


@dataclass(frozen=True)
class Query:
    sdg: int
    target: str
    any: tuple[Term, ...]
    near: tuple[Term, ...]
    within: int

    @property
    def label(self) -> str:
        return f"query {self.target}"


@dataclass(frozen=True)
class QueryHit:
    """One query that matched, with the words that made it match."""

    sdg: int
    target: str
    matched: str


def parse_term(source: str) -> Term:
    parts: list[tuple[str, bool]] = []
    for raw in source.split():
        is_prefix = raw.endswith("*")
        toks = words(raw.rstrip("*"))
        for i, tok in enumerate(toks):
            parts.append((tok[:MAX_PREFIX] if is_prefix else tok, is_prefix and i == len(toks) - 1))
    if not parts:
        raise ValueError(f"empty query term {source!r}")
    return Term(tuple(parts), source)


@lru_cache(maxsize=1)
def load_queries() -> tuple[Query, ...]:
    """The shipped queries, in file order."""
    text = resources.files("cordiale.sdg").joinpath("data/queries.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    out: list[Query] = []
    for sdg in range(1, N_SDGS + 1):
        for entry in data.get(f"sdg{sdg}", []):
            out.append(
                Query(
                    sdg=sdg,
                    target=str(entry["target"]),
                    any=tuple(parse_term(t) for t in (*entry["any"], *entry.get("any_fr", []))),
                    near=tuple(parse_term(t) for t in (*entry.get("near", []), *entry.get("near_fr", []))),
                    within=int(entry.get("within", 8)),
                )
            )
    return tuple(out)


class Wildcards:
    """The wildcard words of the shipped queries: only those prefixes are indexed. Which of them a word
    begins with is remembered per word (texts share most of their vocabulary)."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.wanted = frozenset(prefixes)
        self.lengths = tuple(sorted({len(w) for w in self.wanted}))
        self._seen: dict[str, tuple[str, ...]] = {}

    def of(self, token: str) -> tuple[str, ...]:
        """The wanted prefixes that ``token`` begins with."""
        found = self._seen.get(token)
        if found is None:
            found = tuple(token[:k] for k in self.lengths if k <= len(token) and token[:k] in self.wanted)
            if len(self._seen) < 200_000:
                self._seen[token] = found
        return found


def _all_prefixes(token: str) -> Iterable[str]:
    return (token[:k] for k in range(1, min(len(token), MAX_PREFIX) + 1))


class TextIndex:
    """Where each word, and each word prefix, occurs in one text.

    ``prefixes_of`` gives the prefixes to index for a word (default: every prefix up to ``MAX_PREFIX``
    letters; the query layer passes ``Wildcards.of``, its own wildcard words only)."""

    def __init__(self, tokens: list[str], prefixes_of: Callable[[str], Iterable[str]] | None = None) -> None:
        self.tokens = tokens
        exact: dict[str, list[int]] = defaultdict(list)
        for pos, tok in enumerate(tokens):
            exact[tok].append(pos)
        prefix: dict[str, list[int]] = defaultdict(list)
        of = prefixes_of or _all_prefixes
        for tok, positions in exact.items():
            for p in of(tok):
                prefix[p].extend(positions)
        for positions in prefix.values():
            positions.sort()
        self.exact = exact
        self.prefix = prefix

    def _word_at(self, pos: int, word: str, is_prefix: bool) -> bool:
        if pos >= len(self.tokens):
            return False
        tok = self.tokens[pos]
        return tok.startswith(word) if is_prefix else tok == word

    def find(self, term: Term) -> list[int]:
        """Start positions of the term in the text (do not modify the list returned)."""
        starts = (self.prefix if term.first_is_prefix else self.exact).get(term.first, [])
        if not term.rest or not starts:
            return starts
        rest = tuple(enumerate(term.rest, start=1))
        return [s for s in starts if all(self._word_at(s + i, w, p) for i, (w, p) in rest)]


def match_query(index: TextIndex, query: Query, terms: Iterable[Term] | None = None) -> QueryHit | None:
    """The query's hit in the text, or None. ``terms``: the query's ``any`` terms to try (default: all; a
    term whose first word is not in the text cannot match, so leaving it out changes nothing)."""
    for term in query.any if terms is None else terms:
        positions = index.find(term)
        if not positions:
            continue
        if not query.near:
            return QueryHit(query.sdg, query.target, term.source)
        for near in query.near:
            near_positions = index.find(near)
            if any(a != b and abs(a - b) <= query.within for a in positions for b in near_positions):
                return QueryHit(query.sdg, query.target, f"{term.source} ~ {near.source}")
    return None


def run_queries(text: str) -> list[QueryHit]:
    """Every shipped query that matches the text, in file order."""
    compiled = _compiled()
    index = TextIndex(words(text), compiled.wildcards.of)
    # only the ``any`` terms whose first word (or wildcard prefix) is in the text can match
    present: dict[int, list[int]] = defaultdict(list)
    for table, keys in ((compiled.by_first_word, index.exact), (compiled.by_first_prefix, index.prefix)):
        for key in keys:
            for qi, ti in table.get(key, ()):
                present[qi].append(ti)
    queries = compiled.queries
    hits: list[QueryHit] = []
    for qi in sorted(present):
        query = queries[qi]
        hit = match_query(index, query, [query.any[ti] for ti in sorted(present[qi])])
        if hit is not None:
            hits.append(hit)
    return hits


@dataclass(frozen=True)
class _Compiled:
    """The shipped queries, with look-ups from a first word (or wildcard prefix) to the ``any`` terms that
    start with it, as (query number, term number)."""

    queries: tuple[Query, ...]
    by_first_word: dict[str, tuple[tuple[int, int], ...]]
    by_first_prefix: dict[str, tuple[tuple[int, int], ...]]
    wildcards: Wildcards


@lru_cache(maxsize=1)
def _compiled() -> _Compiled:
    queries = load_queries()
    by_word: dict[str, list[tuple[int, int]]] = defaultdict(list)
    by_prefix: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for qi, q in enumerate(queries):
        for ti, term in enumerate(q.any):
            (by_prefix if term.first_is_prefix else by_word)[term.first].append((qi, ti))
    terms = (t for q in queries for t in (*q.any, *q.near))
    wildcards = Wildcards(w for t in terms for w, is_prefix in t.parts if is_prefix)
    return _Compiled(
        queries,
        {k: tuple(v) for k, v in by_word.items()},
        {k: tuple(v) for k, v in by_prefix.items()},
        wildcards,
    )
