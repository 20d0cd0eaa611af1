"""Organisations that entity resolution found to be one (`matcher orgs resolve`) rank as one
candidate: the cluster's canonical record, with the documents, capabilities, modalities and
indications of every member, so that a CORDIS participant and the same company's trials are one
body of evidence instead of two half-strength candidates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..domain import UNKNOWN_COUNTRY, Entity, Organisation
from ..store import StoredDocument


@dataclass(frozen=True)
class Collapsed:
    """A kind's entities and documents with every cluster made one entity."""

    entities: list[Entity]
    documents: list[StoredDocument]
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Canonical id -> the other records merged into it, in id order."""
    canonical: dict[str, str] = field(default_factory=dict)
    """Merged member id -> the canonical id it ranks as."""


def collapse(
    entities: Sequence[Entity],
    documents: Sequence[StoredDocument],
    clusters: Mapping[str, tuple[str, float, str]],
) -> Collapsed:
    """Merge each cluster (member id -> (canonical id, confidence, why), as the store gives
    them) into its canonical entity; entities in no cluster, or whose canonical record is not
    among `entities`, are kept as they are."""
    by_id = {e.id: e for e in entities}
    groups: dict[str, list[str]] = {}
    for member, (canonical, _confidence, _why) in sorted(clusters.items()):
        if member != canonical and member in by_id and canonical in by_id:
            groups.setdefault(canonical, []).append(member)
    if not groups:
        return Collapsed(list(entities), list(documents))
    canonical_of = {m: c for c, ms in groups.items() for m in ms}
    merged = {c: _merge(by_id[c], [by_id[m] for m in ms]) for c, ms in groups.items()}
    kept = [merged.get(e.id, e) for e in entities if e.id not in canonical_of]
    moved = [
        replace(d, entity_id=canonical_of[d.entity_id]) if d.entity_id in canonical_of else d
        for d in documents
    ]
    return Collapsed(kept, moved, {c: tuple(ms) for c, ms in groups.items()}, canonical_of)


def _merge(canonical: Entity, others: list[Entity]) -> Entity:
    if not isinstance(canonical, Organisation):
        return canonical
    orgs = [canonical, *(o for o in others if isinstance(o, Organisation))]
    country = next((o.country for o in orgs if o.country != UNKNOWN_COUNTRY), canonical.country)
    return replace(
        canonical,
        country=country,
        profile=tuple(d for o in orgs for d in o.profile),
        capabilities=_union(o.capabilities for o in orgs),
        modalities=_union(o.modalities for o in orgs),
        indications=_union(o.indications for o in orgs),
        website=next((o.website for o in orgs if o.website), None),
    )


T = TypeVar("T")


def _union(values: Iterable[tuple[T, ...]]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(v for vs in values for v in vs))
