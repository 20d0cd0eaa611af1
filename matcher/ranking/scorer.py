"""Turning features into one score: a linear scorer, learned or default.

The score of a pair is `bias + sum(weight[f] * feature[f])`; the learned ranker that finds the
weights is in `ranker.py` (scikit-learn, imported only to train). It depends on the pair's features
only, never on the other candidates of a query, so scores compare across queries and a pair scores
the same in both directions. Each weighted feature is a part of the score that reasons show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import clock
from ..atomic import write_atomically
from ..errors import StaleIndex
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


def save_scorer(scorer: LinearScorer, path: Path) -> None:
    """Write a scorer as JSON, atomically."""
    payload = {
        "format": RANKER_FORMAT,
        "features": list(FEATURES),
        "weights": dict(scorer.weights),
        "bias": scorer.bias,
        "manifest": {"saved_at": clock.stamp(clock.now()), **scorer.manifest},
    }
    write_atomically(path, (json.dumps(payload, indent=2) + "\n").encode())


def load_scorer(path: Path, model: str) -> LinearScorer | None:
    """The scorer saved at `path`; None when there is none or it was trained for another model.

    A ranker names the features it weighs: one saved before a feature existed weighs it 0.
    Raises StaleIndex when it weighs a feature this release does not compute."""
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    weights = payload.get("weights", {})
    unknown = sorted(set(weights) - set(FEATURES))
    if payload.get("format") != RANKER_FORMAT or unknown:
        why = f"features this release does not compute ({', '.join(unknown)})" if unknown else (
            f"format {payload.get('format')}, this release reads {RANKER_FORMAT}"
        )  # fmt: skip
        raise StaleIndex(
            f"The ranker {path} was trained on {why}. Retrain it with `python -m bench.train`, "
            "or delete it to use the default scorer."
        )
    manifest = payload.get("manifest", {})
    if manifest.get("model") not in (None, model):
        return None
    return LinearScorer(weights, float(payload["bias"]), manifest)
