"""The learned ranker (scikit-learn): fitted on benchmark pairs, it gives a LinearScorer's
weights. Only training imports it, so serving and the CLI never load scikit-learn for it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .features import FEATURES
from .scorer import LinearScorer


class Ranker(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A learned linear ranker: logistic regression on standardised features.

    `objective="pointwise"` (the default) fits relevant against not relevant rows, with an
    intercept. `objective="pairwise"` fits, within each group of `groups` (a query, or a candidate
    with the queries judged for it), every pair of rows with different labels: the logistic loss
    of the score difference, weighted by the label difference, each group weighing its rows'
    mean `sample_weight` in total (a linear RankNet). A pairwise model has no intercept.

    Either way a score is a linear function of one pair's features, so scores compare across
    queries (the reverse directions and the expert loss compare them)."""

    def __init__(
        self,
        C: float = 1.0,
        max_iter: int = 1000,
        random_state: int | None = 0,
        objective: str = "pointwise",
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state
        self.objective = objective

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
        if self.objective not in ("pointwise", "pairwise"):
            raise ValueError(f"objective must be 'pointwise' or 'pairwise', not {self.objective!r}")
        if self.objective == "pairwise":
            if groups is None:
                raise ValueError("a pairwise ranker needs groups")
            return self._fit_pairs(np.asarray(X), np.asarray(y), np.asarray(groups), sample_weight)
        self.scaler_ = StandardScaler().fit(X, sample_weight=sample_weight)
        self.model_ = LogisticRegression(
            C=self.C, max_iter=self.max_iter, random_state=self.random_state
        ).fit(self.scaler_.transform(X), y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        self.n_iter_ = self.model_.n_iter_
        return self

    def _fit_pairs(
        self,
        X: npt.NDArray[Any],
        y: npt.NDArray[Any],
        groups: npt.NDArray[Any],
        sample_weight: npt.ArrayLike | None,
    ) -> Ranker:
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        grades = np.asarray(y, dtype=np.float64)
        diffs, weights = pairwise_differences(X, grades, groups, weight)
        if not len(diffs):
            raise ValueError("no group holds two rows with different labels")
        # Both orders of each pair, so that the two classes are balanced and no intercept is
        # needed: the model learns w with w.(a - b) > 0 when a should rank above b.
        D = np.vstack([diffs, -diffs])
        target = np.r_[np.ones(len(diffs)), np.zeros(len(diffs))]
        w = np.r_[weights, weights]
        self.scaler_ = StandardScaler(with_mean=False).fit(D, sample_weight=w)
        self.model_ = LogisticRegression(
            C=self.C, max_iter=self.max_iter, random_state=self.random_state, fit_intercept=False
        ).fit(self.scaler_.transform(D), target, sample_weight=w / w.mean())
        self.classes_ = np.unique(y)
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
        if self.objective == "pairwise":
            above = self.decision_function(X) > 0
            return np.asarray(self.classes_[np.where(above, len(self.classes_) - 1, 0)])
        Z = self._transform(X)
        return np.asarray(self.model_.predict(Z))

    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        if self.objective == "pairwise":
            raise AttributeError("a pairwise ranker orders rows; it gives no probabilities")
        Z = self._transform(X)
        return np.asarray(self.model_.predict_proba(Z), dtype=np.float64)

    def to_scorer(self, manifest: Mapping[str, Any] | None = None) -> LinearScorer:
        """The same scores as `decision_function`, as weights over the raw features."""
        check_is_fitted(self)
        binary = self.objective == "pairwise" or len(self.classes_) == 2
        if not binary or self.n_features_in_ != len(FEATURES):
            raise ValueError(f"a scorer needs a binary ranker over the {len(FEATURES)} features")
        scale = np.where(self.scaler_.scale_ > 0, self.scaler_.scale_, 1.0)
        coef = self.model_.coef_.ravel() / scale
        mean = self.scaler_.mean_ if self.scaler_.with_mean else np.zeros_like(coef)
        bias = float(np.ravel(self.model_.intercept_)[0] - (coef * mean).sum())
        return LinearScorer(
            {name: float(w) for name, w in zip(FEATURES, coef, strict=True)},
            bias,
            dict(manifest or {}),
        )


def pairwise_differences(
    X: npt.NDArray[Any],
    grades: npt.NDArray[np.float64],
    groups: npt.NDArray[Any],
    weight: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Within each group, the feature differences (higher grade minus lower) of every pair with
    different grades, and their weights: the grade difference, scaled so that a group's pairs
    weigh its rows' mean weight in total."""
    diffs: list[npt.NDArray[np.float64]] = []
    weights: list[npt.NDArray[np.float64]] = []
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    for start, end in itertools.pairwise(bounds.tolist()):
        rows = order[start:end]
        g = grades[rows]
        high, low = np.nonzero(g[:, None] > g[None, :])
        if not len(high):
            continue
        gap = g[high] - g[low]
        diffs.append(np.asarray(X[rows[high]] - X[rows[low]], dtype=np.float64))
        weights.append(gap / gap.sum() * float(weight[rows].mean()))
    if not diffs:
        return np.zeros((0, X.shape[1])), np.zeros(0)
    return np.concatenate(diffs), np.concatenate(weights)
