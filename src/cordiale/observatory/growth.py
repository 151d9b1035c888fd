"""Growth and stability intervals, computed once in Python from the per-work table an engine produced.

- A year is complete when the store's snapshot is at least six months past its end; incomplete years are
  flagged ``partial`` and never enter growth.
- CAGR over a window [y0, y1] = (c1 / c0) ** (1 / (y1 - y0)) - 1. A window that starts at zero uses the
  slope b of a Poisson log-linear fit (log E[c_t] = a + b t, maximum likelihood) and reports exp(b) - 1.
- 95% stability intervals: the works are resampled with replacement ``resamples`` times (seeded). For
  counts-based indicators (CAGR, joint share) a resample only changes how many works fall in each
  (year, set of partners) cell, so it is drawn as one multinomial over those cells: the same
  distribution as resampling works one by one, at the cost of the cells. For means (MNCS, PP(top 10%))
  the works themselves are resampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from cordiale.errors import UsageError

FloatArray = npt.NDArray[np.float64]


def complete_years(snapshot: date, years: list[int]) -> set[int]:
    """Years whose end lies at least six months before the snapshot."""
    return {y for y in years if snapshot >= date(y + 1, 6, 30)}


def poisson_slopes(t: FloatArray, counts: FloatArray) -> FloatArray:
    """Maximum-likelihood slope b of log E[c] = a + b t for each row of ``counts`` (rows × len(t)), by
    Newton's method run on every row at once (a row leaves when its step falls below 1e-12); NaN where
    all counts are 0 or no finite maximum exists (a bootstrap resample with every work in one year)."""
    rows = counts.shape[0]
    out = np.full(rows, np.nan)
    if len(t) < 2 or rows == 0:
        return out
    tc = t - t.mean()
    live = counts.sum(axis=1) > 0
    a, b = np.zeros(rows), np.zeros(rows)
    a[live] = np.log(counts[live].mean(axis=1))
    active = np.flatnonzero(live)
    for _ in range(100):
        if active.size == 0:
            break
        c = counts[active]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            mu = np.exp(a[active, None] + b[active, None] * tc)
            g0, g1 = (c - mu).sum(axis=1), ((c - mu) * tc).sum(axis=1)
            h00, h01, h11 = mu.sum(axis=1), (mu * tc).sum(axis=1), (mu * tc * tc).sum(axis=1)
            det = h00 * h11 - h01 * h01
            step_a = (h11 * g0 - h01 * g1) / det
            step_b = (h00 * g1 - h01 * g0) / det
        a[active] += step_a
        b[active] += step_b
        # the fit ran off to ±infinity (e.g. every count in one year): no value
        failed = (det == 0) | ~np.isfinite(a[active]) | ~np.isfinite(b[active])
        b[active[failed]] = np.nan
        converged = ~failed & (np.maximum(np.abs(step_a), np.abs(step_b)) < 1e-12)
        out[active[converged]] = b[active[converged]]
        active = active[~failed & ~converged]
    out[active] = b[active]  # not converged in 100 steps: the last estimate
    return out


def poisson_slope(t: FloatArray, c: FloatArray) -> float | None:
    """``poisson_slopes`` of one series; None when it has no value."""
    b = float(poisson_slopes(t, c[None, :])[0])
    return None if math.isnan(b) else b


def window_growth(counts: dict[int, float], y0: int, y1: int) -> tuple[float | None, str]:
    """(growth rate per year, method) over [y0, y1]: CAGR, or the Poisson slope when it starts at zero."""
    if y1 <= y0:
        return None, "window too short"
    c0, c1 = counts.get(y0, 0.0), counts.get(y1, 0.0)
    if c0 > 0:
        return (c1 / c0) ** (1.0 / (y1 - y0)) - 1.0, "cagr"
    t = np.arange(y0, y1 + 1, dtype=np.float64)
    c = np.array([counts.get(int(y), 0.0) for y in t], dtype=np.float64)
    b = poisson_slope(t, c)
    if b is None:
        return None, "poisson (all zero)" if c.sum() <= 0 else "poisson (no finite slope)"
    return math.exp(b) - 1.0, "poisson log-linear slope"


def window_growth_rows(counts: FloatArray, years: list[int], y0: int, y1: int) -> FloatArray:
    """``window_growth`` for each row of ``counts`` (rows × ``years``; a year not in ``years`` counts 0),
    NaN where it has no value: CAGR computed for all rows at once, the Poisson slope only for the rows
    whose window starts at zero."""
    out = np.full(counts.shape[0], np.nan)
    if y1 <= y0 or counts.shape[0] == 0:
        return out
    col = {y: i for i, y in enumerate(years)}
    zeros = np.zeros(counts.shape[0])
    c0 = counts[:, col[y0]] if y0 in col else zeros
    c1 = counts[:, col[y1]] if y1 in col else zeros
    starts = c0 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out[starts] = (c1[starts] / c0[starts]) ** (1.0 / (y1 - y0)) - 1.0
    # the rows starting at zero: the Poisson slope over the window's years, all rows at once
    window = list(range(y0, y1 + 1))
    rest = counts[~starts]
    series = np.stack([rest[:, col[y]] if y in col else zeros[: rest.shape[0]] for y in window], axis=1)
    out[~starts] = np.exp(poisson_slopes(np.array(window, dtype=np.float64), series)) - 1.0
    return out


@dataclass(frozen=True)
class Window:
    name: str
    first: int
    last: int


def growth_windows(event: int | None, k: int, complete: list[int]) -> list[Window]:
    """[event-k, event-1] and [event, last complete year]; without an event, the complete years overall."""
    if not complete:
        return []
    last = max(complete)
    if event is None:
        return [Window("all complete years", min(complete), last)]
    first = min(complete)
    if not first + 1 <= event <= last:
        raise UsageError(
            f"--event {event} is outside the range: it must lie in {first + 1}–{last} "
            "(after the first year with works, up to the last complete year)"
        )
    before = Window(f"before ({max(first, event - k)}–{event - 1})", max(first, event - k), event - 1)
    after = Window(f"after ({event}–{last})", event, last)
    return [before, after]


def percentile_interval(values: FloatArray) -> tuple[float | None, float | None]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None, None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_cells(
    cells: list[tuple[int, int, int]], resamples: int, seed: int
) -> tuple[list[tuple[int, int]], npt.NDArray[np.int64]]:
    """Resample works drawn from (year, partner mask, works) cells: returns the keys and a
    (resamples × cells) matrix of counts."""
    keys = [(y, m) for y, m, _ in cells]
    n = np.array([c for _, _, c in cells], dtype=np.float64)
    total = int(n.sum())
    rng = np.random.default_rng(seed)
    if total == 0:
        return keys, np.zeros((resamples, len(keys)), dtype=np.int64)
    draws: npt.NDArray[np.int64] = rng.multinomial(total, n / n.sum(), size=resamples)
    return keys, draws


def bootstrap_means(
    values: FloatArray,
    weights: FloatArray,
    resamples: int,
    seed: int,
    holders: npt.NDArray[np.int64] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Resampled (full mean, weighted mean) of ``values`` over works drawn with replacement;
    ``holders``: how many works hold each (value, weight) row (1 each by default).

    Works with the same (value, weight) are interchangeable, so a resample is drawn as one multinomial
    over the distinct pairs: exactly the distribution of resampling works one by one, at the cost of the
    distinct pairs rather than of the works.
    """
    full = np.full(resamples, np.nan)
    frac = np.full(resamples, np.nan)
    held = np.ones(values.size, dtype=np.int64) if holders is None else holders
    n = int(held.sum())
    if n == 0:
        return full, frac
    # Rounded first (values to 1e-9, weights to 1e-12), so that weights summed in another order by the
    # other engine (equal to the last bit or two) fall in the same pair and draw the same resamples.
    rv, rw = np.round(values, 9), np.round(weights, 12)
    # The distinct (value, weight) pairs in ascending (value, weight) order and how many works hold each:
    # one lexsort of two float columns (np.unique(axis=0) gives the same, row by row, far slower).
    order = np.lexsort((rw, rv))
    sv, sw, sh = rv[order], rw[order], held[order]
    starts = np.flatnonzero(np.concatenate(([True], (sv[1:] != sv[:-1]) | (sw[1:] != sw[:-1]))))
    counts = np.add.reduceat(sh, starts)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=resamples).astype(np.float64)
    v, w = sv[starts], sw[starts]
    full = draws @ v / n
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (draws @ (v * w)) / (draws @ w)
    return full, frac
