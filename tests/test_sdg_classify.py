"""The SDG classifier on real abstracts: stable, explained answers; clear answers for odd texts.

The expected answers for a handful of real works from ``../shared/data/openalex`` are pinned in
``tests/data/sdg_golden.json``; after a deliberate model change, rewrite them with
``CORDIALE_SDG_WRITE_GOLDEN=1 .venv/bin/pytest tests/test_sdg_classify.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cordiale.sdg import WorkText, classify, classify_texts
from cordiale.sdg.similarity import class_texts
from cordiale.sdg.text import MAX_CHARS, abstract_from_inverted_index
from tests.conftest import raw_records
from tests.shared_data import shared_path

GOLDEN = Path(__file__).parent / "data" / "sdg_golden.json"
WORKS = (
    "W1039998118",  # groundwater recharge in arid areas
    "W2191123632",  # CO2 storage, capillary trapping
    "W2945643711",  # energy access and social development
    "W3022549607",  # COVID-19 and the S&P500
    "W1830856970",  # a solar-cell dye
    "W1532519421",  # intraplate seismicity
    "W2022942026",  # a French ammonite paper
)


@pytest.fixture(scope="module")
def works() -> dict[str, WorkText]:
    wanted = set(WORKS)
    out: dict[str, WorkText] = {}
    for rec in raw_records(shared_path("openalex", "works-kfupm-2026.jsonl.gz")):
        wid = str(rec["id"]).rsplit("/", 1)[-1]
        if wid in wanted:
            out[wid] = WorkText(
                rec.get("title") or "", abstract_from_inverted_index(rec["abstract_inverted_index"])
            )
    assert set(out) == wanted
    return out


def _summary(res: Any) -> dict[str, Any]:
    return {
        "sdgs": res.sdgs,
        "language": res.language,
        "path": res.path,
        "scores": [round(s, 3) for s in res.scores],
        "targets": {s: sorted({r["target"] for r in rs}) for s, rs in res.reasons.items()},
    }


def test_real_abstracts_give_the_pinned_explained_answers(works: dict[str, WorkText]) -> None:
    results = dict(zip(WORKS, classify_texts([works[w] for w in WORKS]), strict=True))
    got = {w: _summary(r) for w, r in results.items()}
    if os.environ.get("CORDIALE_SDG_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    for wid in WORKS:
        exp, now = expected[wid], got[wid]
        assert now["sdgs"] == exp["sdgs"], wid
        assert now["path"] == exp["path"] and now["language"] == exp["language"], wid
        assert now["targets"] == exp["targets"], wid
        assert now["scores"] == pytest.approx(exp["scores"], abs=0.02), wid
    labels = {c.label for c in class_texts()}
    for wid, res in results.items():
        for s in res.sdgs:
            assert res.reasons[str(s)], f"{wid}: SDG {s} assigned without a reason"
            assert all(r["target"] in labels for r in res.reasons[str(s)])
    # what a reader would expect of these works
    assert 6 in results["W1039998118"].sdgs
    # the CO2-storage review gets no SDG: one SDG-13 query matched, and the combiner wants more evidence
    # than one query with a weak similarity to the UN texts (a known limit, kept visible here)
    assert results["W2191123632"].sdgs == [] and results["W2191123632"].hits
    assert 7 in results["W2945643711"].sdgs
    assert results["W2022942026"].sdgs == [] and results["W2022942026"].language == "fr"


def test_answers_do_not_depend_on_the_batch(works: dict[str, WorkText]) -> None:
    together = classify_texts([works[w] for w in WORKS])
    for wid, res in zip(WORKS, together, strict=True):
        alone = classify_texts([works[wid]])[0]
        assert alone.sdgs == res.sdgs
        assert alone.scores == pytest.approx(res.scores, abs=1e-4)


def test_empty_long_foreign_and_title_only_texts() -> None:
    for empty in ("", "   \n\t"):
        res = classify(empty)
        assert res.status == "no text" and res.sdgs == [] and res.scores == [0.0] * 17 and res.path == "none"
    long = classify("Renewable energy and solar power for rural electrification. " * 20_000)
    assert long.status == "scored" and 7 in long.sdgs
    assert len(WorkText("", "x " * 10**6).text) == MAX_CHARS
    german = classify("Der Klimawandel bedroht die Korallenriffe und die Fischerei im Roten Meer.")
    # German: detected; no query knows German words, so it is not embedded and nothing is assigned
    assert german.language == "de" and german.path == "query" and german.status == "scored"
    assert german.sdgs == []
    french = classify("La pauvreté et la faim reculent grâce à la protection sociale dans les zones rurales.")
    assert french.language == "fr" and french.path == "e5" and 1 in french.sdgs
    title = classify(title="Malaria transmission in sub-Saharan Africa")
    assert title.status == "title only" and 3 in title.sdgs
    assert classify("1234 5678 ###").sdgs == []


def test_each_layer_alone() -> None:
    text = "Greenhouse gas emissions from coal power plants and climate change mitigation policies."
    q = classify(text, layers="query")
    s = classify(text, layers="similarity")
    assert q.path == "query" and 13 in q.sdgs
    assert (
        s.path == "minilm similarity only"
        and s.reasons
        and all(r["layer"] == "similarity" for rs in s.reasons.values() for r in rs)
    )
