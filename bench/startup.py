"""Seconds from `make demo` (venv already installed) to an API that answers /health.

    python -m bench.startup [--runs 2] [--json OUT]

Run 1 starts from an empty database and no indexes (every sentence is embedded); later runs
reuse the database, as a second `make demo` does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from .machine import describe, free_port, report

ROOT = Path(__file__).resolve().parents[1]


def one_run(db: Path, models: Path) -> float:
    port = free_port()
    env = {**os.environ, "MATCHER_PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen(
        ["make", "demo", f"DEMO_DB={db}", f"DEMO_MODELS={models}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"make demo exited with {process.returncode}")
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db, models = Path(tmp) / "demo.db", Path(tmp) / "models"
        seconds = [round(one_run(db, models), 2) for _ in range(args.runs)]
    result = {"machine": describe(), "seconds_to_serving": seconds,
              "note": "run 1: empty database; later runs: database and cache kept"}  # fmt: skip
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
