"""The words of a work: title and abstract, tokenised the same way for profiles, themes and projects.

Tokens are lower-cased words of two letters or more, accents folded (``données`` → ``donnees``), with
English and French function words left out, so a French abstract and an English one share no noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# French function words (accents folded, as the tokeniser sees them).
_FRENCH = (
    "au aux avec ce ces cet cette dans de des du elle elles en est et etaient etait etre eu il ils je "
    "la le les leur leurs lui mais meme mes moi mon ne nos notre nous on ont ou par pas pour qu que "
    "qui sa se ses son sont sur ta te tes toi ton tu un une vos votre vous ainsi afin apres avant "
    "aussi autre autres avoir car celle celui cela chaque comme dont donc entre ete etude etudes fait "
    "faire ici ledit lors mais moins meme ni non peu plus par parmi plusieurs pourquoi quand quel "
    "quelle quelles quels sans selon si sous tandis tant tel telle telles tels tout toute toutes tous "
    "tres travers vers via"
)
FRENCH_STOP_WORDS = frozenset(_FRENCH.split())
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | FRENCH_STOP_WORDS
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"

_inverted = msgspec.json.Decoder(dict[str, list[int]])


def abstract_text(inverted_index_json: str | None) -> str:
    """The abstract rebuilt from OpenAlex's inverted index (JSON text); '' when absent or unreadable."""
    if not inverted_index_json:
        return ""
    try:
        index = _inverted.decode(inverted_index_json)
    except msgspec.DecodeError:
        return ""
    placed = sorted((pos, word) for word, positions in index.items() for pos in positions)
    return " ".join(word for _, word in placed)


def work_text(title: str | None, inverted_index_json: str | None) -> str:
    return f"{title or ''} {abstract_text(inverted_index_json)}".strip()


def vectorizer(vocabulary: Iterable[str] | None = None, min_df: int = 1) -> CountVectorizer:
    """The one tokeniser (scikit-learn's), with the settings every caller shares."""
    return CountVectorizer(
        strip_accents="unicode",
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        stop_words=sorted(STOP_WORDS),
        vocabulary=None if vocabulary is None else list(dict.fromkeys(vocabulary)),
        min_df=min_df,
        dtype=float,
    )


def analyzer() -> Callable[[str], list[str]]:
    """Text → tokens, as the profiles see them."""
    result: Callable[[str], list[str]] = vectorizer().build_analyzer()
    return result
