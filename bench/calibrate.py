"""Calibrating raw pair scores into probabilities, on cross-fitted benchmark scores.

Used by `python -m bench.train`. For one candidate kind and one scorer: the raw score of every
(query, candidate) pair of the task, each query scored by a ranker that did not see its labels
(5-fold cross-fitting by query; the default scorer learns nothing), labelled relevant or not.
Platt and isotonic maps are fitted; each is judged by its expected calibration error when fitted
on four folds and applied to the fifth, and the better one is refitted on all pairs and saved.

What "relevant" means must be the same for partners and calls, or their scores do not compare.
opencall's labels are silver: a call of the same destination as the project's funded topic, a
call it could plausibly have applied to. trialpartner's gold labels are stricter: the trial's
actual sponsor and collaborators, while other organisations that ran a trial on the same
condition are plausible partners too. Partners are therefore calibrated on "plausible" labels:
gold, or an organisation whose other registry records (the query's own left out) name one of the
query's conditions (normalised). The gold-only calibration error is reported beside it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher import LinearScorer
from matcher.ranking.calibration import (
    Calibration,
    ReliabilityBin,
    expected_calibration_error,
    fingerprint,
    fit_isotonic,
    fit_platt,
    reliability,
    save_calibrations,
)

from .pipeline import TaskRun, fold_of, train_scorers
from .tasks import Task, data_hash

FOLDS = 5


@dataclass(frozen=True)
class Fitted:
    calibration: Calibration
    ece: dict[str, float]
    """Cross-fitted expected calibration error of each method."""
    table: list[ReliabilityBin]
    """The chosen method's cross-fitted reliability table."""
    top_table: list[ReliabilityBin]
    """The same over each query's first ten pairs."""


