"""Write ``bench/sdg_fit_ids.txt``: the fixed half of the SDG Classification Benchmark used for fitting.

Stratified by (SDG, label), seed 0: within each stratum the rows are shuffled with ``random.Random(0)``
(strata in sorted order) and the first ``ceil(n / 2)`` or ``floor(n / 2)`` kept, alternating so the fit half
holds half of all rows. Every figure and gate is measured on the other half. Run once; the file is committed.

    .venv/bin/python bench/sdg_split.py
"""

from __future__ import annotations

import random
from pathlib import Path

from sdgclassification.benchmark import load_benchmark_df

OUT = Path(__file__).with_name("sdg_fit_ids.txt")


def fit_ids() -> list[str]:
    df = load_benchmark_df()
    rng = random.Random(0)
    strata: dict[tuple[int, bool], list[str]] = {}
    for row_id, sdg, label in zip(df["id"], df["sdg"], df["label"], strict=True):
        strata.setdefault((int(sdg), bool(label)), []).append(str(row_id))
    chosen: list[str] = []
    take_ceil = True
    for key in sorted(strata):
        ids = sorted(strata[key])
        rng.shuffle(ids)
        n = len(ids)
        k = (n + 1) // 2 if take_ceil else n // 2
        if n % 2:
            take_ceil = not take_ceil
        chosen.extend(ids[:k])
    return sorted(chosen)


def main() -> None:
    ids = fit_ids()
    OUT.write_text("".join(f"{i}\n" for i in ids))
    print(f"wrote {len(ids)} ids to {OUT}")


if __name__ == "__main__":
    main()
