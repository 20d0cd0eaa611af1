"""Learning from the hub's own feedback: a base scorer nudged by judged pairs.

Users mark suggested pairs relevant, not relevant or already known. `learn_from_feedback` turns
those judgements into new weights for the base LinearScorer (the trained ranker or the default):

    minimise  sum over projects, pairs (a judged above b): w_ab * log(1 + exp(-t (s_a - s_b)))
            + PULL / 2 * sum over features: (t * sd_f * (weight_f - base_f)) ** 2

with s = the linear score, so the learned scorer still scores one pair from its own features and
scores compare across queries. The temperature t is fitted first for the base alone (at least
the one that makes the base's typical pair difference one logit) and then held,
so the loss asks for a better order rather than larger weights: the learned weights keep the
base's scale, and the base's calibration still reads them (the pull is measured in the units of
the feature differences, sd_f, as the trained ranker's standardised features are). PULL counts
as that many projects' worth of evidence for the base: with few judgements the weights barely
move. Below MIN_JUDGEMENTS, or with fewer than MIN_PROJECTS projects holding both a positive and a
negative judgement, the base is returned unchanged with the reason.

Users judge what they were shown, mostly the base's strongest candidates, but they also mark
right partners the list did not show. Compared only with the shown wrong ones, such a right
partner says "weak features win", and learning turned the ranking upside down in simulation
(docs/quality.md). So each project's unjudged candidates are background: the judged right
matches should also rank above them, at BACKGROUND of the project's weight, which anchors what
the base already gets right (nearly all unjudged candidates are wrong matches).

Labels: relevant and already known are positive, not relevant is negative. Already known still
says the ranking put a right partner up (the user knew it); it dismisses the pair from that
user's suggestions, which is a separate matter (matcher/workflow.py). Where several users judged
a pair, its grade is the share of positive verdicts, and it weighs as many judgements as it had.

scipy is imported only to learn, so serving and the command line start without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import clock
from .calibration import fingerprint
from .features import FEATURES
from .scorer import LinearScorer

MIN_JUDGEMENTS = 30
"""Fewer judgements than this leave the ranker as it is: one busy afternoon must not move it."""
MIN_PROJECTS = 3
"""Nor fewer projects than this with both a positive and a negative judgement: only those say
which of two candidates should rank higher, and one project's taste is not the hub's."""
PULL = 20.0
"""How strongly the weights are held at the base, in projects' worth of evidence."""
BACKGROUND = 0.5
"""The weight of a project's right-above-unjudged pairs, against 1 for its judged pairs."""


@dataclass(frozen=True)
class Learned:
    """What learning gave: the scorer (the base itself when `changed` is false) and why."""

    scorer: LinearScorer
    changed: bool
    reason: str
    judgements: int
    projects: int
    contrasted: int
    """Projects with both a positive and a negative judgement."""


def grade_of(relevant: int, not_relevant: int, already_known: int) -> float:
    """The share of positive verdicts on a pair (relevant and already known are positive)."""
    total = relevant + not_relevant + already_known
    return (relevant + already_known) / total if total else 0.0


def base_of(scorer: LinearScorer) -> LinearScorer:
    """The scorer that `scorer` was learned from, when it was learned from feedback; otherwise
    itself. Learning again starts from there with all the feedback, so no judgement counts twice."""
    base = scorer.manifest.get("base")
    if not isinstance(base, Mapping) or "weights" not in base:
        return scorer
    return LinearScorer(
        dict(base["weights"]), float(base.get("bias", 0.0)), dict(base.get("manifest", {}))
    )


def learn_from_feedback(
    base: LinearScorer,
    X: npt.ArrayLike,
    grades: npt.ArrayLike,
    groups: npt.ArrayLike,
    judgements: npt.ArrayLike | None = None,
    *,
    pull: float = PULL,
    min_judgements: int = MIN_JUDGEMENTS,
    min_projects: int = MIN_PROJECTS,
) -> Learned:
    """Weights for `base` updated from judged pairs: X holds their feature rows (one per pair,
    over FEATURES), `grades` 1 for relevant and 0 for not (or the share of positive verdicts),
    `groups` the project of each pair, `judgements` how many verdicts each pair had (1 each by
    default; 0 marks an unjudged candidate of the project, the background, whose grade is
    ignored). Features the base weighs exactly 0 stay 0 (they were left out of learning on
    purpose); features it does not name start at 0 and may move."""
    rows = np.asarray(X, dtype=np.float64).reshape(-1, len(FEATURES))
    y = np.asarray(grades, dtype=np.float64)
    g = np.asarray(groups)
    counts = np.ones(len(y)) if judgements is None else np.asarray(judgements, dtype=np.float64)
    if not (len(rows) == len(y) == len(g) == len(counts)):
        raise ValueError("X, grades, groups and judgements need one entry per pair")
    judged = counts > 0
    y = np.where(judged, y, 0.0)
    total = round(float(counts.sum()))
    projects = len(set(g[judged].tolist()))
    contrasted = sum(1 for p in set(g[judged].tolist()) if np.ptp(y[judged & (g == p)]) > 0)

    def unchanged(reason: str) -> Learned:
        return Learned(base, False, reason, total, projects, contrasted)

    if total < min_judgements:
        return unchanged(f"{total} judgements; at least {min_judgements} are needed")
    if contrasted < min_projects:
        return unchanged(
            f"{contrasted} projects have both a positive and a negative judgement; at least "
            f"{min_projects} are needed"
        )
    weights, temperature = _fit(base, rows, y, g, counts, pull)
    manifest: dict[str, Any] = {
        **{k: v for k, v in base.manifest.items() if k not in ("saved_at", "base", "feedback")},
        "name": f"{base.manifest.get('name', 'scorer')} + feedback",
        "trained": True,
        "base": {
            "name": base.manifest.get("name", ""),
            "fingerprint": fingerprint(base.weights, base.bias),
            "weights": dict(base.weights),
            "bias": base.bias,
            "manifest": dict(base.manifest),
        },
        "feedback": {
            "judgements": total,
            "pairs": int(judged.sum()),
            "background": int((~judged).sum()),
            "projects": projects,
            "contrasted_projects": contrasted,
            "pull": pull,
            "temperature": round(temperature, 6),
            "learned_at": clock.stamp(clock.now()),
        },
    }
    scorer = LinearScorer(weights, base.bias, manifest)
    return Learned(scorer, True, f"learned from {total} judgements", total, projects, contrasted)


