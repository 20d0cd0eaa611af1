"""Learning the ranker from the hub's feedback: the library, the versions, `matcher ranker`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from matcher import (
    DEFAULT_SCORER,
    FEATURES,
    MIN_JUDGEMENTS,
    DocumentEncoder,
    EntityKind,
    Feedback,
    LinearScorer,
    Recommender,
    Store,
    build_indexes,
    calibration_path,
    learn_from_feedback,
    load_directory,
    load_scorer,
    ranker_history,
    ranker_path,
    roll_back_ranker,
)
from matcher.ranking.calibration import calibration_for, fingerprint, load_calibrations
from matcher.ranking.learning import base_of
from service.cli import main
from tests.conftest import TODAY, add_user, make_project, write_jsonl

DENSE, TFIDF, FACETS = (FEATURES.index(f) for f in ("dense_max", "tfidf", "facets"))
BASE = LinearScorer(
    {f: 0.0 for f in FEATURES} | {"dense_max": 1.0, "tfidf": 0.2},
    manifest={"name": "base ranker", "model": "m"},
)


def misranked(projects=12, per_project=8, seed=0):
    """Judged pairs where tfidf says which are right and dense_max, which the base leans on,
    points the other way; facets vary too but the base leaves them out (weight 0)."""
    rng = np.random.default_rng(seed)
    X = rng.random((projects * per_project, len(FEATURES))).astype(np.float32)
    groups = np.repeat([f"P-{i}" for i in range(projects)], per_project)
    y = np.zeros(len(X))
    y[::per_project] = y[1::per_project] = 1.0
    X[y == 1, TFIDF] += 1.0
    X[y == 1, DENSE] -= 0.5
    X[y == 1, FACETS] += 1.0
    return X, y, groups


def pairwise_accuracy(scorer, X, y, groups):
    right = total = 0
    for g in set(groups.tolist()):
        s, t = scorer.score(X[groups == g]), y[groups == g]
        diff = s[t == 1][:, None] - s[t == 0][None, :]
        right, total = right + (diff > 0).sum(), total + diff.size
    return right / total


def test_below_the_floor_the_base_stays_with_the_reason():
    X, y, groups = misranked(projects=3, per_project=12)
    few = learn_from_feedback(BASE, X[:20], y[:20], groups[:20])
    assert not few.changed and few.scorer is BASE
    assert few.judgements == 20 and f"at least {MIN_JUDGEMENTS}" in few.reason
    # Enough judgements, but only two projects say which of two candidates is better.
    y2 = y.copy()
    y2[groups == "P-2"] = 0.0
    narrow = learn_from_feedback(BASE, X, y2, groups)
    assert not narrow.changed and narrow.contrasted == 2 and "projects" in narrow.reason


def test_learning_moves_towards_the_judged_order_and_keeps_unlearned_features_at_zero():
    X, y, groups = misranked()
    learned = learn_from_feedback(BASE, X, y, groups)
    assert learned.changed and learned.judgements == len(X) and learned.contrasted == 12
    weights = learned.scorer.weights
    assert weights["tfidf"] > BASE.weights["tfidf"]
    assert weights["dense_max"] < BASE.weights["dense_max"]
    assert weights["facets"] == 0.0 and weights["group_dense"] == 0.0
    assert learned.scorer.bias == BASE.bias
    held_out = misranked(seed=1)
    assert pairwise_accuracy(learned.scorer, *held_out) > pairwise_accuracy(BASE, *held_out)
    manifest = learned.scorer.manifest
    assert manifest["base"]["fingerprint"] == fingerprint(BASE.weights, BASE.bias)
    assert manifest["feedback"]["judgements"] == len(X) and manifest["feedback"]["projects"] == 12
    assert manifest["model"] == "m" and "learned_at" in manifest["feedback"]


def test_few_judgements_move_the_weights_less_than_many():
    few = learn_from_feedback(BASE, *misranked(projects=4))
    many = learn_from_feedback(BASE, *misranked(projects=60))
    base = BASE.vector()
    assert few.changed and many.changed

    def moved(scorer):
        return float(np.abs(scorer.vector() - base).max())

    assert 0 < moved(few.scorer) < moved(many.scorer)
    # Close to the base: the same scale, the largest weight still the base's largest.
    assert abs(few.scorer.weights["dense_max"] - 1.0) < 0.5


def test_a_default_base_learns_features_it_does_not_name_and_relearning_starts_from_the_base():
    learned = learn_from_feedback(DEFAULT_SCORER, *misranked()).scorer
    assert learned.weights["tfidf"] > 0  # not named by the default: free, starting at 0
    assert base_of(learned) == DEFAULT_SCORER
    assert base_of(DEFAULT_SCORER) is DEFAULT_SCORER


def test_versions_keep_what_ranked_and_roll_back(tmp_path):
    from matcher import RankerVersion
    from matcher.ranking.versions import install_ranker

    active = ranker_path(tmp_path, EntityKind.ORGANISATION)
    first = LinearScorer({"dense_max": 2.0}, manifest={"name": "first"})
    second = LinearScorer({"dense_max": 3.0}, manifest={"name": "second"})
    install_ranker(first, active, DEFAULT_SCORER)
    install_ranker(second, active, first)
    assert load_scorer(active, "m").weights == {"dense_max": 3.0}
    kept = ranker_history(active, "m")
    assert [v.scorer.manifest["name"] for v in kept] == ["first", "default"]
    restored = roll_back_ranker(active, "m")
    assert isinstance(restored, RankerVersion) and restored.scorer.manifest["name"] == "first"
    assert load_scorer(active, "m").weights == {"dense_max": 2.0}
    roll_back_ranker(active, "m")
    assert load_scorer(active, "m").weights == DEFAULT_SCORER.weights
    assert ranker_history(active, "m") == []
    with pytest.raises(Exception, match="kept version"):
        roll_back_ranker(active, "m")


# ---------------------------------------------------------------------- `matcher ranker`

VERDICTS = {
    # project: (the organisation users call right, the ones they call wrong)
    "P-1": ("O-EYE", ("O-VEC", "O-CELL")),
    "P-2": ("O-CELL", ("O-VEC", "O-EYE")),
    "P-3": ("O-VEC", ("O-CELL", "O-EYE")),
    "P-4": ("O-EYE", ("O-CELL",)),
}


@pytest.fixture
def hub(world, settings, embedder, monkeypatch):
    """The small world with two more projects, and four users' feedback on every pair."""
    extra = [
        make_project(id="P-3", title="Lentiviral vector supply for an ex vivo HSC gene therapy"),
        make_project(id="P-4", title="Subretinal AAV delivery to cone photoreceptors"),
    ]
    (world / "extra").mkdir()
    write_jsonl(world / "extra" / "projects.jsonl", extra)
    with Store(settings.database) as store:
        load_directory(store, world / "extra")
        build_indexes(store, DocumentEncoder(embedder, store), settings.models_dir)
        for n in range(4):
            user = f"judge{n}"
            add_user(settings.database, user, "bizdev")
            for project, (right, wrong) in VERDICTS.items():
                verdict = Feedback.ALREADY_KNOWN if n == 0 else Feedback.RELEVANT
                store.set_feedback(user, project, right, verdict)
                for candidate in wrong:
                    store.set_feedback(user, project, candidate, Feedback.NOT_RELEVANT)
    monkeypatch.setenv("MATCHER_DB_PATH", str(settings.db_path))
    if settings.database_url:
        monkeypatch.setenv("MATCHER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_TODAY", TODAY.isoformat())
    return settings


