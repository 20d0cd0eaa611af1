"""Measuring for bench/perf.py: latency percentiles, threaded throughput, per-process memory."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .latency import percentiles


def latencies(call: Callable[[int], object], n: int, warm_up: int = 10) -> dict[str, float]:
    """Call `call(i)` for i in 0..n-1 one after another (after `warm_up` untimed calls)."""
    for i in range(warm_up):
        call(i)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        call(warm_up + i)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def throughput(call: Callable[[int], object], threads: int, seconds: float) -> dict[str, Any]:
    """Requests per second with `threads` threads calling `call(i)` back to back for `seconds`;
    each call's latency is kept too."""
    stop = time.perf_counter() + seconds
    counter = iter(range(10**12))
    lock = threading.Lock()
    samples: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        while time.perf_counter() < stop:
            with lock:
                i = next(counter)
            started = time.perf_counter()
            try:
                call(i)
            except Exception as e:  # counted and reported, not hidden
                errors.append(e)
                continue
            with lock:
                samples.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    out: dict[str, Any] = {"threads": threads, "seconds": round(elapsed, 2),
                           "requests": len(samples), "errors": len(errors),
                           "requests_per_s": round(len(samples) / elapsed, 2)}  # fmt: skip
    if samples:
        out["latency"] = percentiles(samples)
    if errors:
        out["first_error"] = repr(errors[0])
    return out


def self_peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def proc_memory_mb(pid: int) -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of a running process, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out["rss_mb" if name == "VmRSS" else "peak_rss_mb"] = round(
                int(value.split()[0]) / 1024, 1
            )
    return out


def run_measured(
    command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> dict[str, Any]:
    """Run a command to its end: wall seconds and its peak RSS (from wait4's rusage), its
    output in `log`. Raises SystemExit with the log's tail when it fails."""
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{tail}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
