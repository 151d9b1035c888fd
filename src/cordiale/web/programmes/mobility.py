"""Joint PhD mobility plans: each student spends between N and M months in the partner's lab in total.

Months are counted as days / (365.25 / 12), the mean Gregorian month, so a plan of 3 × 30-day stays is
2.96 months; each stay counts its first and last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import pairwise

DAYS_PER_MONTH = Decimal("365.25") / 12


@dataclass(frozen=True)
class Stay:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def months(days: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    return (Decimal(days) / DAYS_PER_MONTH).quantize(Decimal("0.1"), rounding=rounding)


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def plan_problems(
    stays: list[Stay], project_start: date, project_end: date, bounds: tuple[Decimal, Decimal]
) -> list[str]:
    """Everything wrong with a plan, as messages for people (empty: the plan is acceptable)."""
    problems: list[str] = []
    if not stays:
        problems.append("A mobility plan needs at least one stay.")
    for i, s in enumerate(stays, start=1):
        if s.end < s.start:
            problems.append(f"Stay {i} ends ({s.end}) before it starts ({s.start}).")
        elif s.start < project_start or s.end > project_end:
            problems.append(
                f"Stay {i} ({s.start} – {s.end}) is outside the project's dates "
                f"({project_start} – {project_end})."
            )
    ordered = sorted((s for s in stays if s.end >= s.start), key=lambda s: s.start)
    for a, b in pairwise(ordered):
        if b.start <= a.end:
            problems.append(f"Stays {a.start} – {a.end} and {b.start} – {b.end} overlap.")
    total_days = sum(s.days for s in stays if s.end >= s.start)
    low, high = bounds
    exact = Decimal(total_days) / DAYS_PER_MONTH
    if stays and not (low <= exact <= high):
        # Shown rounded away from the bounds (down below the minimum, up above the maximum), so that a
        # plan of 90 days reads 2.9 months, never "3.0 months" next to "must be between 3 and 6 months".
        total = months(total_days, ROUND_FLOOR if exact < low else ROUND_CEILING)
        problems.append(
            f"The plan totals {total} months ({total_days} days); "
            f"the total must be between {_fmt(low)} and {_fmt(high)} months."
        )
    return problems