def matcher(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ranker_learn_status_and_rollback_end_to_end(hub, embedder):
    path = ranker_path(hub.models_dir, EntityKind.ORGANISATION)
    assert not path.exists()
    assert "the default scorer ranks" in matcher("ranker", "status").output

    dry = matcher("ranker", "learn", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "44 judgements on 4 projects (4 with both" in dry.output
    assert "Dry run: nothing saved." in dry.output and not path.exists()

    learned = matcher("ranker", "learn")
    assert learned.exit_code == 0, learned.output
    assert "Undo with `matcher ranker rollback`" in learned.output
    scorer = load_scorer(path, hub.model)
    assert scorer is not None and scorer.manifest["feedback"]["judgements"] == 44
    assert scorer.manifest["base"]["name"] == "default"
    # The service loads it, with the default scorer's calibration carried over.
    with Store(hub.database) as store:
        recommender = Recommender.open(
            store, DocumentEncoder(embedder, store), hub.models_dir, today=lambda: TODAY
        )
        assert recommender.scorer(EntityKind.ORGANISATION) == scorer
        calibration = recommender.calibration(EntityKind.ORGANISATION)
    inherited = calibration_for(
        load_calibrations(calibration_path(hub.models_dir)),
        "partners",
        fingerprint(scorer.weights, scorer.bias),
    )
    assert inherited is not None and calibration == inherited
    assert inherited.manifest["inherited_from"] == fingerprint(
        DEFAULT_SCORER.weights, DEFAULT_SCORER.bias
    )

    status = matcher("ranker", "status", "--json")
    shown = json.loads(status.output)
    assert shown["active"]["name"] == "default + feedback"
    assert [v["name"] for v in shown["history"]] == ["default"]

    again = matcher("ranker", "learn")  # from the same base with the same feedback
    assert again.exit_code == 0 and load_scorer(path, hub.model).weights == scorer.weights
    assert len(ranker_history(path, hub.model)) == 2

    assert "Restored" in matcher("ranker", "rollback").output
    assert "Restored" in matcher("ranker", "rollback").output
    assert load_scorer(path, hub.model).weights == DEFAULT_SCORER.weights
    refused = CliRunner().invoke(main, ["ranker", "rollback"])
    assert refused.exit_code == 1 and "No earlier version" in refused.output


def test_ranker_learn_below_the_floor_changes_nothing(world, settings, monkeypatch):
    monkeypatch.setenv("MATCHER_DB_PATH", str(settings.db_path))
    if settings.database_url:
        monkeypatch.setenv("MATCHER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    add_user(settings.database, "judge", "bizdev")
    with Store(settings.database) as store:
        store.set_feedback("judge", "P-1", "O-EYE", Feedback.RELEVANT)
    result = matcher("ranker", "learn", "--kind", "partners")
    assert result.exit_code == 0, result.output
    assert "Unchanged: 1 judgements" in result.output
    assert not ranker_path(settings.models_dir, EntityKind.ORGANISATION).exists()
    calls = matcher("ranker", "learn", "--kind", "calls")
    assert "0 judgements" in calls.output


def test_unjudged_candidates_are_background_not_judgements():
    X, y, groups = misranked(projects=3, per_project=8)
    rng = np.random.default_rng(2)
    background = rng.random((60, len(FEATURES)))
    rows = np.vstack([X, background])
    grades = np.r_[y, np.ones(60)]  # an unjudged candidate's grade is ignored
    projects = np.r_[groups, np.repeat(["P-0", "P-1", "P-2"], 20)]
    counts = np.r_[np.ones(len(X)), np.zeros(60)]
    held = learn_from_feedback(BASE, rows, grades, projects, counts)
    assert not held.changed and held.judgements == 24 and held.projects == 3

    X, y, groups = misranked()
    background = np.random.default_rng(3).random((12 * 30, len(FEATURES)))
    rows = np.vstack([X, background])
    projects = np.r_[groups, np.repeat(np.unique(groups), 30)]
    counts = np.r_[np.ones(len(X)), np.zeros(len(background))]
    learned = learn_from_feedback(BASE, rows, np.r_[y, np.zeros(len(background))], projects, counts)
    assert learned.changed and learned.judgements == len(X)
    assert learned.scorer.manifest["feedback"]["background"] == len(background)
    assert learned.scorer.weights["tfidf"] > BASE.weights["tfidf"]
