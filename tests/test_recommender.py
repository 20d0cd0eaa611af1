import datetime as dt

import numpy as np
import pytest

from matcher import (
    CallStatus,
    DocumentEncoder,
    InvalidQuery,
    NotFound,
    OrgKind,
    Outcome,
    Recommender,
    StaleIndex,
    Target,
    load_directory,
    parse_project,
)
from tests.conftest import TODAY, make_project


def test_project_to_partners_ranks_the_fitting_ones_first(recommender):
    aav = [m.id for m in recommender.partners_for("P-1", k=3)]
    car_t = [m.id for m in recommender.partners_for("P-2", k=3)]
    assert aav[0] == "O-EYE" and aav.index("O-VEC") < aav.index("O-CELL")
    assert car_t[0] == "O-CELL"


def test_ranks_and_scores_are_consistent(recommender):
    matches = recommender.partners_for("P-1", k=3)
    assert [m.rank for m in matches] == [1, 2, 3]
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    for m in matches:
        assert m.score == pytest.approx(sum(m.reasons.score_parts.values()), abs=1e-5)


def test_kind_filter(recommender):
    matches = recommender.partners_for("P-1", k=5, kinds=[OrgKind.CDMO])
    assert {m.id for m in matches} == {"O-VEC", "O-CELL"}
    assert all(m.kind is OrgKind.CDMO for m in matches)


def test_reasons_explain_the_match(recommender):
    best = recommender.partners_for("P-1", k=1)[0]
    r = best.reasons
    assert "retinal" in r.sentences.candidate.lower()
    project = make_project()
    assert r.sentences.query in f"{project['title']}. {project['abstract']}"
    assert "indication: retinal disease" in r.shared_facets
    assert "capability: clinical sites" in r.shared_facets
    assert r.summary and r.deadline is None and r.eligibility is None


def test_calls_are_open_and_forthcoming_ones_with_deadline_and_verdict(recommender):
    matches = recommender.calls_for("P-1", k=10, statuses={CallStatus.OPEN})
    ids = [m.id for m in matches]
    assert "C-CLOSED" not in ids and "C-SOON" not in ids
    assert ids[0] == "C-1"
    first = matches[0].reasons
    assert first.deadline.days_left == (dt.date(2027, 3, 1) - TODAY).days
    assert first.deadline.label == "full proposal"
    assert first.eligibility.outcome is Outcome.ELIGIBLE
    rolling = next(m for m in matches if m.id == "C-ROLLING").reasons
    assert rolling.deadline.days_left is None
    assert rolling.eligibility.outcome is Outcome.CONDITIONAL
    by_default = recommender.calls_for("P-1", k=10)
    assert "C-SOON" in [m.id for m in by_default] and "C-CLOSED" not in [m.id for m in by_default]
    soon = next(m for m in by_default if m.id == "C-SOON").reasons
    assert soon.deadline.status == "forthcoming" and "opens 2027-01-15" in soon.summary
    with pytest.raises(InvalidQuery, match="never proposed"):
        recommender.calls_for("P-1", statuses={CallStatus.CLOSED})


def test_a_call_disappears_once_its_deadline_passes(store, settings, embedder):
    later = Recommender.open(
        store,
        DocumentEncoder(embedder, store),
        settings.models_dir,
        today=lambda: dt.date(2027, 3, 2),
    )
    assert "C-1" not in [m.id for m in later.calls_for("P-1", k=10)]


def test_reverse_directions_use_the_same_pair_scores(recommender):
    forward = {m.id: m.score for m in recommender.partners_for("P-2", k=3)}
    for org_id, score in forward.items():
        back = {m.id: m.score for m in recommender.projects_for(org_id, k=2)}
        assert back["P-2"] == pytest.approx(score, abs=1e-5)
    call_back = recommender.projects_for("C-1", k=2)
    assert call_back[0].id == "P-1"
    assert call_back[0].reasons.eligibility is not None


def test_free_text_search(recommender):
    text = "Lentiviral or AAV vector supply needed for a gene therapy programme."
    assert recommender.search(text, Target.PARTNERS, k=1)[0].id == "O-VEC"
    calls = recommender.search("retinal gene therapy", Target.CALLS, k=5)
    assert {calls[0].id, calls[1].id} == {"C-1", "C-SOON"}
    assert all(m.id != "C-CLOSED" for m in calls)
    assert recommender.search("CAR-T lymphoma", Target.PROJECTS, k=1)[0].id == "P-2"


def test_bad_queries(recommender):
    with pytest.raises(NotFound, match="No project with id 'P-404'"):
        recommender.partners_for("P-404")
    with pytest.raises(InvalidQuery):
        recommender.search("   ", Target.PARTNERS)
    with pytest.raises(InvalidQuery):
        recommender.partners_for("P-1", k=0)
    with pytest.raises(InvalidQuery, match="organisation or a call"):
        recommender.projects_for("P-1")


