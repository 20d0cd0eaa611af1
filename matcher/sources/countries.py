"""Country codes as the sources write them: ISO 3166-1 alpha-2 codes, and the English country
names ClinicalTrials.gov gives its sites."""

from __future__ import annotations

import unicodedata

from ..domain import UNKNOWN_COUNTRY

_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW XK
"""
ISO_ALPHA2 = frozenset(_CODES.split())
"""The officially assigned codes, and XK (Kosovo), which the EU and CORDIS use."""

UNKNOWN = UNKNOWN_COUNTRY

_NAMES = {
    "argentina": "AR", "armenia": "AM", "australia": "AU", "austria": "AT", "bangladesh": "BD",
    "belarus": "BY", "belgium": "BE", "bosnia and herzegovina": "BA", "brazil": "BR",
    "bulgaria": "BG", "canada": "CA", "chile": "CL", "china": "CN", "colombia": "CO",
    "croatia": "HR", "cuba": "CU", "cyprus": "CY", "czechia": "CZ", "czech republic": "CZ",
    "denmark": "DK", "ecuador": "EC", "egypt": "EG", "estonia": "EE", "finland": "FI",
    "france": "FR", "georgia": "GE", "germany": "DE", "greece": "GR", "hong kong": "HK",
    "hungary": "HU", "iceland": "IS", "india": "IN", "indonesia": "ID", "iran": "IR",
    "iran, islamic republic of": "IR", "iraq": "IQ", "ireland": "IE", "israel": "IL",
    "italy": "IT", "japan": "JP", "jordan": "JO", "kazakhstan": "KZ", "kenya": "KE",
    "korea, republic of": "KR", "south korea": "KR", "republic of korea": "KR", "kuwait": "KW",
    "latvia": "LV", "lebanon": "LB", "lithuania": "LT", "luxembourg": "LU", "malaysia": "MY",
    "malta": "MT", "mexico": "MX", "moldova, republic of": "MD", "moldova": "MD",
    "monaco": "MC", "montenegro": "ME", "morocco": "MA", "netherlands": "NL",
    "new zealand": "NZ", "nigeria": "NG", "north macedonia": "MK", "norway": "NO", "oman": "OM",
    "pakistan": "PK", "panama": "PA", "peru": "PE", "philippines": "PH", "poland": "PL",
    "portugal": "PT", "puerto rico": "PR", "qatar": "QA", "romania": "RO",
    "russian federation": "RU", "russia": "RU", "saudi arabia": "SA", "serbia": "RS",
    "singapore": "SG", "slovakia": "SK", "slovenia": "SI", "south africa": "ZA", "spain": "ES",
    "sri lanka": "LK", "sweden": "SE", "switzerland": "CH", "taiwan": "TW", "thailand": "TH",
    "tunisia": "TN", "turkey": "TR", "turkiye": "TR", "uganda": "UG", "ukraine": "UA",
    "united arab emirates": "AE", "united kingdom": "GB", "united states": "US",
    "uruguay": "UY", "venezuela": "VE", "vietnam": "VN", "viet nam": "VN",
}  # fmt: skip
"""ClinicalTrials.gov's country names (folded: lower case, no accents) that its studies use."""


def fold(text: str) -> str:
    """Lower case without accents and with single spaces: 'Türkiye ' -> 'turkiye'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def country_code(name: str) -> str | None:
    """The alpha-2 code of a country name (or of a code written as one), or None if unknown."""
    folded = fold(name)
    if len(folded) == 2 and folded.upper() in ISO_ALPHA2:
        return folded.upper()
    return _NAMES.get(folded)
