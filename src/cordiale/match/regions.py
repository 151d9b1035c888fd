"""Regions for third partners: OpenAlex continents as ISO 3166-1 alpha-2 country lists, or a country list."""

from __future__ import annotations

from cordiale.errors import UsageError


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The seven continents OpenAlex uses (its `continent` filter), by the countries in each.
CONTINENTS: dict[str, frozenset[str]] = {
    "africa": _codes(
        "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML "
        "MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW "
    ),
    "asia": _codes(
        "AF AM AZ BH BD BT BN KH CN CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP KP OM "
        "PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE "
    ),
    "europe": _codes(
        "AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG HU IS IE IM IT JE XK LV LI LT LU MT MD MC "
        "ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB VA AX "
    ),
    "north-america": _codes(
        "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN "
        "LC MF PM VC SX TT TC US VI "
    ),
    "south-america": _codes("AR BO BR CL CO EC FK GF GY PY PE SR UY VE "),
    "oceania": _codes("AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV UM VU WF "),
    "antarctica": _codes("AQ BV GS HM TF "),
}
ALIASES = {
    "afrique": "africa",
    "asie": "asia",
    "europe": "europe",
    "amerique du nord": "north-america",
    "north america": "north-america",
    "amerique du sud": "south-america",
    "south america": "south-america",
    "latin america": "south-america",
    "oceanie": "oceania",
}


def parse_region(text: str) -> tuple[str, frozenset[str]]:
    """``africa`` → ("africa", its countries); ``SN,CI`` → ("SN, CI", {"SN", "CI"})."""
    key = text.strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key in CONTINENTS:
        return key, CONTINENTS[key]
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    known = set().union(*CONTINENTS.values())
    bad = [c for c in codes if c not in known]
    if not codes or bad:
        raise UsageError(
            f"--region {text!r}: give a continent ({', '.join(sorted(CONTINENTS))}) or ISO country codes "
            f"such as SN,CI,MA" + (f" (unknown: {', '.join(bad)})" if bad else "")
        )
    return ", ".join(codes), frozenset(codes)
