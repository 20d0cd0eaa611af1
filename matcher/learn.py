"""The hub's ranker learned from its own feedback: gather every recorded judgement, compute the
judged pairs' features through the loaded recommender, update the active ranker
(ranking/learning.py) and save it as a new version (ranking/versions.py).

The new ranker keeps its base's calibration: learning holds the base's scale (see learning.py),
and a few hundred judgements of pairs users were shown (mostly strong matches) would make a poor
calibration of all pairs. The base's calibration is copied into calibration.json under the new
scorer's fingerprint, marked `inherited_from`; `python -m bench.train` refits them all.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .artefacts import calibration_path, ranker_path
from .domain import EntityKind
from .errors import NotFound
from .matches import Target
from .ranking.calibration import (
    calibration_for,
    fingerprint,
    load_calibrations,
    save_calibrations,
)
from .ranking.features import FEATURES
from .ranking.learning import Learned, base_of, grade_of, learn_from_feedback
from .ranking.scorer import LinearScorer
from .ranking.versions import install_ranker
from .recommender import Recommender
from .store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnReport:
    """What `learn_ranker` did: the learning's outcome, and where the new version went."""

    target: Target
    base: LinearScorer
    learned: Learned
    path: Path
    kept: Path | None
    """The replaced version's copy in the history; None when nothing was saved."""
    calibration: str
    skipped: int
    """Judged pairs left out: their project or candidate is not in the loaded indexes."""


def feedback_rows(
    store: Store, recommender: Recommender, target: Target
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float64], list[str], npt.NDArray[np.float64], int
]:
    """The feature rows of every judged pair of a project with a candidate of this target, with
    each pair's grade (share of positive verdicts), project and count of judgements, then the
    project's unjudged candidates (count 0); and how many judged pairs could not be placed."""
    kind = EntityKind.ORGANISATION if target is Target.PARTNERS else EntityKind.CALL
    by_project: dict[str, list[tuple[str, float, int]]] = {}
    skipped = 0
    for count in store.feedback_counts():
        if recommender.known(count.candidate_id) is not kind:
            if recommender.known(count.candidate_id) is None:
                skipped += 1
            continue
        total = count.relevant + count.not_relevant + count.already_known
        grade = grade_of(count.relevant, count.not_relevant, count.already_known)
        by_project.setdefault(count.project_id, []).append((count.candidate_id, grade, total))
    rows, grades, groups, counts = [], [], [], []
    for project, judged in sorted(by_project.items()):
        try:
            ids, features = recommender.features_for(project, target)
        except NotFound:
            skipped += len(judged)
            continue
        position = {c: i for i, c in enumerate(ids)}
        for candidate, grade, total in judged:
            if candidate not in position:  # a cluster member: it ranks as its canonical record
                skipped += 1
                continue
            rows.append(features[position[candidate]])
            grades.append(grade)
            groups.append(project)
            counts.append(total)
        # The project's unjudged candidates, as background (see ranking/learning.py).
        unjudged = sorted(set(range(len(ids))) - {position.get(c, -1) for c, _, _ in judged})
        rows.extend(features[unjudged])
        grades.extend([0.0] * len(unjudged))
        groups.extend([project] * len(unjudged))
        counts.extend([0] * len(unjudged))
    X = np.stack(rows) if rows else np.zeros((0, len(FEATURES)), dtype=np.float32)
    return (
        X,
        np.array(grades, dtype=np.float64),
        groups,
        np.array(counts, dtype=np.float64),
        skipped,
    )


def learn_ranker(
    store: Store,
    recommender: Recommender,
    models_dir: Path,
    target: Target = Target.PARTNERS,
    *,
    dry_run: bool = False,
) -> LearnReport:
    """Update the ranker for this target (partners or calls) from all recorded feedback and,
    unless `dry_run` or the floor holds it back, save it as the active version."""
    if target is Target.PROJECTS:
        raise ValueError("learning ranks partners or calls for projects")
    kind = EntityKind.ORGANISATION if target is Target.PARTNERS else EntityKind.CALL
    active = recommender.scorer(kind)
    base = base_of(active)
    X, grades, groups, counts, skipped = feedback_rows(store, recommender, target)
    learned = learn_from_feedback(base, X, grades, np.array(groups), counts)
    if learned.changed and "model" not in learned.scorer.manifest:
        # The dense features are this model's: another model's ranker would be ignored.
        manifest = {"model": recommender.encoder.embedder.name, **learned.scorer.manifest}
        learned = dataclasses.replace(
            learned, scorer=dataclasses.replace(learned.scorer, manifest=manifest)
        )
    path = ranker_path(models_dir, kind)
    if dry_run or not learned.changed:
        return LearnReport(target, base, learned, path, None, "unchanged", skipped)
    calibration = _inherit_calibration(models_dir, target, base, learned.scorer)
    kept = install_ranker(learned.scorer, path, active)
    log.info("saved %s (%s); kept %s", path, learned.reason, kept)
    return LearnReport(target, base, learned, path, kept, calibration, skipped)


def _inherit_calibration(
    models_dir: Path, target: Target, base: LinearScorer, new: LinearScorer
) -> str:
    path = calibration_path(models_dir)
    calibrations = load_calibrations(path)
    base_print = fingerprint(base.weights, base.bias)
    new_print = fingerprint(new.weights, new.bias)
    if calibration_for(calibrations, target.value, new_print) is not None:
        return "already calibrated"
    found = calibration_for(calibrations, target.value, base_print)
    if found is None:
        return "none: the base has no calibration either (scores use the fixed curve)"
    manifest = {
        **found.manifest,
        "scorer": new_print,
        "scorer_name": str(new.manifest.get("name", "")),
        "inherited_from": base_print,
    }
    save_calibrations([*calibrations, dataclasses.replace(found, manifest=manifest)], path)
    return f"inherited from the base ({base_print})"