def _fit(
    base: LinearScorer,
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    groups: npt.NDArray[Any],
    counts: npt.NDArray[np.float64],
    pull: float,
) -> tuple[dict[str, float], float]:
    from scipy.optimize import minimize, minimize_scalar

    D, w = pairs(X, y, groups, counts)
    w0 = np.array([float(base.weights.get(f, 0.0)) for f in FEATURES])
    free = np.array([not (f in base.weights and base.weights[f] == 0.0) for f in FEATURES])
    sd = np.sqrt((w[:, None] * D**2).sum(axis=0) / w.sum())
    sd = np.where(sd > 0, sd, 1.0)
    margin0 = D @ w0

    def base_loss(log_t: float) -> float:
        return float((w * np.logaddexp(0.0, -np.exp(log_t) * margin0)).sum())

    # The base's own temperature: the scale at which its scores best explain the judgements,
    # but at least the one that makes the base's typical pair difference one logit: a base the
    # judgements contradict would otherwise fit t near 0, and the pull (in units of t) vanish.
    spread = float(np.sqrt((w * margin0**2).sum() / w.sum())) or 1.0
    floor = float(np.log(1.0 / spread))
    found = minimize_scalar(base_loss, bounds=(floor, floor + 7.0), method="bounded")
    t = float(np.exp(found.x))
    Df = D[:, free]
    scale = (t * sd[free]) ** 2

    def objective(u: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        margin = t * (margin0 + Df @ u)
        loss = (w * np.logaddexp(0.0, -margin)).sum() + pull / 2 * (scale * u**2).sum()
        # d/dm log(1 + exp(-m)) = -sigmoid(-m)
        slope = -w * t * _sigmoid(-margin)
        return float(loss), Df.T @ slope + pull * scale * u

    result = minimize(objective, np.zeros(int(free.sum())), jac=True, method="L-BFGS-B")
    learned = w0.copy()
    learned[free] += result.x
    return {f: float(v) for f, v in zip(FEATURES, learned, strict=True)}, t


def pairs(
    X: npt.NDArray[np.float64],
    grades: npt.NDArray[np.float64],
    groups: npt.NDArray[Any],
    counts: npt.NDArray[np.float64],
    background: float = BACKGROUND,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Within each project, the feature differences (higher grade minus lower) of every two
    judged pairs with different grades, weighted by the grade gap and both pairs' judgements,
    and of every positive judged pair with every unjudged one (counts 0). In each project the
    judged part weighs the mean judgements of its judged pairs, the background part `background`
    times that."""
    diffs: list[npt.NDArray[np.float64]] = []
    weights: list[npt.NDArray[np.float64]] = []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        judged, unjudged = rows[counts[rows] > 0], rows[counts[rows] == 0]
        if not len(judged):
            continue
        size = float(counts[judged].mean())
        g, c = grades[judged], counts[judged]
        high, low = np.nonzero(g[:, None] > g[None, :])
        parts = []
        if len(high):
            parts.append((judged[high], judged[low], (g[high] - g[low]) * c[high] * c[low], 1.0))
        positive = judged[g > 0]
        if len(positive) and len(unjudged) and background > 0:
            a, b = np.repeat(positive, len(unjudged)), np.tile(unjudged, len(positive))
            parts.append((a, b, grades[a] * counts[a], background))
        for a, b, w, part in parts:
            diffs.append(X[a] - X[b])
            weights.append(w / w.sum() * part * size)
    if not diffs:
        return np.zeros((0, X.shape[1])), np.zeros(0)
    return np.concatenate(diffs), np.concatenate(weights)


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)
