"""The text a work is scored on: title + abstract (rebuilt from OpenAlex's inverted index), its language,
its hash, and the word tokens the query layer matches against."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Longer texts are cut here (characters) before scoring: an abstract is rarely longer, and a pasted full
# text would otherwise cost time without changing the answer much.
MAX_CHARS = 20_000
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True)
class WorkText:
    """What is scored for one work: title, abstract (either may be empty), and the two joined."""

    title: str
    abstract: str

    @property
    def text(self) -> str:
        parts = [p for p in (self.title.strip(), self.abstract.strip()) if p]
        if len(parts) == 2 and not parts[0].endswith((".", "?", "!", ":")):
            parts[0] += "."
        return " ".join(parts)[:MAX_CHARS]

    @property
    def title_only(self) -> bool:
        return bool(self.title.strip()) and not self.abstract.strip()


def abstract_from_inverted_index(index: Any) -> str:
    """Rebuild an abstract from OpenAlex's ``abstract_inverted_index`` (a mapping word → positions, or its
    JSON text). Returns "" for a missing, empty or malformed index."""
    if index is None or index == "":
        return ""
    if isinstance(index, str | bytes):
        try:
            index = json.loads(index)
        except ValueError:
            return ""
    if not isinstance(index, dict):
        return ""
    placed: dict[int, str] = {}
    for word, positions in index.items():
        if not isinstance(word, str) or not isinstance(positions, list):
            continue
        for pos in positions:
            if isinstance(pos, int) and 0 <= pos < 100_000:
                placed[pos] = word
    return " ".join(placed[p] for p in sorted(placed))


def fold(text: str) -> str:
    """Lower case without accents, for matching: accented letters lose their accents, other non-ASCII
    characters are dropped (the queries are written in ASCII)."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode("ascii")


def words(text: str) -> list[str]:
    """The folded word tokens of a text (punctuation and hyphens split words)."""
    return _WORD.findall(fold(text))


def first_sentence(text: str) -> str:
    """The text up to its first sentence end (the whole text when it has none)."""
    parts = _SENTENCE_END.split(text.strip(), maxsplit=1)
    return parts[0] if parts else ""


def text_hash(text: str) -> str:
    """A stable hash of the scored text (for incremental re-scoring)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --- language ----------------------------------------------------------------------------------------

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")


# A language is named only when lingua gives it at least this confidence; below it the text is
# "unsure" and takes the English path (most research abstracts are English; short titles mislead).
MIN_CONFIDENCE = 0.6


@lru_cache(maxsize=2)
def _detector(low_accuracy: bool) -> Any:
    from lingua import Language, LanguageDetectorBuilder

    langs = [
        Language.ENGLISH,
        Language.FRENCH,
        Language.GERMAN,
        Language.SPANISH,
        Language.ITALIAN,
        Language.PORTUGUESE,
        Language.DUTCH,
    ]
    builder = LanguageDetectorBuilder.from_languages(*langs)
    return (builder.with_low_accuracy_mode() if low_accuracy else builder).build()


# The cheap English check: function words frequent in English prose and absent (or rare) as words in the
# six other languages, and function words of those languages that are not English words. Folded (no accents).
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ENGLISH_MARKERS = _word_set(
    "the of and with is are was were this that these which from by we our their has have been between "
    "its into than such to for at be can also"
)
_OTHER_MARKERS = _word_set(
    "le la les des du et une dans pour est au aux qui que sont ces cette avec "  # French
    "der das und ist nicht mit von dem ein eine zu im auf fur "  # German
    "el los las del y con para una por se "  # Spanish
    "il di che della delle nel gli sono "  # Italian
    "os uma com nao sao pelo pela "  # Portuguese
    "het een zijn niet voor ook wordt"  # Dutch
)
ENGLISH_MIN_MARKERS = 6


def plainly_english(sample: str) -> bool:
    """True when a text sample is plainly English: at least ``ENGLISH_MIN_MARKERS`` English function words,
    and at most a quarter as many of the other languages' function words. Lingua is then not needed (it
    costs ~1 ms a text, a fifth of the time of a text that is not embedded)."""
    english = other = 0
    for word in words(sample):
        english += word in _ENGLISH_MARKERS
        other += word in _OTHER_MARKERS
    # a few "other" words occur in English science ("et al.", "y", "el" Nino): a ratio, not a veto
    return english >= ENGLISH_MIN_MARKERS and 4 * other <= english


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language among a few European ones, or None when unsure or empty.

    Looks at the first 300 characters: a plainly English sample (``plainly_english``) is English; any
    other goes to lingua (offline n-gram models), and a language is named only at a confidence of at
    least ``MIN_CONFIDENCE``."""
    sample = text[:300]
    if sum(any(c.isalnum() for c in w) for w in sample.split()[:3]) < 3:
        return None
    if plainly_english(sample):
        return "en"
    # lingua's low-accuracy mode (trigrams only, ~3x faster) is as good as the full mode above ~120
    # characters; short texts (titles) get the full mode.
    values = _detector(len(sample) >= 120).compute_language_confidence_values(sample)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    return str(values[0].language.iso_code_639_1.name).lower()
