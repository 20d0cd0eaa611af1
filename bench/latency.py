"""Latency of matches through HTTP, against a real uvicorn process on loopback.

    python -m bench.latency --dir BUILT [--requests 300] [--json OUT]

BUILT holds `matcher.db` and `models/` (e.g. from `python -m bench.build --keep BUILT`); without
--dir the demo data is loaded and built into a temporary folder. Reports p50/p95/p99 in ms for
project -> top-10 partners (a stored project) and for a pasted abstract.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from matcher import Conflict, Role, Store, create_user, issue_key

from .machine import describe, free_port, report

ABSTRACTS = [
    "We engineer CD19/CD22 bispecific CAR-T cells for relapsed B-cell lymphoma and need a "
    "partner for closed automated GMP manufacturing and apheresis sites for a phase I trial.",
    "An AAV9 vector delivering SMN1 to motor neurons after intrathecal injection; we seek "
    "suspension HEK293 vector manufacturing and a GLP biodistribution study.",
    "iPSC-derived dopaminergic progenitors for Parkinson disease, ready for GMP banking and "
    "regulatory scientific advice before a first-in-human study.",
]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"n": len(ordered), "p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99),
            "mean_ms": round(statistics.fmean(ordered), 2)}  # fmt: skip


def prepare_demo(root: Path) -> None:
    env = {**os.environ, "MATCHER_DB_PATH": str(root / "matcher.db"),
           "MATCHER_MODELS_DIR": str(root / "models")}  # fmt: skip
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    for args in (["load", str(demo)], ["build"]):
        subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, check=True)


def bench_key(db_path: Path) -> str:
    """An API key for a business developer (who sees every project, so confidential ones are
    audited as in real use)."""
    with Store(db_path) as store:
        with contextlib.suppress(Conflict):
            create_user(store, "bench.bizdev", Role.BIZDEV)
        return issue_key(store, "bench.bizdev", "latency benchmark")[1]


def measure(root: Path, requests: int) -> dict[str, Any]:
    port = free_port()
    headers = {"Authorization": f"Bearer {bench_key(root / 'matcher.db')}"}
    env = {**os.environ, "MATCHER_DB_PATH": str(root / "matcher.db"),
           "MATCHER_MODELS_DIR": str(root / "models")}  # fmt: skip
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
            deadline = time.monotonic() + 300
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((root / "server.log").read_text())
                time.sleep(0.5)
            ids = [p["id"] for p in client.get("/api/v1/projects?limit=500").json()["items"]]
            counts = client.get("/health").json()["counts"]
            stored, pasted = [], []
            for i in range(10):  # warm-up
                client.get(f"/api/v1/projects/{ids[i % len(ids)]}/partners?k=10")
            for i in range(requests):
                started = time.perf_counter()
                r = client.get(f"/api/v1/projects/{ids[i % len(ids)]}/partners", params={"k": 10})
                stored.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, r.text
            for i in range(requests):
                body = {"text": ABSTRACTS[i % len(ABSTRACTS)] + f" Variant {i}.", "k": 10}
                started = time.perf_counter()
                r = client.post("/api/v1/search/partners", json=body)
                pasted.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, r.text
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return {"counts": counts, "stored_project_to_partners": percentiles(stored),
            "pasted_abstract_to_partners": percentiles(pasted)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir
        if root is None:
            root = Path(tmp)
            prepare_demo(root)
        result = {"machine": describe(), **measure(root, args.requests)}
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
