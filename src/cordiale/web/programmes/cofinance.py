"""Co-financing arithmetic (Decimal): conversions at dated reference rates, totals, the real split.

Each amount stays in its own currency; a conversion uses the reference rate of the amount's own date
(the latest rate on or before that date). The real split is computed in EUR on payments to date and
compared with the agreed split; a partner whose share differs by more than the margin flags drift.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

CENT = Decimal("0.01")
# A stored rate's size (``ReferenceRate.eur_per_unit``): 12 digits, 6 of them after the point.
RATE_MAX_DIGITS, RATE_DECIMAL_PLACES = 12, 6


class RateMissingError(ValueError):
    """No reference rate on or before the date an amount needs."""


@dataclass(frozen=True)
class Rate:
    day: date
    currency: str
    eur_per_unit: Decimal


@dataclass(frozen=True)
class Entry:
    partner: str
    kind: str  # commitment | payment
    amount: Decimal
    currency: str
    day: date


class RateBook:
    """Dated reference rates per currency (EUR per unit); EUR is always 1.

    A rate that breaks the rules (not above 0, or for EUR), stored before they were enforced, is
    ignored as if never entered (``audit`` lists it), so it can never divide by zero."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        self._days: dict[str, list[date]] = {}
        self._values: dict[str, list[Decimal]] = {}
        usable = (r for r in rates if r.currency != "EUR" and r.eur_per_unit > 0)
        for r in sorted(usable, key=lambda r: (r.currency, r.day)):
            self._days.setdefault(r.currency, []).append(r.day)
            self._values.setdefault(r.currency, []).append(r.eur_per_unit)

    def eur_per_unit(self, currency: str, day: date) -> Decimal:
        if currency == "EUR":
            return Decimal(1)
        days = self._days.get(currency, [])
        i = bisect.bisect_right(days, day)
        if i == 0:
            raise RateMissingError(
                f"no {currency}→EUR reference rate on or before {day}: enter one or import a CSV of rates"
            )
        return self._values[currency][i - 1]

    def convert(self, amount: Decimal, currency: str, to: str, day: date) -> Decimal:
        """``amount`` in ``currency`` expressed in ``to`` at ``day``'s rates (unrounded)."""
        if currency == to:
            return amount
        eur = amount * self.eur_per_unit(currency, day)
        return eur if to == "EUR" else eur / self.eur_per_unit(to, day)


def totals(entries: Sequence[Entry], book: RateBook, currency: str) -> dict[tuple[str, str], Decimal]:
    """Σ per (partner, kind) in ``currency``, each entry converted at its own date's rate (to the cent)."""
    out: dict[tuple[str, str], Decimal] = {}
    for e in entries:
        key = (e.partner, e.kind)
        out[key] = out.get(key, Decimal(0)) + book.convert(e.amount, e.currency, currency, e.day)
    return {k: v.quantize(CENT, ROUND_HALF_EVEN) for k, v in out.items()}


@dataclass(frozen=True)
class SplitLine:
    partner: str
    paid_eur: Decimal
    share: Decimal  # percent of all payments to date
    agreed: Decimal  # percent
    difference: Decimal  # share − agreed, percentage points
    drift: bool


@dataclass(frozen=True)
class Split:
    as_of: date
    total_eur: Decimal
    margin: Decimal
    lines: tuple[SplitLine, ...]

    @property
    def drift(self) -> bool:
        return any(line.drift for line in self.lines)


def real_split(
    entries: Sequence[Entry], agreed: dict[str, Decimal], book: RateBook, margin: Decimal, as_of: date
) -> Split:
    """The split of payments to ``as_of`` in EUR, against the agreed percentages."""
    paid = {p: Decimal(0) for p in agreed}
    for e in entries:
        if e.kind == "payment" and e.day <= as_of:
            paid[e.partner] = paid.get(e.partner, Decimal(0)) + book.convert(
                e.amount, e.currency, "EUR", e.day
            )
    total = sum(paid.values(), Decimal(0))
    lines = []
    for partner, eur in paid.items():
        share = (eur / total * 100).quantize(CENT, ROUND_HALF_EVEN) if total else Decimal(0)
        target = agreed.get(partner, Decimal(0))
        diff = share - target
        lines.append(
            SplitLine(
                partner,
                eur.quantize(CENT, ROUND_HALF_EVEN),
                share,
                target,
                diff,
                bool(total) and abs(diff) > margin,
            )
        )
    return Split(as_of, total.quantize(CENT, ROUND_HALF_EVEN), margin, tuple(lines))


class RateCsvError(ValueError):
    """A reference-rate CSV that cannot be read; the message names the file, line and field."""


def rate_size_problem(value: Decimal) -> str:
    """Why a positive finite rate does not fit the stored field ('' when it fits)."""
    _sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    places = max(0, -exponent)
    whole = max(0, len(digits) + exponent)
    if places > RATE_DECIMAL_PLACES:
        return f"has more than {RATE_DECIMAL_PLACES} decimal places"
    if whole > RATE_MAX_DIGITS - RATE_DECIMAL_PLACES:
        return f"has more than {RATE_MAX_DIGITS - RATE_DECIMAL_PLACES} digits before the decimal point"
    return ""


def read_rates_csv(data: bytes, name: str) -> list[Rate]:
    """Rates from an uploaded file's bytes (UTF-8, with or without a byte-order mark)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RateCsvError(f"{name}: line {line}: the file is not UTF-8 text: save it as UTF-8 CSV") from None
    return parse_rates_csv(text, name)


def parse_rates_csv(text: str, name: str) -> list[Rate]:
    """Rates from CSV text with header ``date,currency,eur_per_unit`` (ISO dates, '.' decimals)."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"date", "currency", "eur_per_unit"}
    if reader.fieldnames is None or not needed <= {f.strip() for f in reader.fieldnames}:
        raise RateCsvError(f"{name}: line 1: the header must name the columns date, currency, eur_per_unit")
    rates = []
    for row in reader:
        line = reader.line_num
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        try:
            day = date.fromisoformat(row["date"])
        except ValueError:
            raise RateCsvError(
                f"{name}: line {line}: field date: {row['date']!r} is not a date (YYYY-MM-DD)"
            ) from None
        currency = row["currency"].upper()
        if currency == "EUR":
            raise RateCsvError(f"{name}: line {line}: field currency: EUR needs no rate (1 EUR is 1 EUR)")
        if currency != "GBP":
            raise RateCsvError(f"{name}: line {line}: field currency: {row['currency']!r} is not GBP")
        try:
            value = Decimal(row["eur_per_unit"])
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or value <= 0:
            raise RateCsvError(
                f"{name}: line {line}: field eur_per_unit: {row['eur_per_unit']!r} is not a positive number"
            )
        problem = rate_size_problem(value)
        if problem:
            raise RateCsvError(f"{name}: line {line}: field eur_per_unit: {row['eur_per_unit']!r} {problem}")
        rates.append(Rate(day, currency, value))
    if not rates:
        raise RateCsvError(f"{name}: no rate rows")
    return rates
