"""Two-stage ranking: a shortlist of candidates, then features and the scorer on it alone.

The demo is small enough to be scored whole, so these tests shortlist it on purpose
(`exhaustive_below=0`) and compare with scoring every candidate."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import EXHAUSTIVE, FEATURES, EntityKind, Recommender, Retrieval, Target
from matcher.ranking.collection import Query
from matcher.ranking.subset import Slice
from matcher.vectors.index import FLAT_LIMIT, NeighbourParams, Neighbours

ALWAYS = Retrieval(exhaustive_below=0)
NARROW = Retrieval(dense=5, lexical=5, registry=5, exhaustive_below=0)


def with_retrieval(demo: Recommender, retrieval: Retrieval) -> Recommender:
    return Recommender(
        demo.store, demo.encoder, demo.collections, scorers=demo.scorers,
        calibrations=demo.calibrations, hub_country=demo.hub_country, today=demo.today,
        retrieval=retrieval,
    )  # fmt: skip


def stored_query(demo: Recommender, project_id: str) -> Query:
    return demo._stored_query(project_id, EntityKind.PROJECT)


@pytest.mark.parametrize("kind", [EntityKind.ORGANISATION, EntityKind.CALL])
def test_a_shortlisted_candidate_has_exactly_its_features_over_the_whole_collection(
    demo: Recommender, kind: EntityKind
) -> None:
    target = demo.collections[kind]
    projects = demo.collections[EntityKind.PROJECT]
    rng = np.random.default_rng(0)
    checked = 0
    for project in projects.entities[:12]:
        query = stored_query(demo, project.id)
        # Leave out one document of a shortlisted organisation, as the benchmark's mask does.
        rows = rng.choice(len(target), size=len(target) // 3, replace=False)
        exclude = [int(target.doc_rowids[target.docs_of[int(rows[0])][0]])]
        full = target.features(query, exclude)
        positions, part = target.shortlist_features(query, rows, exclude)
        assert set(rows.tolist()) <= set(positions.tolist())
        for column, name in enumerate(FEATURES):
            np.testing.assert_allclose(
                part[:, column], full[positions, column], atol=1e-5, err_msg=name
            )
        checked += int(np.abs(part).sum() > 0)
    assert checked == 12


def test_a_shortlisted_call_brings_its_whole_programme(demo: Recommender) -> None:
    calls = demo.collections[EntityKind.CALL]
    grouped = np.flatnonzero(calls.grouped)
    assert len(grouped), "the demo has calls of one programme"
    one = int(grouped[0])
    query = stored_query(demo, demo.collections[EntityKind.PROJECT].entities[0].id)
    positions, _ = calls.shortlist_features(query, [one])
    siblings = np.flatnonzero(calls.group == calls.group[one])
    assert set(siblings.tolist()) == set(positions.tolist())


def test_the_shortlist_keeps_the_exhaustive_top_ten(demo: Recommender) -> None:
    shortlisted = with_retrieval(demo, ALWAYS)
    exhaustive = with_retrieval(demo, EXHAUSTIVE)
    kept = []
    for project in demo.collections[EntityKind.PROJECT].entities:
        a = shortlisted.partners_for(project.id, k=10, explain=False)
        b = exhaustive.partners_for(project.id, k=10, explain=False)
        kept.append(len({m.id for m in a.matches} & {m.id for m in b.matches}) / 10)
        # A candidate both rank has the same score: a shortlist never changes a score.
        scores = {m.id: m.score for m in b.matches}
        for m in a.matches:
            if m.id in scores:
                assert m.score == scores[m.id]
    assert np.mean(kept) >= 0.95


def test_a_narrow_shortlist_scores_fewer_candidates_and_keeps_the_best(
    demo: Recommender,
) -> None:
    narrow = with_retrieval(demo, NARROW)
    exhaustive = with_retrieval(demo, EXHAUSTIVE)
    organisations = len(demo.collections[EntityKind.ORGANISATION])
    firsts = []
    for project in demo.collections[EntityKind.PROJECT].entities:
        a = narrow.partners_for(project.id, k=organisations, explain=False)
        b = exhaustive.partners_for(project.id, k=1, explain=False)
        assert 0 < len(a.matches) < organisations
        firsts.append(a.matches[0].id == b.matches[0].id)
    assert np.mean(firsts) >= 0.8


def test_a_left_out_document_brings_no_candidate(demo: Recommender) -> None:
    organisations = demo.collections[EntityKind.ORGANISATION]
    project = demo.collections[EntityKind.PROJECT].entities[0]
    query = stored_query(demo, project.id)
    found = NARROW.shortlist(organisations, query)
    assert found is not None
    everything = organisations.doc_rowids.tolist()
    assert NARROW.shortlist(organisations, query, exclude=everything).size == 0


def test_the_mask_is_kept_and_a_small_mask_is_scored_whole(demo: Recommender) -> None:
    shortlisted = with_retrieval(demo, Retrieval(dense=5, lexical=5, exhaustive_below=20))
    organisations = demo.collections[EntityKind.ORGANISATION]
    project = demo.collections[EntityKind.PROJECT].entities[0].id
    few = [e.id for e in organisations.entities[:15]]
    ranking = shortlisted.partners_for(project, k=15, allowed=few, explain=False)
    assert {m.id for m in ranking.matches} == set(few)
    many = [e.id for e in organisations.entities[:100]]
    ranking = shortlisted.partners_for(project, k=100, allowed=many, explain=False)
    assert ranking.matches and {m.id for m in ranking.matches} <= set(many)


def test_pasted_texts_and_calls_take_the_same_path(demo: Recommender) -> None:
    shortlisted = with_retrieval(demo, ALWAYS)
    text = (
        "Autologous CAR-T cells against CD19 for relapsed B-cell lymphoma; we need a GMP "
        "manufacturer of lentiviral vector and a phase I trial site."
    )
    a = shortlisted.search(text, Target.PARTNERS, k=5)
    b = with_retrieval(demo, EXHAUSTIVE).search(text, Target.PARTNERS, k=5)
    assert [m.id for m in a.matches][:3] == [m.id for m in b.matches][:3]
    assert all(m.reasons is not None and m.reasons.summary for m in a.matches)
    project = demo.collections[EntityKind.PROJECT].entities[0].id
    calls = shortlisted.calls_for(project, k=5)
    reference = with_retrieval(demo, EXHAUSTIVE).calls_for(project, k=5)
    assert [m.id for m in calls.matches] == [m.id for m in reference.matches]


def test_neighbours_search_exactly_when_small_and_approximately_when_large() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 6000)] + 0.5 * rng.standard_normal((6000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    queries = vectors[:50] + 0.1 * rng.standard_normal((50, 32)).astype(np.float32)
    exact = Neighbours.build(vectors)
    assert exact.params == NeighbourParams("flat") and len(vectors) <= FLAT_LIMIT
    ivf = Neighbours(vectors, NeighbourParams("ivf", lists=64, probe=8))
    ivf = Neighbours.from_bytes(vectors, ivf.params, _trained(vectors, ivf.params))
    recalls = []
    for q in queries:
        truth = set(np.argsort(-(vectors @ q))[:50].tolist())
        assert set(exact.search(q[None, :], 50).tolist()) == truth
        recalls.append(len(truth & set(ivf.search(q[None, :], 50).tolist())) / 50)
    assert np.mean(recalls) >= 0.8


def _trained(vectors: np.ndarray, params: NeighbourParams) -> bytes:
    """An IVF index with these parameters, serialised (as the derived state saves it)."""
    built = Neighbours.build(vectors, params=params)
    return built.to_bytes()


def test_large_collections_get_an_ivf_index_with_its_parameters() -> None:
    assert NeighbourParams.for_size(FLAT_LIMIT).kind == "flat"
    large = NeighbourParams.for_size(250_000)
    assert large.kind == "ivf" and large.lists == 2000 and 16 <= large.probe < large.lists


@pytest.mark.parametrize("kind", [EntityKind.ORGANISATION, EntityKind.CALL])
def test_the_reverse_direction_scores_a_shortlist_of_projects_exactly(
    demo: Recommender, kind: EntityKind
) -> None:
    source = demo.collections[kind]
    projects = demo.collections[EntityKind.PROJECT]
    rows = np.arange(0, len(projects), 3)
    part = Slice(projects, rows)
    for position in range(0, len(source), max(1, len(source) // 6)):
        full = source.features_against(position, projects)
        np.testing.assert_allclose(
            source.features_against(position, part), full[part.rows], atol=1e-5
        )
    shortlisted = with_retrieval(demo, NARROW)
    exhaustive = with_retrieval(demo, EXHAUSTIVE)
    same = []
    for entity in source.entities[:10]:
        a = shortlisted.projects_for(
            entity.id, k=len(projects), include_ineligible=True, explain=False
        )
        b = exhaustive.projects_for(entity.id, k=3, include_ineligible=True)
        assert len(a.matches) < len(projects)
        same.append(a.matches[0].id == b.matches[0].id)
        scores = {m.id: m.score for m in b.matches}
        assert all(m.score == scores[m.id] for m in a.matches if m.id in scores)
    assert np.mean(same) >= 0.8
