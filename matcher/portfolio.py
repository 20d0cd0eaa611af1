"""The portfolio at a glance: for every project, its best partner and call, and for each of its
needs whether a strong candidate of the right kind covers it. Where nothing does is a
chokepoint: the hub's reason to exist is to find those early."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .domain import EntityKind, Need, Organisation, OrgKind
from .matches import Match, Ranking
from .ranking.calibration import STRONG, Strength
from .ranking.facets import capabilities_for
from .recommender import Recommender
from .workflow import PipelineStage

NEED_KINDS: dict[Need, frozenset[OrgKind]] = {
    Need.GMP_MANUFACTURING: frozenset({OrgKind.CDMO}),
    Need.VECTOR_SUPPLY: frozenset({OrgKind.CDMO}),
    Need.PROCESS_DEVELOPMENT: frozenset({OrgKind.CDMO}),
    Need.ANALYTICS_QC: frozenset({OrgKind.CDMO, OrgKind.CRO}),
    Need.CRO_SERVICES: frozenset({OrgKind.CRO}),
    Need.CLINICAL_SITES: frozenset({OrgKind.HOSPITAL_UNIT}),
    Need.REGULATORY_ADVICE: frozenset({OrgKind.CRO}),
    Need.CO_FUNDING: frozenset({OrgKind.FUNDER, OrgKind.PHARMA}),
    Need.INDUSTRY_PARTNER: frozenset({OrgKind.PHARMA, OrgKind.BIOTECH}),
}
"""The organisations whose kind answers each need; one that declares a capability for the need
answers it too (a hospital's GMP unit, a biotech's vector plant)."""

COVERED = STRONG
"""A need is covered when a candidate that answers it is at least this likely to be a relevant
match (a `strong` match); a `good` one covers it in part."""

CANDIDATES = 30
"""How many partners of a project are looked through for the ones that answer its needs."""


@dataclass(frozen=True)
class NeedCover:
    """How well one need of a project is answered: by its best candidate of the right kind (a
    partner, or for co-funding also an eligible open or forthcoming call), or by nothing."""

    need: Need
    best: Match | None

    @property
    def level(self) -> Strength | None:
        """strong (covered), good (in part), weak; None when no candidate answers the need."""
        return None if self.best is None else self.best.strength


def answers(organisation: Organisation, need: Need) -> bool:
    """Whether an organisation is of a kind, or declares a capability, that answers the need."""
    return organisation.kind in NEED_KINDS[need] or bool(
        set(organisation.capabilities) & set(capabilities_for(need))
    )


def covers(
    needs: Sequence[Need], partners: Ranking, calls: Ranking, recommender: Recommender
) -> tuple[NeedCover, ...]:
    """Each need's best candidate among a project's ranked partners and calls."""
    found = []
    for need in sorted(needs, key=list(Need).index):
        candidates = [
            m
            for m in partners
            if isinstance(org := recommender.get(m.id, EntityKind.ORGANISATION), Organisation)
            and answers(org, need)
        ]
        if need is Need.CO_FUNDING:
            candidates += list(calls)
        best = max(candidates, key=lambda m: (m.score, m.raw_score), default=None)
        found.append(NeedCover(need, best))
    return tuple(found)


def in_order(stages: Sequence[PipelineStage]) -> tuple[PipelineStage, ...]:
    """Distinct stages in the order a match moves through them."""
    return tuple(sorted(set(stages), key=list(PipelineStage).index))
