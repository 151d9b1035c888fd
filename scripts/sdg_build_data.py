"""Rebuild the SDG classifier's shipped reference data from ``../shared/data/sdg/un-goals-targets``.

Writes, under ``src/cordiale/sdg/data/``: ``un_sdg_texts.tsv`` (the 17 goals and 169 targets, United
Nations text) and ``un_sdg_minilm.npy`` / ``un_sdg_e5.npy`` (their embeddings by each encoder).

    .venv/bin/python scripts/sdg_build_data.py [--texts-only]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from cordiale.sdg import similarity

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "sdg" / "un-goals-targets"
DATA = ROOT / "src" / "cordiale" / "sdg" / "data"


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)
        return [(r[0].strip(), r[1].strip().strip('"').strip()) for r in reader if len(r) >= 2]


def _fix_labels(sdg: int, labels: list[str]) -> list[str]:
    """The source stores target numbers as numbers, so 8.10 reads 8.1: the second 8.1 is 8.10."""
    seen: set[str] = set()
    out = []
    for label in labels:
        if label in seen and label.endswith(".1"):
            label = label + "0"
        seen.add(label)
        out.append(label)
    return out


def write_texts() -> None:
    rows: list[tuple[int, str, str, str]] = []
    for sdg in range(1, 18):
        folder = SOURCE / f"SDG{sdg:02d}"
        (_goal_label, goal_text), *_ = _rows(folder / "goal.txt")
        rows.append((sdg, str(sdg), "goal", goal_text))
        targets = _rows(folder / "targets.txt")
        labels = _fix_labels(sdg, [t[0] for t in targets])
        rows.extend((sdg, label, "target", text) for label, (_, text) in zip(labels, targets, strict=True))
    with (DATA / "un_sdg_texts.tsv").open("w", encoding="utf-8", newline="") as fh:
        fh.write("# Sustainable Development Goals and targets: text of the United Nations (A/RES/70/1 and\n")
        fh.write("# the global indicator framework), https://sdgs.un.org/goals, reproduced for reference.\n")
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["sdg", "label", "kind", "text"])
        w.writerows(rows)
    print(f"wrote {len(rows)} UN texts")


def write_embeddings() -> None:
    similarity.class_texts.cache_clear()
    texts = [c.text for c in similarity.class_texts()]
    for name in ("minilm", "e5"):
        vecs = similarity.encoder(name).encode(texts)  # type: ignore[arg-type]
        np.save(DATA / f"un_sdg_{name}.npy", vecs.astype(np.float32))
        print(f"wrote {vecs.shape} embeddings for {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts-only", action="store_true")
    args = parser.parse_args()
    write_texts()
    if not args.texts_only:
        write_embeddings()


if __name__ == "__main__":
    main()
