"""Why a match was made: the evidence behind each part of its score, in words a user can check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .eligibility import Verdict


@dataclass(frozen=True)
class SentencePair:
    """The sentence of the query side and of the candidate whose embeddings agree most."""

    query: str
    candidate: str
    similarity: float


@dataclass(frozen=True)
class DeadlineInfo:
    status: str
    """open, forthcoming or closed, on the day the match was made."""
    next_deadline: dt.date | None
    label: str
    days_left: int | None
    """None for rolling calls, which accept applications at any time."""
    opening_date: dt.date | None = None


@dataclass(frozen=True)
class Reasons:
    score_parts: dict[str, float]
    """The score split by evidence (dense, lexical, facets, profile, programme, bias); the parts
    add up to the score."""
    features: dict[str, float]
    """The raw feature values the score was computed from."""
    sentences: SentencePair | None = None
    shared_facets: tuple[str, ...] = ()
    shared_terms: tuple[str, ...] = ()
    deadline: DeadlineInfo | None = None
    eligibility: Verdict | None = None
    summary: str = field(default="")


def summarise(reasons: Reasons) -> str:
    """One line that explains the match without opening anything else."""
    parts: list[str] = []
    if reasons.shared_facets:
        parts.append("shares " + ", ".join(reasons.shared_facets[:4]))
    if reasons.sentences is not None:
        parts.append(f"closest sentences agree at {reasons.sentences.similarity:.2f}")
    if reasons.shared_terms:
        parts.append("common terms: " + ", ".join(reasons.shared_terms[:4]))
    if reasons.deadline is not None:
        d = reasons.deadline
        if d.days_left is None and d.status != "closed":
            parts.append("rolling call, apply any time")
        elif d.status == "forthcoming" and d.opening_date:
            parts.append(f"opens {d.opening_date.isoformat()}")
        if d.days_left is not None and d.next_deadline is not None:
            label = f" ({d.label})" if d.label else ""
            parts.append(
                f"next deadline {d.next_deadline.isoformat()}{label}, {d.days_left} days left"
            )
    if reasons.eligibility is not None:
        parts.append(f"{reasons.eligibility.outcome.value}: {reasons.eligibility.rule}")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else "Similar texts."
