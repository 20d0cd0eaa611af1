"""From a ranker's raw score to one readable score: the probability that a pair is a match.

A raw score is a weighted sum of features whose range depends on the scorer (a trained partner
ranker spans about -1 to 9, the default call scorer 0 to 1.5). A `Calibration` maps it,
monotonically, to the estimated probability that the pair is relevant, fitted on cross-fitted
scores of the benchmarks (`python -m bench.train`), one per candidate kind and scorer.
`strength` reads that probability as a band a person can compare across partners and calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import clock
from ..atomic import write_atomically
from ..errors import StaleIndex
from .features import FEATURES

CALIBRATION_FORMAT = 1
STRONG = 0.35
"""A match at least this likely to be relevant is `strong`. In the benchmarks' top-10 lists,
pairs predicted this high were matches about four times in ten or more (docs/quality.md)."""
GOOD = 0.1
"""At least this likely is `good`: one in ten or better, three to five times the rate among all
pairs of a benchmark query (3 % for partners, 2 % for calls). Below it a match is `weak`: on
narrative profiles even the best partner is often near here (on the expert benchmark the top
partner was the expert 16 % of the time), so weak does not mean wrong, only unproven."""
MAX_PROBABILITY = 0.99


class Strength(StrEnum):
    STRONG = "strong"
    GOOD = "good"
    WEAK = "weak"


def strength_of(score: float) -> Strength:
    """The band of a calibrated score (thresholds STRONG and GOOD)."""
    if score >= STRONG:
        return Strength.STRONG
    if score >= GOOD:
        return Strength.GOOD
    return Strength.WEAK


def fingerprint(weights: Mapping[str, float], bias: float) -> str:
    """Identifies a linear scorer by its weights, so a calibration is used only with the scorer
    it was fitted for; features it does not weigh do not count, so adding a feature keeps it."""
    weighed = [(f, round(float(weights.get(f, 0.0)), 4)) for f in FEATURES]
    payload = json.dumps([[f, w] for f, w in weighed if w])  # a feature added later weighs 0
    return hashlib.sha256(f"{payload}|{round(bias, 4)}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw scores to probabilities: Platt (a logistic curve, `a`, `b`) or
    isotonic (a step function through `xs`, `ys`, interpolated)."""

    method: str
    a: float = 1.0
    b: float = 0.0
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    manifest: Mapping[str, Any] = field(default_factory=dict)

    def probability(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        scores = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            p = np.interp(scores, self.xs, self.ys)
        else:
            p = 1.0 / (1.0 + np.exp(-np.clip(self.a * scores + self.b, -50.0, 50.0)))
        # A few hundred pairs never make a match certain.
        return np.minimum(p, MAX_PROBABILITY)


def fit_platt(raw: npt.ArrayLike, relevant: npt.ArrayLike) -> Calibration:
    """A logistic curve fitted by maximum likelihood (Newton steps on a and b)."""
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(relevant, dtype=np.float64)
    # Platt's smoothed targets keep the curve off 0 and 1 where the data are separable.
    positives, negatives = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 0.0, math.log((positives + 1) / (negatives + 1))
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * x + b, -50, 50)))
        w = p * (1 - p) + 1e-12
        grad = np.array([((p - t) * x).sum(), (p - t).sum()])
        hess = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return Calibration("platt", a=float(a), b=float(b))


def fit_isotonic(raw: npt.ArrayLike, relevant: npt.ArrayLike, knots: int = 200) -> Calibration:
    """A centred isotonic map: isotonic regression, then one knot per block at the block's
    mean score, joined by straight lines. Unlike the step function it is strictly increasing,
    so two matches with different evidence never show the same score by accident."""
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(relevant, dtype=np.float64)
    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit_transform(x, y)
    levels, block = np.unique(fitted, return_inverse=True)
    xs = np.bincount(block, weights=x) / np.bincount(block)
    xs = np.r_[x.min(), xs, x.max()] if len(xs) > 1 else np.r_[x.min(), x.max()]
    ys = np.r_[levels[0], levels, levels[-1]] if len(levels) > 1 else np.r_[levels, levels]
    xs, first = np.unique(xs, return_index=True)
    ys = ys[first]
    if len(xs) > knots:
        keep = np.unique(np.linspace(0, len(xs) - 1, knots).round().astype(int))
        xs, ys = xs[keep], ys[keep]
    return Calibration("isotonic", xs=tuple(xs.tolist()), ys=tuple(ys.tolist()))


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    pairs: int
    predicted: float
    observed: float


def reliability(
    probability: npt.ArrayLike, relevant: npt.ArrayLike, edges: Sequence[float] | None = None
) -> list[ReliabilityBin]:
    """Pairs binned by predicted probability: the mean prediction against the observed rate."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(relevant, dtype=np.float64)
    cuts = list(edges or (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0))
    bins = []
    for low, high in itertools.pairwise(cuts):
        inside = (p >= low) & ((p < high) if high < cuts[-1] else (p <= high))
        if inside.any():
            bins.append(
                ReliabilityBin(low, high, int(inside.sum()), float(p[inside].mean()),
                               float(y[inside].mean()))
            )  # fmt: skip
    return bins


def expected_calibration_error(probability: npt.ArrayLike, relevant: npt.ArrayLike) -> float:
    """The pair-weighted mean gap between predicted and observed rates over the bins."""
    bins = reliability(probability, relevant)
    total = sum(b.pairs for b in bins)
    return sum(b.pairs * abs(b.predicted - b.observed) for b in bins) / max(total, 1)


def save_calibrations(calibrations: Sequence[Calibration], path: Path) -> None:
    """Write calibrations as one JSON file, atomically."""
    payload = {
        "format": CALIBRATION_FORMAT,
        "saved_at": clock.stamp(clock.now()),
        "calibrations": [dataclasses.asdict(c) for c in calibrations],
    }
    write_atomically(path, (json.dumps(payload, indent=2) + "\n").encode())


def load_calibrations(path: Path) -> list[Calibration]:
    """The calibrations saved at `path` (none when there is no file). Raises StaleIndex when the
    file is of another format."""
    if not path.exists():
        return []
    payload = json.loads(path.read_text())
    if payload.get("format") != CALIBRATION_FORMAT:
        raise StaleIndex(
            f"The calibration file {path} has another format. Refit it with "
            "`python -m bench.train`."
        )
    out = []
    for item in payload.get("calibrations", []):
        out.append(
            Calibration(
                str(item["method"]),
                float(item.get("a", 1.0)),
                float(item.get("b", 0.0)),
                tuple(float(v) for v in item.get("xs", ())),
                tuple(float(v) for v in item.get("ys", ())),
                dict(item.get("manifest", {})),
            )
        )
    return out


def calibration_for(
    calibrations: Sequence[Calibration], candidate: str, scorer_fingerprint: str
) -> Calibration | None:
    """The calibration fitted for this candidate kind ('partners' or 'calls') and scorer."""
    for c in calibrations:
        if c.manifest.get("candidates") == candidate and c.manifest.get("scorer") == (
            scorer_fingerprint
        ):
            return c
    return None
