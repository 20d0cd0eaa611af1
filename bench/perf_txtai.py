"""txtai side by side for bench/perf.py: the same organisation texts and model, indexed and
queried with txtai's hybrid (BM25 + dense) index. Each step runs in its own process.

    python -m bench.perf_txtai build --data DATA --out DIR
    python -m bench.perf_txtai query --data DATA --out DIR [--queries 300] [--threads 4]
    python -m bench.perf_txtai serve --data DATA --out DIR --port PORT

The index is `Embeddings(path=<the all-MiniLM-L6-v2 folder>, content=True, hybrid=True)` over
one row per profile document (id `<organisation id>#<n>`), as the product indexes documents. A
query is a project's title and abstract (txtai has no stored project: it embeds the query text
each time); top 10 organisations = the best 40 documents collapsed to distinct organisations.
An `Embeddings` instance is not thread-safe (its SQLite cursor is shared: "Recursive use of
cursors not allowed" from two threads), so searches hold a lock, in process and in the server.
`serve` answers GET /api/v1/projects/{id}/partners?k=10 under uvicorn (one process, sync
route in the thread pool, as the product's server), so the same wrk script loads both.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from matcher import resolve_model

from .perf_measure import latencies, self_peak_rss_mb, throughput


def organisation_rows(data: Path) -> list[tuple[str, str]]:
    rows = []
    with (data / "organisations.jsonl").open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            for n, d in enumerate(record["documents"]):
                rows.append((f"{record['id']}#{n}", d["text"]))
    return rows


def project_texts(data: Path) -> dict[str, str]:
    texts = {}
    with (data / "projects.jsonl").open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            texts[record["id"]] = f"{record['title']}. {record['abstract']}"
    return texts


def new_embeddings() -> Any:
    from txtai import Embeddings  # type: ignore[import-untyped]

    return Embeddings(path=resolve_model("default"), content=True, hybrid=True)


def build(data: Path, out: Path) -> dict[str, Any]:
    rows = organisation_rows(data)
    embeddings = new_embeddings()
    started = time.perf_counter()
    embeddings.index([{"id": i, "text": t} for i, t in rows])
    embeddings.save(str(out))
    seconds = time.perf_counter() - started
    return {"documents": len(rows), "build_s": round(seconds, 2), "peak_rss_mb": self_peak_rss_mb()}


def load(out: Path) -> Any:
    embeddings = new_embeddings()
    embeddings.load(str(out))
    return embeddings


def top_organisations(embeddings: Any, text: str, k: int = 10) -> list[tuple[str, float]]:
    seen: dict[str, float] = {}
    for hit in embeddings.search(text, k * 4):
        org = hit["id"].rsplit("#", 1)[0]
        if org not in seen:
            seen[org] = hit["score"]
    return list(seen.items())[:k]


def query(data: Path, out: Path, queries: int, threads: int, seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    embeddings = load(out)
    top_organisations(embeddings, "warm up")
    opened = time.perf_counter() - started
    texts = list(project_texts(data).values())
    random.Random(1).shuffle(texts)
    lock = threading.Lock()

    def one(i: int) -> object:
        with lock:
            return top_organisations(embeddings, texts[i % len(texts)])

    serial = latencies(one, queries)
    threaded = {**throughput(one, threads, seconds), "serialised_by_lock": True}
    return {"open_s": round(opened, 2), "project_text_to_partners": serial,
            "threaded": threaded, "peak_rss_mb": self_peak_rss_mb()}  # fmt: skip


def serve(data: Path, out: Path, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, HTTPException

    embeddings = load(out)
    top_organisations(embeddings, "warm up")
    texts = project_texts(data)
    lock = threading.Lock()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/projects/{project_id}/partners")
    def partners(project_id: str, k: int = 10) -> dict[str, Any]:
        if project_id not in texts:
            raise HTTPException(404)
        with lock:
            hits = top_organisations(embeddings, texts[project_id], k)
        return {"items": [{"id": i, "score": s} for i, s in hits]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("step", choices=["build", "query", "serve"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    if args.step == "build":
        print(json.dumps(build(args.data, args.out)))
    elif args.step == "query":
        print(json.dumps(query(args.data, args.out, args.queries, args.threads, args.seconds)))
    else:
        serve(args.data, args.out, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
