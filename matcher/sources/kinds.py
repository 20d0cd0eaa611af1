"""What an organisation's name says about its kind, for sources whose own categories are coarse
(CORDIS's activity types, ClinicalTrials.gov's sponsor classes), and the slug of a name."""

from __future__ import annotations

import hashlib
import re

from .countries import fold

HOSPITAL = re.compile(
    r"hospital|hôpita|hopita|clinic(?!al)|klinik|clínic|medical cent(?:er|re)|cancer cent(?:er|re)"
    r"|health|sjukhus|sygehus|sykehus|ziekenhuis|ospedal|szpital|nemocnic|\bnhs\b|\bchu\b"
    r"|universitätsklinikum|universitatsklinikum|\birccs\b|policlinico",
    re.I,
)
"""A hospital or clinic in the languages CORDIS and ClinicalTrials.gov names come in."""

PHARMA = re.compile(
    r"pharma|novartis|roche|pfizer|astrazeneca|glaxo|\bgsk\b|sanofi|bristol[- ]myers|merck"
    r"|johnson ?& ?johnson|janssen|abbvie|\bbayer\b|boehringer|novo nordisk|takeda|astellas"
    r"|eli lilly|daiichi|eisai|\bamgen\b|gilead|biogen|vertex|regeneron|servier|ipsen|\bucb\b",
    re.I,
)
"""'Pharma', 'Pharmaceuticals', or one of the large pharmaceutical groups."""

CDMO = re.compile(
    r"\bc?dmo\b|contract (?:development and )?manufactur|biomanufactur|manufacturing"
    r" (?:services|organi[sz]ation)|\bbioservices?\b",
    re.I,
)
CRO = re.compile(r"\bcro\b|contract research|clinical research organi[sz]ation", re.I)
FUNDER = re.compile(
    r"foundation|fondation|stiftelse|stiftung|fundaci[oó]n\b|\bfund\b|research council"
    r"|\bagency\b|ministry|national institutes? of|\bsociety\b|\btrust\b|charity|vinnova",
    re.I,
)
"""A funder: foundations, research councils, agencies, societies, trusts."""
ACADEMIC = re.compile(r"universit|college|institut|school of|academ|högskola|hochschule", re.I)
CONSULTANCY = re.compile(r"consult|management services|project management", re.I)

_SLUG_MAX = 96


def slug(*parts: str) -> str:
    """A stable id fragment for a name: folded, accents off, runs of other characters as '-';
    long names keep a prefix and a short hash of the whole, so that ids stay under 128."""
    folded = (re.sub("['\\u2019`]", "", fold(part)) for part in parts if part)
    text = "-".join(re.sub(r"[^a-z0-9]+", "-", part).strip("-") for part in folded)
    if len(text) <= _SLUG_MAX:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{text[: _SLUG_MAX - 9].rstrip('-')}-{digest}"