def _condition(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def plausible_partners(task: Task) -> dict[str, set[str]]:
    """For a leave-one-out registry task: per query, the candidates whose other records name one
    of the query's conditions (see the module's docstring); empty for other tasks."""
    if not task.leave_one_out:
        return {}
    records: list[tuple[str, str, frozenset[str]]] = []
    for c in task.candidates:
        meta = c.get("meta") or {}
        for doc_id, facts in zip(
            meta.get("profile_doc_ids") or [], meta.get("profile_doc_meta") or [], strict=False
        ):
            names = frozenset(_condition(x) for x in (facts or {}).get("conditions") or [])
            records.append((c["id"], str(doc_id), names))
    out: dict[str, set[str]] = {}
    for q in task.queries:
        wanted = {_condition(x) for x in (q.get("meta") or {}).get("conditions") or []} - {""}
        out[q["id"]] = {cid for cid, doc, names in records if doc != q["id"] and wanted & names}
    return out


@dataclass(frozen=True)
class Scores:
    raw: npt.NDArray[np.float64]
    relevant: npt.NDArray[np.float64]
    """The label calibrated on: gold, or plausible (see the module's docstring)."""
    gold: npt.NDArray[np.float64]
    fold: npt.NDArray[np.int64]
    query: npt.NDArray[np.int64]


def cross_fitted_scores(run: TaskRun, scorer: LinearScorer, trained: bool) -> Scores:
    """Raw scores and labels of every judged query's candidates, with the query's fold."""
    scorer_for = train_scorers([run], run, FOLDS) if trained else (lambda query: scorer)
    ids = run.candidate_ids()
    plausible = plausible_partners(run.task)
    raw, labels, gold, folds, queries = [], [], [], [], []
    for n, query in enumerate(run.queries()):
        judged = run.task.qrels.get(query, {})
        raw.append(scorer_for(query).score(run.features(query)).astype(np.float64))
        g = np.array([judged.get(c, 0.0) >= run.task.binary_min for c in ids], float)
        extra = plausible.get(query, set())
        labels.append(np.maximum(g, np.array([c in extra for c in ids], float)))
        gold.append(g)
        folds.append(np.full(len(ids), fold_of(query, FOLDS)))
        queries.append(np.full(len(ids), n))
    return Scores(
        np.concatenate(raw), np.concatenate(labels), np.concatenate(gold),
        np.concatenate(folds), np.concatenate(queries),
    )  # fmt: skip


def top_of_each_query(scores: Scores, k: int = 10) -> npt.NDArray[np.bool_]:
    """The pairs ranked in the first k of their query: the ones a person reads."""
    order = np.lexsort((-scores.raw, scores.query))
    first = np.r_[0, np.flatnonzero(np.diff(scores.query[order])) + 1]
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    top = np.zeros(len(order), dtype=bool)
    top[order[rank < k]] = True
    return top


def calibrate(
    kind: str, run: TaskRun, scorer: LinearScorer, *, trained: bool, train_dir: Path, model: str
) -> Fitted:
    scores = cross_fitted_scores(run, scorer, trained)
    raw, relevant, folds = scores.raw, scores.relevant, scores.fold
    methods = {"platt": fit_platt, "isotonic": fit_isotonic}
    predicted: dict[str, npt.NDArray[np.float64]] = {}
    for name, fit in methods.items():
        out = np.zeros_like(raw)
        for f in range(FOLDS):
            held = folds == f
            out[held] = fit(raw[~held], relevant[~held]).probability(raw[held])
        predicted[name] = out
    ece = {name: expected_calibration_error(p, relevant) for name, p in predicted.items()}
    best = min(ece, key=lambda name: ece[name])
    final = methods[best](raw, relevant)
    top = top_of_each_query(scores)
    gold_fit = np.zeros_like(raw)
    for f in range(FOLDS):
        held = folds == f
        gold_fit[held] = methods[best](raw[~held], scores.gold[~held]).probability(raw[held])
    extra = {
        "ece_top10": round(expected_calibration_error(predicted[best][top], relevant[top]), 5),
        "labels": "plausible" if run.task.leave_one_out else "task",
        "relevant_gold": int(scores.gold.sum()),
        "ece_gold_labels": round(expected_calibration_error(gold_fit, scores.gold), 5),
        "ece_gold_labels_top10": round(
            expected_calibration_error(gold_fit[top], scores.gold[top]), 5
        ),
    }
    manifest: dict[str, Any] = {
        "candidates": kind,
        "scorer": fingerprint(scorer.weights, scorer.bias),
        "scorer_name": "trained ranker" if trained else "default",
        "task": run.task.name,
        "model": model,
        "train_dir": train_dir.name,
        "train_hash": data_hash(train_dir),
        "pairs": len(raw),
        "relevant": int(relevant.sum()),
        "ece": {name: round(v, 5) for name, v in ece.items()},
        **extra,
    }
    return Fitted(
        dataclasses.replace(final, manifest=manifest),
        ece,
        reliability(predicted[best], relevant),
        reliability(predicted[best][top], relevant[top]),
    )


def print_report(fitted: list[Fitted]) -> None:
    for f in fitted:
        m = f.calibration.manifest
        ece = ", ".join(f"{k} {v:.4f}" for k, v in f.ece.items())
        print(
            f"\n{m['candidates']} / {m['scorer_name']} on {m['task']}: {m['pairs']} pairs, "
            f"{m['relevant']} relevant ({m['labels']} labels; {m['relevant_gold']} gold); "
            f"cross-fitted ECE {ece}; kept {f.calibration.method}; ECE over each query's top 10 "
            f"{m['ece_top10']:.4f}; fitted and judged on gold labels only: ECE "
            f"{m['ece_gold_labels']:.4f}, top 10 {m['ece_gold_labels_top10']:.4f}"
        )
        for title, table in (("all pairs", f.table), ("each query's top 10", f.top_table)):
            print(f"{title}:\n{'predicted':>20}{'pairs':>9}{'mean predicted':>16}{'observed':>10}")
            for b in table:
                print(f"{b.low:>9.2f} - {b.high:<8.2f}{b.pairs:>9}{b.predicted:>16.4f}"
                      f"{b.observed:>10.4f}")  # fmt: skip


def write_calibrations(fitted: list[Fitted], path: Path, report: Path | None) -> None:
    save_calibrations([f.calibration for f in fitted], path)
    print(f"\n{path}: {len(fitted)} calibrations")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {**dict(f.calibration.manifest), "method": f.calibration.method,
             "table": [dataclasses.asdict(b) for b in f.table],
             "top10_table": [dataclasses.asdict(b) for b in f.top_table]}
            for f in fitted
        ]  # fmt: skip
        report.write_text(json.dumps(rows, indent=2) + "\n")
