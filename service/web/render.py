"""Rendering pages: one Jinja environment (autoescaped), the context every page gets, and the
words the templates use for the product's values."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from matcher import COVERED, GOOD, Principal, Strength

from .security import csrf_token

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

LABELS = {
    # needs
    "gmp_manufacturing": "GMP manufacturing",
    "vector_supply": "Vector supply",
    "process_development": "Process development",
    "analytics_qc": "Analytics and QC",
    "cro_services": "CRO services",
    "clinical_sites": "Clinical sites",
    "regulatory_advice": "Regulatory advice",
    "co_funding": "Co-funding",
    "industry_partner": "Industry partner",
    # organisation kinds
    "pharma": "Pharma",
    "biotech": "Biotech",
    "cdmo": "CDMO",
    "cro": "CRO",
    "hospital_unit": "Hospital unit",
    "academic_group": "Academic group",
    "funder": "Funder",
    "other": "Other",
    # modalities
    "car_t": "CAR-T",
    "tcr_t": "TCR-T",
    "nk_cell": "NK cells",
    "treg": "Tregs",
    "til": "TILs",
    "other_immune_cell": "Other immune cells",
    "aav": "AAV",
    "lentiviral": "Lentiviral",
    "crispr_edited": "CRISPR-edited",
    "ipsc_derived": "iPSC-derived",
    "msc": "MSC",
    "tissue_engineered": "Tissue-engineered",
    # stages
    "discovery": "Discovery",
    "preclinical": "Preclinical",
    "gmp_process_development": "GMP process development",
    "phase_1": "Phase 1",
    "phase_2_plus": "Phase 2+",
    # visibility, call status
    "confidential": "Confidential",
    "internal": "Internal",
    "public": "Public",
    "open": "Open",
    "forthcoming": "Forthcoming",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
    # pipeline
    "to_contact": "To contact",
    "contacted": "Contacted",
    "cda_signed": "CDA signed",
    "proposal_submitted": "Proposal submitted",
    "won": "Won",
    "dropped": "Dropped",
    # feedback
    "relevant": "Relevant",
    "not_relevant": "Not relevant",
    "already_known": "Already known",
}


def label(value: Any) -> str:
    """The words for an enum's value (or any text): `cdmo` -> `CDMO`."""
    raw = str(getattr(value, "value", value))
    return LABELS.get(raw, raw.replace("_", " ").capitalize())


def percent(score: float | None) -> str:
    """A calibrated score as people read it: the chance the match is relevant."""
    return "" if score is None else f"{round(score * 100)} %"


def day(moment: dt.date | dt.datetime | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, dt.datetime):
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(label=label, percent=percent, day=day)
    env.globals.update(
        STRONG=Strength.STRONG, GOOD_THRESHOLD=GOOD, COVERED=COVERED, percent=percent
    )
    return env


def page(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered page (or, for an htmx request naming a fragment, the fragment alone)."""
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            principal=principal,
            csrf=csrf_token(request),
            path=request.url.path,
            htmx=request.headers.get("HX-Request") == "true",
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)
