"""The Aurora Universities Network's SDG queries v5 (CC-BY-4.0), read from ``../shared/data`` for comparison.

Only the ``TITLE-ABS-KEY`` query lines are evaluated (the year ranges and affiliation filters are Scopus
scoping, not topic). A small reader of the Scopus syntax they use: quoted phrases with ``*`` wildcards,
``OR``, ``AND``, ``AND NOT``, ``W/n`` and parentheses, with Scopus's precedence (OR, then W/n, then AND,
then AND NOT). Scopus also matches plurals and spelling variants; this reader does not, so it is a close
reading, not Scopus itself. An SDG is assigned when any of its query lines matches. Never shipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cordiale.sdg.queries import MAX_PREFIX, Term, TextIndex
from cordiale.sdg.text import words

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "sdg" / "aurora-queries-v5"
_TOKEN = re.compile(r'"[^"]*"|\(|\)|W/\d+|PRE/\d+|AND\s+NOT|AND|OR', re.IGNORECASE)
Span = tuple[int, int]


@dataclass(frozen=True)
class Node:
    op: str  # phrase / OR / AND / NOT / W
    parts: tuple[Node, ...] = ()
    words: tuple[tuple[str, bool], ...] = ()  # for phrases: (word, is_prefix)
    n: int = 0


def _phrase(text: str) -> Node:
    parts: list[tuple[str, bool]] = []
    for raw in text.split():
        toks = words(raw.rstrip("*"))
        for i, tok in enumerate(toks):
            is_prefix = raw.endswith("*") and i == len(toks) - 1
            parts.append((tok[:MAX_PREFIX] if is_prefix else tok, is_prefix))
    return Node("phrase", words=tuple(parts))


def parse(query: str) -> Node:
    tokens = [t.group(0) for t in _TOKEN.finditer(query)]
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> Node:
        tok = take()
        if tok == "(":
            node = and_not()
            if peek() == ")":
                take()
            return node
        return _phrase(tok.strip('"'))

    def or_() -> Node:
        parts = [atom()]
        while (p := peek()) is not None and p.upper() == "OR":
            take()
            parts.append(atom())
        return parts[0] if len(parts) == 1 else Node("OR", tuple(parts))

    def within() -> Node:
        node = or_()
        while (p := peek()) is not None and p.upper().startswith(("W/", "PRE/")):
            n = int(take().split("/")[1])
            node = Node("W", (node, or_()), n=n)
        return node

    def and_() -> Node:
        node = within()
        while (p := peek()) is not None and p.upper() == "AND":
            take()
            node = Node("AND", (node, within()))
        return node

    def and_not() -> Node:
        node = and_()
        while (p := peek()) is not None and p.upper().replace(" ", "").startswith("ANDNOT"):
            take()
            node = Node("NOT", (node, and_()))
        return node

    return and_not()


def _spans(node: Node, index: TextIndex) -> list[Span]:
    if node.op == "phrase":
        if not node.words:
            return []
        k = len(node.words)
        return [(i, i + k - 1) for i in index.find(Term(node.words, ""))]
    if node.op == "OR":
        return [s for p in node.parts for s in _spans(p, index)]
    left = _spans(node.parts[0], index)
    if node.op == "NOT":
        return left if left and not _spans(node.parts[1], index) else []
    if not left:
        return []
    right = _spans(node.parts[1], index)
    if node.op == "AND":
        return left + right if right else []
    # W/n: the two spans, in either order, at most n words apart
    return [
        (min(a[0], b[0]), max(a[1], b[1]))
        for a in left
        for b in right
        if max(a[0], b[0]) - min(a[1], b[1]) - 1 <= node.n
    ]


@lru_cache(maxsize=1)
def queries() -> dict[int, tuple[Node, ...]]:
    out: dict[int, tuple[Node, ...]] = {}
    for sdg in range(1, 18):
        root = ET.parse(FOLDER / f"query_SDG{sdg}.xml").getroot()
        lines = [
            el.text or ""
            for el in root.iter()
            if el.tag.endswith("query-line") and el.get("field") == "TITLE-ABS-KEY"
        ]
        out[sdg] = tuple(parse(" ".join(line.split())) for line in lines if line.strip())
    return out


def classify(text: str) -> list[int]:
    index = TextIndex(words(text))
    return [sdg for sdg, nodes in queries().items() if any(_spans(n, index) for n in nodes)]
