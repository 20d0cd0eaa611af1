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
    y = (X[:, 0] + 0.5 * X[:, 3] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return X, y


def test_fit_returns_self_and_the_scorer_reproduces_it():
    X, y = training_data()
    ranker = Ranker(C=0.5)
    assert ranker.fit(X, y, groups=np.arange(len(X)) // 10) is ranker
    scorer = ranker.to_scorer({"model": "m"})
    np.testing.assert_allclose(scorer.score(X), ranker.decision_function(X), rtol=1e-4, atol=1e-4)
    assert scorer.weights["dense_max"] > scorer.weights["lexical"] > 0
    assert clone(ranker).get_params() == {"C": 0.5, "max_iter": 1000, "random_state": 0}


def test_parts_add_up_to_the_score():
    X, y = training_data()
    scorer = Ranker().fit(X, y).to_scorer()
    parts = scorer.parts(X[0])
    assert sum(parts.values()) == pytest.approx(float(scorer.score(X[:1])[0]), abs=1e-4)
    assert set(parts) <= {"dense", "lexical", "facets", "profile", "programme", "bias"}
    assert set(DEFAULT_SCORER.parts(X[0])) == {"dense", "lexical", "facets"}


def test_saved_scorers_are_checked(tmp_path):
    scorer = LinearScorer({"dense_max": 2.0}, -1.0, {"model": "model-a"})
    save_scorer(scorer, tmp_path / "r.json")
    loaded = load_scorer(tmp_path / "r.json", "model-a")
    assert loaded.weights == {"dense_max": 2.0} and loaded.bias == -1.0
    assert load_scorer(tmp_path / "r.json", "model-b") is None  # trained for another model
    assert load_scorer(tmp_path / "missing.json", "model-a") is None
    text = (tmp_path / "r.json").read_text().replace('"dense_max",', '"old_feature",', 1)
    (tmp_path / "r.json").write_text(text)
    with pytest.raises(StaleIndex, match="Retrain"):
        load_scorer(tmp_path / "r.json", "model-a")
