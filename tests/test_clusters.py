"""Organisations that entity resolution found to be one rank as one candidate: the canonical
record with every member's documents, named once, with the merged records listed; a member's id
still finds it (reverse matching, pages), and a split makes them two candidates again."""

from __future__ import annotations

from pathlib import Path

import pytest

from matcher import (
    Document,
    DocumentEncoder,
    EntityKind,
    Organisation,
    OrgKind,
    Recommender,
    Store,
    build_indexes,
)
from matcher.ranking.clusters import collapse
from matcher.records import parse_project
from matcher.sources import import_source
from matcher.sources.orgs import decide, resolve_stored
from matcher.store import StoredDocument
from tests.conftest import make_project

SOURCES = Path(__file__).parent / "data" / "sources"
HELIXA = ("CORDIS:999000004", "CTGOV:helixa-therapeutics-gmbh")


def org(id: str, country: str, *texts: str, **fields: object) -> Organisation:
    profile = tuple(Document(f"doc {i}", t) for i, t in enumerate(texts))
    values: dict[str, object] = {"kind": OrgKind.BIOTECH, "profile": profile, **fields}
    return Organisation(id=id, name=id.lower(), country=country, **values)  # type: ignore[arg-type]


def test_a_cluster_becomes_its_canonical_record_with_every_members_evidence():
    a = org("A", "ZZ", "trials of AAV in the retina", capabilities=("clinical_trials",))
    b = org("B", "DE", "AAV vector process", capabilities=("viral_vector_manufacturing",))
    c = org("C", "SE", "unrelated")
    documents = [
        StoredDocument(1, 1, "A", "trials of AAV in the retina"),
        StoredDocument(2, 2, "B", "AAV vector process"),
        StoredDocument(3, 3, "C", "unrelated"),
    ]
    clusters = {"A": ("A", 1.0, "pic"), "B": ("A", 1.0, "pic")}
    one = collapse([a, b, c], documents, clusters)
    assert [e.id for e in one.entities] == ["A", "C"]
    merged = one.entities[0]
    assert isinstance(merged, Organisation)
    assert merged.country == "DE"  # a known country wins over 'unknown'
    assert [d.text for d in merged.profile] == ["trials of AAV in the retina", "AAV vector process"]
    assert merged.capabilities == ("clinical_trials", "viral_vector_manufacturing")
    assert [(d.rowid, d.entity_id) for d in one.documents] == [(1, "A"), (2, "A"), (3, "C")]
    assert one.members == {"A": ("B",)} and one.canonical == {"B": "A"}


def test_nothing_changes_without_clusters_or_when_the_canonical_record_is_gone():
    a, b = org("A", "SE", "x"), org("B", "SE", "y")
    documents = [StoredDocument(1, 1, "A", "x"), StoredDocument(2, 2, "B", "y")]
    assert collapse([a, b], documents, {}).entities == [a, b]
    gone = collapse([b], documents[1:], {"B": ("A", 0.97, "name")})
    assert gone.entities == [b] and gone.members == {}


@pytest.fixture(scope="module")
def imported(tmp_path_factory, embedder) -> Path:
    """CORDIS and ClinicalTrials.gov fixtures imported, with one retinal AAV project, indexed."""
    root = tmp_path_factory.mktemp("clusters")
    with Store(root / "matcher.db") as store:
        import_source(store, "cordis", SOURCES / "cordis" / "csv")
        import_source(store, "ctgov", SOURCES / "ctgov" / "studies")
        store.upsert([parse_project(make_project())])
        build_indexes(store, DocumentEncoder(embedder, store), root / "models", sentences=False)
    return root


def open_recommender(root: Path, store: Store, embedder) -> Recommender:
    return Recommender.open(store, DocumentEncoder(embedder, store), root / "models", lazy=True)


def test_resolved_organisations_rank_as_one_candidate(imported, embedder, tmp_path):
    with Store(imported / "matcher.db") as store:
        before = open_recommender(imported, store, embedder)
        ids = [m.id for m in before.partners_for("P-1", k=50, explain=False).matches]
        assert set(HELIXA) <= set(ids)  # not resolved yet: two half-strength candidates

        resolve_stored(store)
        canonical = store.org_clusters()[HELIXA[0]][0]
        member = next(i for i in HELIXA if i != canonical)
        after = open_recommender(imported, store, embedder)
        ranking = after.partners_for("P-1", k=50).matches
        ids = [m.id for m in ranking]
        assert canonical in ids and member not in ids
        helixa = ranking[ids.index(canonical)]
        assert helixa.also == (member,)
        assert helixa.reasons is not None and helixa.reasons.summary
        stored = {i: store.get(i, EntityKind.ORGANISATION) for i in HELIXA}
        merged = after.get(member)
        assert merged.id == canonical
        assert len(merged.documents()) == sum(len(o.documents()) for o in stored.values())
        target = after.collections[EntityKind.ORGANISATION]
        docs = target.entity_docs(target.positions[canonical])
        assert len(docs) == len(merged.documents())
        # A member's id still finds the organisation: the same reverse ranking as the canonical.
        by_member = after.projects_for(member, explain=False).matches
        by_canonical = after.projects_for(canonical, explain=False).matches
        assert [(m.id, m.score) for m in by_member] == [(m.id, m.score) for m in by_canonical]

        decide(store, *HELIXA, same=False, by="reviewer")  # a wrong merge split again
        split = open_recommender(imported, store, embedder)
        ids = [m.id for m in split.partners_for("P-1", k=50, explain=False).matches]
        assert set(HELIXA) <= set(ids)
