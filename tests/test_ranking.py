import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from matcher import (
    DEFAULT_SCORER,
    FEATURES,
    LinearScorer,
    Ranker,
    StaleIndex,
    load_scorer,
    save_scorer,
)


@parametrize_with_checks([Ranker()])
def test_ranker_follows_scikit_learn(estimator, check):
    check(estimator)


def training_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    dense, lexical = FEATURES.index("dense_max"), FEATURES.index("lexical")
    y = (X[:, dense] + 0.5 * X[:, lexical] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return X, y


def test_fit_returns_self_and_the_scorer_reproduces_it():
    X, y = training_data()
    ranker = Ranker(C=0.5)
    assert ranker.fit(X, y, groups=np.arange(len(X)) // 10) is ranker
    scorer = ranker.to_scorer({"model": "m"})
    np.testing.assert_allclose(scorer.score(X), ranker.decision_function(X), rtol=1e-4, atol=1e-4)
    assert scorer.weights["dense_max"] > scorer.weights["lexical"] > 0
    assert clone(ranker).get_params() == {
        "C": 0.5,
        "max_iter": 1000,
        "random_state": 0,
        "objective": "pointwise",
    }


def test_a_pairwise_ranker_orders_rows_within_groups():
    X, y = training_data()
    groups = np.arange(len(X)) // 10
    # An offset per group that the labels ignore: a pairwise ranker does not see it.
    shifted = X.copy()
    shifted[:, 1] += groups * 3.0
    ranker = Ranker(C=0.5, objective="pairwise").fit(shifted, y, groups=groups)
    scorer = ranker.to_scorer()
    np.testing.assert_allclose(
        scorer.score(shifted), ranker.decision_function(shifted), rtol=1e-4, atol=1e-4
    )
    assert scorer.bias == 0.0
    assert scorer.weights["dense_max"] > scorer.weights["lexical"] > 0
    assert abs(scorer.weights["dense_mean"]) < 0.2 * scorer.weights["dense_max"]
    # graded labels within a group: a higher grade should score higher
    grades = np.where(y == 1, 1.0 + (X[:, 0] > 1), 0.0)
    graded = Ranker(objective="pairwise").fit(X, grades, groups=groups).to_scorer()
    assert graded.weights["dense_max"] > 0
    with pytest.raises(ValueError, match="groups"):
        Ranker(objective="pairwise").fit(X, y)
    with pytest.raises(ValueError, match="objective"):
        Ranker(objective="listwise").fit(X, y)


def test_pairwise_differences_weigh_each_group_by_its_mean_weight():
    from matcher.ranking.ranker import pairwise_differences

    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    grades = np.array([1.0, 0.0, 0.0, 3.0, 1.0])
    groups = np.array(["a", "a", "a", "b", "b"])
    weight = np.array([1.0, 1.0, 1.0, 4.0, 4.0])
    diffs, weights = pairwise_differences(X, grades, groups, weight)
    assert len(diffs) == 3  # (0,1), (0,2) in a; (3,4) in b
    np.testing.assert_allclose(sorted(weights), [0.5, 0.5, 4.0])
    np.testing.assert_allclose(diffs[-1], X[3] - X[4])


def test_parts_add_up_to_the_score():
    X, y = training_data()
    scorer = Ranker().fit(X, y).to_scorer()
    parts = scorer.parts(X[0])
    assert sum(parts.values()) == pytest.approx(float(scorer.score(X[:1])[0]), abs=1e-4)
    assert set(parts) <= {"dense", "lexical", "facets", "profile", "programme", "registry", "bias"}
    assert set(DEFAULT_SCORER.parts(X[0])) == {"dense", "lexical", "facets"}


def test_saved_scorers_are_checked(tmp_path):
    scorer = LinearScorer({"dense_max": 2.0}, -1.0, {"model": "model-a"})
    save_scorer(scorer, tmp_path / "r.json")
    loaded = load_scorer(tmp_path / "r.json", "model-a")
    assert loaded.weights == {"dense_max": 2.0} and loaded.bias == -1.0
    assert load_scorer(tmp_path / "r.json", "model-b") is None  # trained for another model
    assert load_scorer(tmp_path / "missing.json", "model-a") is None
    # A ranker saved before a feature existed still loads: it weighs the new feature 0.
    payload = json.loads((tmp_path / "r.json").read_text())
    payload["features"] = ["dense_max"]
    (tmp_path / "r.json").write_text(json.dumps(payload))
    older = load_scorer(tmp_path / "r.json", "model-a")
    assert older is not None and older.vector()[FEATURES.index("lexical")] == 0.0
    # One that weighs a feature this release does not compute is refused, naming it.
    payload["weights"]["old_feature"] = 0.5
    (tmp_path / "r.json").write_text(json.dumps(payload))
    with pytest.raises(StaleIndex, match=r"old_feature.*Retrain"):
        load_scorer(tmp_path / "r.json", "model-a")
