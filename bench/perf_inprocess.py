"""The in-process half of bench/perf.py, run in its own process so its memory is its own.

    python -m bench.perf_inprocess --root BUILT [--queries 300] [--reverse-queries 100]
                                   [--threads 4] [--seconds 10]

BUILT holds `matcher.db` and `models/` (built by `matcher build`). Opens the library's
`Recommender` as the server does (the same model, indexes loaded eagerly, then `gc.freeze()`),
and times each direction (top 10, with reasons) one query after another (the reverse
directions, which score every project, fewer times), then stored project ->
partners and pasted abstract -> partners from several threads at once. Every pasted abstract is
new (bench.perf_world.pasted_text), so the embedding cache never answers it. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from pathlib import Path
from typing import Any

from matcher import (
    DEFAULT_MODEL,
    DocumentEncoder,
    EntityKind,
    Recommender,
    SentenceTransformerEmbedder,
    Store,
    Target,
)

from .perf_measure import latencies, self_peak_rss_mb, throughput
from .perf_world import pasted_text

REVERSE = ("organisation_to_projects", "call_to_projects")


def measure(
    root: Path, queries: int, threads: int, seconds: float, reverse_queries: int
) -> dict[str, Any]:
    started = time.perf_counter()
    store = Store(root / "matcher.db")
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    recommender = Recommender.open(store, DocumentEncoder(embedder, store), root / "models")
    embedder.embed(["warm up"])
    gc.freeze()
    opened = time.perf_counter() - started
    projects = [e.id for e in recommender.entities(EntityKind.PROJECT)]
    orgs = [e.id for e in recommender.entities(EntityKind.ORGANISATION)]
    calls = [e.id for e in recommender.entities(EntityKind.CALL)]
    rng = random.Random(1)
    rng.shuffle(projects)
    rng.shuffle(orgs)
    serial = iter(range(10**9))

    def pasted(_: int) -> object:
        return recommender.search(pasted_text(rng, next(serial)), Target.PARTNERS, k=10)

    directions = {
        "project_to_partners": lambda i: recommender.partners_for(projects[i % len(projects)]),
        "project_to_calls": lambda i: recommender.calls_for(projects[i % len(projects)]),
        "organisation_to_projects": lambda i: recommender.projects_for(orgs[i % len(orgs)]),
        "call_to_projects": lambda i: recommender.projects_for(calls[i % len(calls)]),
        "pasted_to_partners": pasted,
    }
    result: dict[str, Any] = {
        "counts": recommender.counts(),
        "open_s": round(opened, 2),
        "latency": {
            name: latencies(call, reverse_queries if name in REVERSE else queries)
            for name, call in directions.items()
        },
    }
    result["threaded"] = {
        name: throughput(directions[name], threads, seconds)
        for name in ("project_to_partners", "pasted_to_partners")
    }
    result["peak_rss_mb"] = self_peak_rss_mb()
    store.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reverse-queries", type=int, default=100)
    args = parser.parse_args(argv)
    found = measure(args.root, args.queries, args.threads, args.seconds, args.reverse_queries)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
