"""Entity resolution over the stored organisations: the candidates (each organisation with its
sources' identifiers), the clusters written back to the store, and people's decisions (the same
organisation, or a wrong merge split) kept for every later resolution."""

from __future__ import annotations

from ..domain import UNKNOWN_COUNTRY, EntityKind, Organisation
from ..store import Store
from .resolve import Candidate, Resolution, resolve

_IDENTIFIER_OF = {"cordis": "pic"}
"""Source ids that identify an organisation across sources: CORDIS's participant ids."""


def candidates(store: Store) -> list[Candidate]:
    """Every stored organisation, with the identifiers its source records give."""
    identifiers: dict[str, dict[str, str]] = {}
    for record in store.source_records():
        key = _IDENTIFIER_OF.get(record.source)
        if key is not None:
            identifiers.setdefault(record.entity_id, {})[key] = record.source_id
    found = []
    for entity in store.entities(EntityKind.ORGANISATION, None):
        if isinstance(entity, Organisation):
            country = None if entity.country == UNKNOWN_COUNTRY else entity.country
            found.append(Candidate(entity.id, entity.name, country, identifiers.get(entity.id, {})))
    return found


def resolve_stored(store: Store, threshold: float = 0.95, review_band: float = 0.08) -> Resolution:
    """Resolve every stored organisation, with people's decisions as must- and cannot-links,
    and store the clusters (one transaction)."""
    decisions = store.org_decisions()
    resolution = resolve(
        candidates(store),
        threshold,
        review_band,
        must_link=[(a, b) for a, b, same in decisions if same],
        cannot_link=[(a, b) for a, b, same in decisions if not same],
    )
    members = [
        (
            member,
            cluster.id,
            cluster.confidence,
            "; ".join(sorted({link.why for link in cluster.links})),
        )
        for cluster in resolution.clusters
        if len(cluster.members) > 1
        for member in cluster.members
    ]
    store.set_org_clusters(members)
    return resolution


def decide(store: Store, a: str, b: str, same: bool, by: str) -> Resolution:
    """Record a person's decision on a pair and resolve again. Raises NotFound."""
    store.decide_orgs(a, b, same, by)
    return resolve_stored(store)
