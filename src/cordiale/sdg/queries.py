"""The query layer: our own phrase, wildcard and proximity queries per SDG target (``data/queries.toml``).

A term is a word or a phrase; a word ending in ``*`` matches any word it begins. A query matches when one
of its ``any`` terms occurs, and, when it has ``near`` terms, one of those starts within ``within`` words
(at another word: a word never stands near itself).
Matching runs on folded word tokens (lower case, no accents), through two position indexes built once per
text (word → positions, prefix → positions), so each term costs one dictionary look-up.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Query:
    sdg: int
    target: str
    any: tuple[Term, ...]
    near: tuple[Term, ...]
    within: int

    @property
    def first_words(self) -> frozenset[str]:
        """The exact first words of the ``any`` terms (a text without any of them, nor of
        ``first_prefixes``, cannot match)."""
        return frozenset(t.parts[0][0] for t in self.any if not t.parts[0][1])

    @property
    def first_prefixes(self) -> frozenset[str]:
        return frozenset(t.parts[0][0] for t in self.any if t.parts[0][1])

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
                    any=tuple(parse_term(t) for t in entry["any"]),
                    near=tuple(parse_term(t) for t in entry.get("near", [])),
                    within=int(entry.get("within", 8)),
                )
            )
    return tuple(out)


@lru_cache(maxsize=1)
def _wildcards() -> tuple[tuple[int, ...], frozenset[str]]:
    """The lengths and the words of the wildcard words in the shipped queries: only those prefixes are
    indexed."""
    words_ = {w for q in load_queries() for t in (*q.any, *q.near) for w, is_prefix in t.parts if is_prefix}
    return tuple(sorted({len(w) for w in words_})), frozenset(words_)


class TextIndex:
    """Where each word, and each word prefix, occurs in one text."""

    def __init__(
        self, tokens: list[str], wildcards: tuple[tuple[int, ...], frozenset[str]] | None = None
    ) -> None:
        self.tokens = tokens
        exact: dict[str, list[int]] = defaultdict(list)
        for pos, tok in enumerate(tokens):
            exact[tok].append(pos)
        prefix: dict[str, list[int]] = defaultdict(list)
        for tok, positions in exact.items():
            if wildcards is None:
                for k in range(1, min(len(tok), MAX_PREFIX) + 1):
                    prefix[tok[:k]].extend(positions)
                continue
            lengths, wanted = wildcards
            for k in lengths:
                if k > len(tok):
                    break
                p = tok[:k]
                if p in wanted:
                    prefix[p].extend(positions)
        for positions in prefix.values():
            positions.sort()
        self.exact = exact
        self.prefix = prefix

    def _positions(self, word: str, is_prefix: bool) -> list[int]:
        return self.prefix.get(word, []) if is_prefix else self.exact.get(word, [])

    def _word_at(self, pos: int, word: str, is_prefix: bool) -> bool:
        if pos >= len(self.tokens):
            return False
        tok = self.tokens[pos]
        return tok.startswith(word) if is_prefix else tok == word

    def find(self, term: Term) -> list[int]:
        """Start positions of the term in the text."""
        (first, first_prefix), rest = term.parts[0], term.parts[1:]
        starts = self._positions(first, first_prefix)
        if not rest or not starts:
            return list(starts)
        return [s for s in starts if all(self._word_at(s + i + 1, w, p) for i, (w, p) in enumerate(rest))]


def match_query(index: TextIndex, query: Query) -> QueryHit | None:
    """The query's hit in the text, or None."""
    for term in query.any:
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
    """Every shipped query that matches the text."""
    index = TextIndex(words(text), _wildcards())
    exact, prefix = index.exact.keys(), index.prefix.keys()
    hits: list[QueryHit] = []
    for query, firsts, prefixes in _query_keys():
        # dict_keys.isdisjoint(small set) looks each member up; the other way round would scan the text
        if exact.isdisjoint(firsts) and prefix.isdisjoint(prefixes):
            continue  # none of the query's terms can start in this text
        hit = match_query(index, query)
        if hit is not None:
            hits.append(hit)
    return hits


@lru_cache(maxsize=1)
def _query_keys() -> tuple[tuple[Query, frozenset[str], frozenset[str]], ...]:
    return tuple((q, q.first_words, q.first_prefixes) for q in load_queries())
