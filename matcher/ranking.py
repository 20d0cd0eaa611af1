"""Turning features into one score: a linear scorer, learned or default.

The score of a pair is `bias + sum(weight[f] * feature[f])`. It depends on the pair's features
only, never on the other candidates of a query, so scores compare across queries and a pair scores
the same in both directions. Each weighted feature is a part of the score that reasons show.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import StaleIndex
from .features import FAMILIES, FEATURES

RANKER_FORMAT = 1


@dataclass(frozen=True)
class LinearScorer:
    """Weights over named features; the untrained default and the trained ranker alike."""

    weights: Mapping[str, float]
    bias: float = 0.0
    manifest: Mapping[str, Any] = field(default_factory=dict)

    def vector(self) -> npt.NDArray[np.float32]:
        return np.array([self.weights.get(f, 0.0) for f in FEATURES], dtype=np.float32)

    def score(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores for a (n, len(FEATURES)) matrix."""
        return (features @ self.vector() + np.float32(self.bias)).astype(np.float32)

    def parts(self, row: npt.NDArray[np.float32]) -> dict[str, float]:
        """The score of one row split by feature family; the parts add up to the score."""
        out: dict[str, float] = {}
        for name, value in zip(FEATURES, row.tolist(), strict=True):
            weight = self.weights.get(name, 0.0)
            if weight:
                family = FAMILIES[name]
                out[family] = out.get(family, 0.0) + weight * value
        if self.bias:
            out["bias"] = self.bias
        return {k: round(v, 6) for k, v in out.items()}


DEFAULT_SCORER = LinearScorer(
    {"dense_max": 1.0, "lexical": 0.5, "facets": 0.02},
    manifest={"name": "default", "trained": False},
)
"""Used until a ranker is trained: dense similarity fused with BM25 and a facet bonus."""


class Ranker(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A pointwise learned ranker: logistic regression on standardised features.

    Pointwise, so that its scores are calibrated the same way for every query (the reverse
    directions and the expert loss compare scores across queries). `groups` is accepted for the
    ranking API and only checked for its length."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000, random_state: int | None = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        groups: npt.ArrayLike | None = None,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Ranker:
        X, y = validate_data(self, X, y)
        if groups is not None and len(np.asarray(groups)) != np.shape(X)[0]:
            raise ValueError("groups must have one entry per row of X")
        self.scaler_ = StandardScaler().fit(X, sample_weight=sample_weight)
        self.model_ = LogisticRegression(
            C=self.C, max_iter=self.max_iter, random_state=self.random_state
        ).fit(self.scaler_.transform(X), y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        self.n_iter_ = self.model_.n_iter_
        return self

    def _transform(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.scaler_.transform(X), dtype=np.float64)

    def decision_function(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        Z = self._transform(X)
        return np.asarray(self.model_.decision_function(Z), dtype=np.float64)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        Z = self._transform(X)
        return np.asarray(self.model_.predict(Z))

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        Z = self._transform(X)
        return np.asarray(self.model_.predict_proba(Z), dtype=np.float64)

    def to_scorer(self, manifest: Mapping[str, Any] | None = None) -> LinearScorer:
        """The same scores as `decision_function`, as weights over the raw features."""
        check_is_fitted(self)
        if len(self.classes_) != 2 or self.n_features_in_ != len(FEATURES):
            raise ValueError(f"a scorer needs a binary ranker over the {len(FEATURES)} features")
        scale = np.where(self.scaler_.scale_ > 0, self.scaler_.scale_, 1.0)
        coef = self.model_.coef_.ravel() / scale
        bias = float(self.model_.intercept_[0] - (coef * self.scaler_.mean_).sum())
        return LinearScorer(
            {name: float(w) for name, w in zip(FEATURES, coef, strict=True)},
            bias,
            dict(manifest or {}),
        )


def save_scorer(scorer: LinearScorer, path: Path) -> None:
    """Write a scorer as JSON, atomically."""
    payload = {
        "format": RANKER_FORMAT,
        "features": list(FEATURES),
        "weights": dict(scorer.weights),
        "bias": scorer.bias,
        "manifest": {"saved_at": dt.datetime.now(dt.UTC).isoformat(), **scorer.manifest},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(payload, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_scorer(path: Path, model: str) -> LinearScorer | None:
    """The scorer saved at `path`; None when there is none or it was trained for another model.

    Raises StaleIndex when its features are not the ones this release computes."""
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    if payload.get("format") != RANKER_FORMAT or tuple(payload.get("features", ())) != FEATURES:
        raise StaleIndex(
            f"The ranker {path} was trained on other features. Retrain it with "
            "`python -m bench.train`, or delete it to use the default scorer."
        )
    manifest = payload.get("manifest", {})
    if manifest.get("model") not in (None, model):
        return None
    return LinearScorer(payload["weights"], float(payload["bias"]), manifest)
