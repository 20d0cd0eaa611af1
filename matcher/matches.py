"""What a ranking returns: the matches, best first, each with its one readable score, and what
a person must know before reading them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from .domain import (
    CallStatus,
    Entity,
    EntityKind,
    FundingCall,
    Modality,
    Need,
    Organisation,
    OrgKind,
    Project,
    Stage,
)
from .ranking.calibration import Strength
from .ranking.calls import PROPOSABLE
from .ranking.reasons import Reasons


class Target(StrEnum):
    PARTNERS = "partners"
    CALLS = "calls"
    PROJECTS = "projects"


@dataclass(frozen=True)
class Match:
    id: str
    name: str
    entity: EntityKind
    """What the candidate is: an organisation, a call or a project."""
    kind: OrgKind | None
    """The organisation's kind (cdmo, cro, ...); None for calls and projects."""
    score: float
    """The estimated probability, in [0, 1], that the pair is a relevant match (for calls, times
    how far the time left lets the hub apply). Comparable across partners, calls and projects."""
    strength: Strength
    rank: int
    reasons: Reasons | None
    """None when asked for without explanations."""
    raw_score: float = 0.0
    """The ranker's raw score: orders matches of equal score, means nothing across scorers."""
    country: str | None = None
    """An organisation's country."""
    funder: str | None = None
    """A call's funder."""
    modality: Modality | None = None
    """A project's modality."""
    also: tuple[str, ...] = ()
    """The ids of other stored records of the same organisation, merged into this candidate by
    entity resolution (`matcher orgs resolve`): their documents count as its evidence."""


@dataclass(frozen=True)
class Ranking:
    """The matches of one query, best first, and what a person must know before reading them:
    whether anything fits at all, and for a call, whether it can still be applied to."""

    matches: list[Match]
    nothing_fits: bool = False
    notice: str = ""
    """One line to show before the matches (empty when there is nothing to say)."""

    def __iter__(self) -> Iterator[Match]:
        return iter(self.matches)

    def __len__(self) -> int:
        return len(self.matches)

    def __getitem__(self, i: int) -> Match:
        return self.matches[i]


@dataclass(frozen=True)
class Profile:
    """What a pasted text may say of itself, so that its call verdicts can be decided."""

    stage: Stage | None = None
    modality: Modality | None = None
    needs: tuple[Need, ...] = ()


NO_PROFILE = Profile()

ALL_STATUSES: frozenset[CallStatus] = PROPOSABLE
"""The statuses a call is proposed in by default (and at most)."""


def match_of(
    candidate: Entity,
    kind: EntityKind,
    score: float,
    strength: Strength,
    rank: int,
    reasons: Reasons | None,
    raw: float,
    also: tuple[str, ...] = (),
) -> Match:
    return Match(
        id=candidate.id,
        name=candidate.name,
        entity=kind,
        kind=candidate.kind if isinstance(candidate, Organisation) else None,
        score=score,
        strength=strength,
        rank=rank,
        reasons=reasons,
        raw_score=round(float(raw), 6),
        country=candidate.country if isinstance(candidate, Organisation) else None,
        funder=candidate.funder if isinstance(candidate, FundingCall) else None,
        modality=candidate.modality if isinstance(candidate, Project) else None,
        also=also,
    )
