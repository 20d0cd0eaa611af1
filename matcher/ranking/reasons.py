"""Why a match was made: the evidence behind its score, in words a user can check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from .eligibility import Outcome, Verdict


@dataclass(frozen=True)
class SentencePair:
    """The sentence of the query side and of the candidate whose embeddings agree most."""

    query: str
    candidate: str
    similarity: float


@dataclass(frozen=True)
class DeadlineInfo:
    status: str
    """open, forthcoming, closed or withdrawn, on the day the match was made."""
    next_deadline: dt.date | None
    """None for rolling calls, and for calls that can no longer be applied to."""
    label: str
    days_left: int | None
    opening_date: dt.date | None = None
    timing: float = 1.0
    """How far the time left lets the hub apply (1: a month or more; 0: too late)."""


@dataclass(frozen=True)
class Reasons:
    score_parts: dict[str, float]
    """The score split by the evidence that raised it (dense, lexical, facets, profile,
    programme, registry); every part is at least 0 and the parts add up to the score."""
    features: dict[str, float]
    """The raw feature values the score was computed from."""
    raw_score: float = 0.0
    """The ranker's raw score, before calibration (comparable within one scorer only)."""
    sentences: SentencePair | None = None
    shared_facets: tuple[str, ...] = ()
    shared_terms: tuple[str, ...] = ()
    deadline: DeadlineInfo | None = None
    eligibility: Verdict | None = None
    track_record: str = ""
    """The organisation's registered work on what the project is about ('ran 3 phase II trials
    with MSC-FFM in GvHD since 2019'); empty without registry facts that meet it."""
    summary: str = field(default="")


def positive_parts(raw_parts: Mapping[str, float], score: float) -> dict[str, float]:
    """The score shared among the evidence families that raised the raw score, in proportion
    to what each added; families that lowered it (and the bias) get no part."""
    raised = {k: v for k, v in raw_parts.items() if k != "bias" and v > 0}
    total = sum(raised.values())
    if total <= 0:
        return {}
    return {k: round(score * v / total, 6) for k, v in sorted(raised.items(), key=lambda i: -i[1])}


_MAX_QUOTE = 150


def _quote(sentence: str) -> str:
    text = " ".join(sentence.split()).rstrip(".")
    if len(text) <= _MAX_QUOTE:
        return text
    cut = text[:_MAX_QUOTE].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + " ..."


def _facet_values(facets: tuple[str, ...]) -> list[str]:
    """'modality: car t' -> 'CAR-T'-like readable values, in the order given."""
    out = []
    for facet in facets:
        _, _, value = facet.partition(": ")
        out.append(_PRETTY.get(value, value))
    return out


_PRETTY = {
    "car t": "CAR-T",
    "tcr t": "TCR-T",
    "nk cell": "NK cells",
    "treg": "Tregs",
    "til": "TILs",
    "aav": "AAV",
    "lentiviral": "lentiviral vectors",
    "crispr edited": "CRISPR editing",
    "ipsc derived": "iPSC-derived cells",
    "msc": "MSCs",
    "gmp manufacturing": "GMP manufacturing",
    "analytics qc": "analytics and QC",
    "cro services": "CRO services",
    "co funding": "co-funding",
    "b-cell malignancies": "B-cell malignancies",
    "type 1 diabetes": "type 1 diabetes",
}


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summarise(reasons: Reasons) -> str:
    """One plain sentence a business developer can read aloud, made only of the evidence: the
    candidate's own sentence closest to the query, the shared facets and terms, and for a call
    its status, time left and eligibility."""
    parts: list[str] = []
    if reasons.track_record:
        parts.append(reasons.track_record)
    if reasons.sentences is not None and reasons.sentences.similarity >= 0.3:
        parts.append(f'"{_quote(reasons.sentences.candidate)}"')
    shared = _facet_values(reasons.shared_facets[:4])
    named = [s.lower() for s in shared]
    terms = [
        t
        for t in reasons.shared_terms
        if not any(t.lower().startswith(n) or n.startswith(t.lower()) for n in named)
    ]
    if shared:
        parts.append("shares " + _joined(shared))
    if terms:
        parts.append("both mention " + _joined(terms[:3]))
    d = reasons.deadline
    if d is not None:
        if d.status in ("closed", "withdrawn"):
            parts.append(f"the call is {d.status}")
        else:
            when = ""
            if d.status == "forthcoming" and d.opening_date:
                when = f"opens {d.opening_date.isoformat()}, "
            if d.next_deadline is None:
                parts.append(f"{d.status}, {when}rolling: apply any time")
            else:
                label = f" [{d.label}]" if d.label else ""
                parts.append(
                    f"{d.status}, {when}deadline {d.next_deadline.isoformat()}{label}, "
                    f"{d.days_left} days left"
                )
    v = reasons.eligibility
    if v is not None:
        if v.outcome is Outcome.ELIGIBLE:
            parts.append("the hub may apply")
        else:
            parts.append(f"{v.outcome.value}: {v.rule}")
    text = "; ".join(parts) if parts else "similar texts, no shared facet or term"
    return text[:1].upper() + text[1:] + "."