def test_an_edit_after_the_build_makes_the_index_stale(store, settings, embedder):
    store.upsert([parse_project(make_project(abstract="Entirely new text about NK cells."))])
    with pytest.raises(StaleIndex, match="Rebuild the indexes"):
        Recommender.open(store, DocumentEncoder(embedder, store), settings.models_dir)


def test_k_larger_than_the_collection_returns_all(recommender):
    assert len(recommender.partners_for("P-1", k=50)) == 3


def test_reloading_unchanged_data_keeps_the_index_valid(world, store, settings, embedder):
    assert load_directory(store, world / "data").upsert.unchanged == 9
    reopened = Recommender.open(store, DocumentEncoder(embedder, store), settings.models_dir)
    assert reopened.counts() == {"project": 2, "organisation": 3, "call": 4}


def test_forward_and_reverse_features_agree(recommender):
    from matcher import EntityKind, Target

    for target, kind in (
        (Target.PARTNERS, EntityKind.ORGANISATION),
        (Target.CALLS, EntityKind.CALL),
    ):
        collection = recommender.collections[kind]
        projects = recommender.collections[EntityKind.PROJECT]
        for project_id in ("P-1", "P-2"):
            ids, forward = recommender.features_for(project_id, target)
            for position, candidate in enumerate(ids):
                back = collection.features_against(position, projects)
                row = projects.positions[project_id]
                np.testing.assert_allclose(
                    back[row], forward[position], atol=1e-5, err_msg=candidate
                )


def test_excluded_documents_leave_the_profile(recommender, store):
    from matcher import EntityKind

    docs = [d for d in store.documents(EntityKind.ORGANISATION) if d.entity_id == "O-CELL"]
    past = next(d for d in docs if "CD19" in d.text)
    ids, full = recommender.features_for("P-2", Target.PARTNERS)
    _, masked = recommender.features_for("P-2", Target.PARTNERS, exclude_documents=[past.rowid])
    from matcher import FEATURES

    row = ids.index("O-CELL")
    for name in ("dense_max", "lexical", "tfidf", "tfidf_phrases", "facets"):
        column = FEATURES.index(name)
        assert masked[row, column] < full[row, column], name
    # the track record keeps its size: a smaller count would give away the left-out record
    column = FEATURES.index("log_documents")
    assert masked[row, column] == full[row, column]
    others = [i for i in range(len(ids)) if i != row]
    np.testing.assert_allclose(masked[others], full[others])


def test_an_index_built_without_sentences_warms_them_later(tmp_path, embedder):
    from matcher import Store, build_indexes
    from tests.conftest import write_world

    with Store(tmp_path / "m.db") as store:
        load_directory(store, write_world(tmp_path / "data"))
        encoder = DocumentEncoder(embedder, store)
        build_indexes(store, encoder, tmp_path / "models", sentences=False)
        recommender = Recommender.open(store, encoder, tmp_path / "models", today=lambda: TODAY)
        assert recommender.warm_sentences() > 0
        assert recommender.warm_sentences() == 0
        assert recommender.partners_for("P-1", k=1)[0].reasons.sentences is not None


def test_a_saved_ranker_is_loaded_for_its_model_only(store, settings, embedder):
    from matcher import EntityKind, LinearScorer, ranker_path, save_scorer
    from matcher.recommender import UNCALIBRATED

    path = ranker_path(settings.models_dir, EntityKind.ORGANISATION)
    save_scorer(LinearScorer({"tfidf": 1.0}, 0.0, {"model": embedder.name}), path)
    encoder = DocumentEncoder(embedder, store)
    loaded = Recommender.open(store, encoder, settings.models_dir, today=lambda: TODAY)
    assert loaded.scorer(EntityKind.ORGANISATION).weights == {"tfidf": 1.0}
    match = loaded.partners_for("P-1", k=1)[0]
    assert match.raw_score == pytest.approx(match.reasons.features["tfidf"], abs=1e-5)
    # No calibration was fitted for this ranker: a fixed curve keeps the score in [0, 1].
    assert loaded.calibration(EntityKind.ORGANISATION) is UNCALIBRATED
    assert match.score == round(float(UNCALIBRATED.probability([match.raw_score])[0]), 3)
    assert match.reasons.score_parts == {"lexical": pytest.approx(match.score, abs=1e-5)}
    save_scorer(LinearScorer({"tfidf": 1.0}, 0.0, {"model": "another-model"}), path)
    other = Recommender.open(store, encoder, settings.models_dir, today=lambda: TODAY)
    assert other.scorer(EntityKind.ORGANISATION).manifest["name"] == "default"
