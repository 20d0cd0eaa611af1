"""Metrics (ir-measures) and TREC run files for the quality benchmark."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ir_measures
from ir_measures import RR, R, nDCG

from .tasks import Task

if TYPE_CHECKING:
    from .pipeline import TaskRun

RUN_NAME = "cgt-matcher"


def metric_set(task: Task) -> dict[str, Any]:
    """Graded relevance becomes the task's gain; 'relevant' means a gain of at least the gain of
    the task's binary threshold (expert: rating 4 and 5; call: the funding topic)."""
    threshold = int(task.gain(task.binary_min))
    return {
        "recall@10": R(rel=threshold) @ 10,
        "ndcg@10": nDCG @ 10,
        "mrr": RR(rel=threshold),
    }


def per_query(task: Task, scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each judged query's metrics."""
    judged = set(task.judged_queries())
    candidates = {c["id"] for c in task.candidates}
    qrels = [
        ir_measures.Qrel(q, c, int(task.gain(r)))
        for q, rows in task.qrels.items()
        if q in judged
        for c, r in rows.items()
        if c in candidates
    ]
    run = [
        ir_measures.ScoredDoc(q, c, s)
        for q, row in scores.items()
        if q in judged
        for c, s in row.items()
    ]
    measures = metric_set(task)
    names = {m: name for name, m in measures.items()}
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for metric in ir_measures.iter_calc(list(measures.values()), qrels, run):
        out[metric.query_id][names[metric.measure]] = float(metric.value)
    for query in judged:  # a query the run missed scores zero
        for name in measures:
            out[query].setdefault(name, 0.0)
    return dict(out)


def stelmakh_loss(task: Task, scores: dict[str, dict[str, float]]) -> float:
    """Per researcher, each pair of rated papers with different expertise costs |difference|
    when the scores order them the other way (half on a tie); normalised by the total."""
    by_candidate: dict[str, dict[str, float]] = defaultdict(dict)
    for query, rows in task.qrels.items():
        for candidate, rel in rows.items():
            by_candidate[candidate][query] = rel
    loss = total = 0.0
    for candidate, papers in by_candidate.items():
        for (p1, e1), (p2, e2) in itertools.combinations(papers.items(), 2):
            t = e1 - e2
            if t == 0:
                continue
            d = scores.get(p1, {}).get(candidate, 0.0) - scores.get(p2, {}).get(candidate, 0.0)
            total += abs(t)
            if d * t == 0:
                loss += abs(t) / 2
            elif d * t < 0:
                loss += abs(t)
    return loss / total if total else float("nan")


def evaluate_task(task: Task, scores: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    values = per_query(task, scores)
    out: dict[str, dict[str, Any]] = {}
    for name, members in task.slices.items():
        rows = [v for q, v in values.items() if q in members]
        if not rows:
            continue
        out[name] = {"n_queries": len(rows)}
        for metric in metric_set(task):
            out[name][metric] = sum(r[metric] for r in rows) / len(rows)
    if task.name == "expert":
        out["all"]["stelmakh_loss"] = stelmakh_loss(task, scores)
    return out


def write_run(
    path: Path, run: TaskRun, scores: dict[str, dict[str, float]], depth: int = 100
) -> None:
    """TREC run format: query_id Q0 candidate_id rank score name, the top `depth` per query."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for query, row in scores.items():
            ranked = sorted(row.items(), key=lambda item: (-item[1], item[0]))[:depth]
            for rank, (candidate, score) in enumerate(ranked, start=1):
                f.write(f"{query} Q0 {candidate} {rank} {score:.6f} {RUN_NAME}\n")
