"""The store on SQLite and on PostgreSQL, side by side: load, build, latency through HTTP, and
how stale a second server's answers are after a change.

    python -m bench.store [--organisations 20000] [--requests 300] [--threads 4] [--trials 3]
                          [--fast-postgres] [--no-generated-latency] [--out FILE.json]

PostgreSQL: a throw-away server started here (`tests.postgres.Cluster.start`), with
PostgreSQL's own durability defaults (fsync and synchronous_commit on), unless
`--fast-postgres` keeps the test suite's settings (fsync, synchronous_commit and
full_page_writes off); MATCHER_TEST_POSTGRES_URL names an existing server instead. SQLite: a
file in a temporary folder, with the store's own pragmas (WAL, synchronous NORMAL).

1. Load and build with the library calls (`load_directory`, `build_indexes`) in this process,
   the model loaded once:
   - the demo data: load, build with an empty embedding cache (cold: the model embeds every
     chunk and sentence), the same build into a new folder with every vector cached (warm),
     and the rebuild after one edit;
   - the demo projects and calls with N generated organisations (`bench.synthetic`): embedding
     them all would take over half an hour on two cores, so their cache is filled first with
     seeded random unit vectors (the demo's texts get their real vectors) and the build is
     measured warm: it reads every vector from the store, as a build after a load of known
     texts does, and embeds nothing. Writing those vectors is timed too (`cache_fill_s`).
2. Latency of a stored project's top-10 partners (`GET /api/v1/projects/{id}/partners?k=10`,
   the demo's 40 projects in turn, as a business developer, so confidential reads are audited)
   through real `matcher serve` processes: one on SQLite, one on PostgreSQL, and two on
   PostgreSQL (the client alternates between their ports); `--threads` client threads.
3. Staleness on PostgreSQL with two `matcher serve` processes, each with its own models folder:
   `matcher load` of a new project and `matcher build` (CLI subprocesses, into the first
   process's folder), then `matcher erase project` of it. Seconds from the command's exit to
   each process answering: partners for the new project (200), and for the erasure the
   project's 404 and the indexes without it (`/health` counts). Negative: answered before the
   command had exited. With MATCHER_FOLLOW_SECONDS at 5 (the default) and at 1.

Prints a table and writes JSON (`--out`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from matcher import (
    DEFAULT_MODEL,
    DocumentEncoder,
    EntityKind,
    Role,
    SentenceTransformerEmbedder,
    Store,
    build_indexes,
    create_user,
    issue_key,
    load_directory,
    parse_organisation,
    to_record,
)
from matcher.text import content_hash
from tests import postgres

from .latency import percentiles
from .machine import describe, free_port, peak_rss_mb
from .synthetic import write_organisations

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
RANKER = ROOT / "models" / "ranker"
TODAY = "2026-12-01"
BACKENDS = ("sqlite", "postgresql")
START_DEADLINE = 600.0
FOLLOW_DEADLINE = 180.0


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, round(time.perf_counter() - started, 2)


# ---------------------------------------------------------------------- databases


class Databases:
    """One database per name on each backend: a SQLite file, or a database on the server."""

    def __init__(self, root: Path, cluster: postgres.Cluster) -> None:
        self.root = root
        self.cluster = cluster

    def new(self, backend: str, name: str) -> Path | str:
        if backend == "sqlite":
            return self.root / f"{name}.db"
        return self.cluster.create_database(f"{name}_{uuid.uuid4().hex[:8]}")


def start_cluster(fast: bool) -> postgres.Cluster:
    if url := os.environ.get(postgres.URL_VARIABLE):
        return postgres.Cluster.existing(url)
    if not fast:
        # PostgreSQL's own defaults (fsync, synchronous_commit, full_page_writes on), as a
        # production server runs; the tests' server turns them off.
        postgres.SETTINGS = "-c max_connections=200"
    return postgres.Cluster.start()


def postgres_settings(cluster: postgres.Cluster) -> dict[str, str]:
    import psycopg

    url = cluster.url("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as connection:
        version = str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        found = {"server_version": version}
        for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers"):
            found[name] = str(connection.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
    return found


# ---------------------------------------------------------------------- load and build


def with_ranker(models: Path) -> None:
    """The product's trained ranker and calibrations beside the indexes, as `make demo` serves."""
    shutil.copytree(RANKER, models / "ranker", dirs_exist_ok=True)


def edit_one_organisation(store: Store) -> None:
    organisation = store.entities(EntityKind.ORGANISATION)[0]
    record = to_record(organisation)
    record["documents"][0]["text"] += " One more sentence was added in an edit."
    store.upsert([parse_organisation(record)])


def build_demo(
    database: Path | str, root: Path, embedder: SentenceTransformerEmbedder
) -> dict[str, Any]:
    with Store(database) as store:
        report, load_s = timed(lambda: load_directory(store, DEMO))
        encoder = DocumentEncoder(embedder, store)
        cold, cold_s = timed(lambda: build_indexes(store, encoder, root / "models"))
        warm, warm_s = timed(lambda: build_indexes(store, encoder, root / "models-warm"))
        edit_one_organisation(store)
        edited, edited_s = timed(lambda: build_indexes(store, encoder, root / "models"))
    with_ranker(root / "models")
    shutil.rmtree(root / "models-warm")
    return {
        "records": report.files,
        "load_s": load_s,
        "build_cold_s": cold_s,
        "texts_embedded_cold": sum(k.embedded for k in cold),
        "build_warm_s": warm_s,
        "texts_embedded_warm": sum(k.embedded for k in warm),
        "rebuild_after_one_edit_s": edited_s,
        "texts_embedded_after_edit": sum(k.embedded for k in edited),
    }


def generated_data(directory: Path, organisations: int) -> Path:
    """The demo's projects and calls with `organisations` generated organisations (as
    bench.build makes them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("projects.jsonl", "calls.jsonl"):
        shutil.copy(DEMO / name, directory / name)
    write_organisations(directory / "organisations.jsonl", organisations)
    return directory


def units_of(store: Store, encoder: DocumentEncoder) -> list[str]:
    """Every chunk and sentence a build of this store embeds, without duplicates."""
    texts = [d.text for kind in EntityKind for d in store.documents(kind)]
    return list(dict.fromkeys(encoder.units(texts, sentences=True)))


def synthetic_vectors(
    units: list[str], real: dict[str, np.ndarray[Any, Any]], dim: int
) -> dict[str, np.ndarray[Any, Any]]:
    """A vector per unit: its real one where the demo cached it, else a seeded random unit
    vector (for speed only: the dense scores mean nothing)."""
    rng = np.random.default_rng(0)
    hashes = [content_hash(u) for u in units]
    missing = [h for h in hashes if h not in real]
    random_vectors = rng.standard_normal((len(missing), dim)).astype(np.float32)
    random_vectors /= np.linalg.norm(random_vectors, axis=1, keepdims=True)
    vectors = dict(zip(missing, random_vectors, strict=True))
    vectors.update({h: real[h] for h in hashes if h in real})
    return vectors


def build_generated(
    database: Path | str,
    data: Path,
    root: Path,
    embedder: SentenceTransformerEmbedder,
    vectors: Callable[[Store, DocumentEncoder], dict[str, np.ndarray[Any, Any]]],
) -> dict[str, Any]:
    with Store(database) as store:
        report, load_s = timed(lambda: load_directory(store, data))
        encoder = DocumentEncoder(embedder, store)
        filled = vectors(store, encoder)
        _, fill_s = timed(lambda: store.cache_vectors(embedder.name, filled))
        warm, warm_s = timed(lambda: build_indexes(store, encoder, root / "models"))
        edit_one_organisation(store)
        edited, edited_s = timed(lambda: build_indexes(store, encoder, root / "models"))
    with_ranker(root / "models")
    return {
        "records": report.files,
        "load_s": load_s,
        "vectors_cached": len(filled),
        "cache_fill_s": fill_s,
        "build_warm_s": warm_s,
        "texts_embedded_warm": sum(k.embedded for k in warm),
        "rebuild_after_one_edit_s": edited_s,
        "texts_embedded_after_edit": sum(k.embedded for k in edited),
    }


# ---------------------------------------------------------------------- servers


class Server:
    """A `matcher serve` process on a free port, with its own models folder and log."""

    def __init__(self, name: str, env: dict[str, str], models: Path, log_path: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "MATCHER_MODELS_DIR": str(models)}
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait(self, deadline: float) -> None:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start:\n{self.log_path.read_text()}")
            time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._log.close()


def server_env(database: Path | str, ledger_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHER_")}
    env.update({"MATCHER_TODAY": TODAY, "MATCHER_DB_PATH": str(ledger_dir / "matcher.db")})
    if isinstance(database, Path):
        env["MATCHER_DB_PATH"] = str(database)
    else:
        env["MATCHER_DATABASE_URL"] = database
    env.update(extra)
    return env


@contextlib.contextmanager
def serving(
    database: Path | str, root: Path, processes: int, label: str, **extra: str
) -> Iterator[list[Server]]:
    """`processes` servers on one database, each from its own copy of root/models, started
    together."""
    env = server_env(database, root, **extra)
    servers: list[Server] = []
    try:
        for i in range(processes):
            models = root / "models" if i == 0 else root / f"models-{label}-{i}"
            if i:
                shutil.rmtree(models, ignore_errors=True)
                shutil.copytree(root / "models", models)
            servers.append(Server(f"{label}-{i}", env, models, root / f"{label}-{i}.log"))
        deadline = time.monotonic() + START_DEADLINE
        for server in servers:
            server.wait(deadline)
        yield servers
    finally:
        for server in servers:
            server.stop()


def bizdev_key(database: Path | str) -> dict[str, str]:
    with Store(database) as store:
        with contextlib.suppress(Exception):
            create_user(store, "bench.bizdev", Role.BIZDEV)
        _, key = issue_key(store, "bench.bizdev", f"store benchmark {uuid.uuid4().hex[:6]}")
    return {"Authorization": f"Bearer {key}"}


def project_ids() -> list[str]:
    lines = (DEMO / "projects.jsonl").read_text().splitlines()
    return [json.loads(line)["id"] for line in lines if line.strip()]


def latency(
    servers: list[Server], headers: dict[str, str], requests: int, threads: int
) -> dict[str, Any]:
    """`requests` GETs of a project's top-10 partners from `threads` client threads, the
    projects in turn, the servers alternating."""
    paths = [f"/api/v1/projects/{p}/partners?k=10" for p in project_ids()]
    with httpx.Client(timeout=60, headers=headers) as client:
        for server in servers:  # warm-up: every project once on every server
            for path in paths:
                assert client.get(server.base + path).status_code == 200

    def worker(start: int) -> list[float]:
        samples = []
        with httpx.Client(timeout=60, headers=headers) as client:
            for i in range(start, requests, threads):
                url = servers[i % len(servers)].base + paths[(i // len(servers)) % len(paths)]
                began = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
        return samples

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        samples = [s for chunk in pool.map(worker, range(threads)) for s in chunk]
    wall = time.perf_counter() - began
    return {**percentiles(samples), "requests_per_s": round(len(samples) / wall, 1)}


# ---------------------------------------------------------------------- staleness


def first_seen(
    servers: list[Server], probe: Callable[[Server], bool], stop: threading.Event
) -> dict[str, float]:
    """Poll every server every 0.1 s until `probe` holds for each: the monotonic time it
    first held, by server."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + FOLLOW_DEADLINE
    while len(seen) < len(servers) and not stop.is_set():
        for server in servers:
            if server.name not in seen:
                with contextlib.suppress(httpx.TransportError):
                    if probe(server):
                        seen[server.name] = time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"not followed within {FOLLOW_DEADLINE} s: {seen}")
        time.sleep(0.1)
    return seen


def cli(env: dict[str, str], *arguments: str) -> float:
    """Run `matcher ARGUMENTS`; the monotonic time it exited (the change acknowledged)."""
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", *arguments], env=env, capture_output=True, text=True
    )
    acknowledged = time.monotonic()
    if result.returncode != 0:
        raise SystemExit(f"matcher {' '.join(arguments)}: {result.stdout}{result.stderr}")
    return acknowledged


def new_project(identifier: str) -> dict[str, Any]:
    """A project no cache has seen (a unique token), so `matcher build` embeds it."""
    return {
        "id": identifier,
        "title": f"Base-edited HSCs for beta thalassaemia ({identifier})",
        "abstract": (
            "We base-edit autologous haematopoietic stem cells to restore beta-globin in "
            "transfusion-dependent beta thalassaemia. Engraftment in NSG mice was durable "
            f"(run {uuid.uuid4().hex}). We need GMP cell processing and a transplant centre."
        ),
        "modality": "crispr_edited",
        "indications": ["beta thalassaemia"],
        "stage": "preclinical",
        "needs": ["gmp_manufacturing", "clinical_sites"],
        "owner": "u.bench",
        "team": [],
        "visibility": "internal",
        "updated_at": "2026-11-30T10:00:00Z",
    }


@contextlib.contextmanager
def stopping(stop: threading.Event) -> Iterator[None]:
    """Sets `stop` when the block ends, so that pollers still running give up."""
    try:
        yield
    finally:
        stop.set()


def staleness_trial(
    servers: list[Server], headers: dict[str, str], root: Path, identifier: str
) -> dict[str, Any]:
    """Load and build a new project, then erase it; seconds from each command's exit to each
    server answering the change."""
    env = servers[0].env  # the operator works on the first host, with its models folder
    data = root / identifier
    data.mkdir()
    (data / "projects.jsonl").write_text(json.dumps(new_project(identifier)) + "\n")
    partners = f"/api/v1/projects/{identifier}/partners?k=3"
    stop = threading.Event()

    def answers(server: Server) -> bool:
        return httpx.get(server.base + partners, headers=headers, timeout=30).status_code == 200

    def loaded_projects(server: Server) -> int:
        counts = httpx.get(f"{server.base}/health", headers=headers, timeout=30).json()["counts"]
        return int(counts["project"])

    before = {s.name: loaded_projects(s) for s in servers}
    with ThreadPoolExecutor(3) as pool, stopping(stop):
        watching = pool.submit(first_seen, servers, answers, stop)
        started = time.monotonic()
        loaded = cli(env, "load", str(data))
        built = cli(env, "build")
        seen = watching.result()
        result: dict[str, Any] = {
            "load_cli_s": round(loaded - started, 2),
            "build_cli_s": round(built - loaded, 2),
            "partners_answered_s_after_build": {
                name: round(at - built, 2) for name, at in seen.items()
            },
        }
        after_load = {s.name: loaded_projects(s) for s in servers}
        assert all(after_load[n] == before[n] + 1 for n in before), (before, after_load)

        def gone(server: Server) -> bool:
            url = f"{server.base}/api/v1/projects/{identifier}"
            return httpx.get(url, headers=headers, timeout=30).status_code == 404

        def unindexed(server: Server) -> bool:
            return loaded_projects(server) == before[server.name]

        missing = pool.submit(first_seen, servers, gone, stop)
        reindexed = pool.submit(first_seen, servers, unindexed, stop)
        started = time.monotonic()
        erased = cli(env, "erase", "project", identifier, "--yes", "--by", "bench")
        result["erase_cli_s"] = round(erased - started, 2)
        result["erased_404_s_after_erase"] = {
            name: round(at - erased, 2) for name, at in missing.result().items()
        }
        result["erased_unindexed_s_after_erase"] = {
            name: round(at - erased, 2) for name, at in reindexed.result().items()
        }
    return result


def staleness(
    database: str, root: Path, headers: dict[str, str], follow: float, trials: int
) -> dict[str, Any]:
    label = f"follow{follow:g}"
    extra = {"MATCHER_FOLLOW_SECONDS": f"{follow:g}"}
    with serving(database, root, 2, label, **extra) as servers:
        # Let each trial start at a random point of the follow period.
        rng = random.Random(int(follow * 1000))
        runs = []
        for trial in range(trials):
            time.sleep(rng.uniform(0, follow))
            runs.append(staleness_trial(servers, headers, root, f"P-BENCH-{label}-{trial}"))
            log(f"  staleness {label} trial {trial}:", json.dumps(runs[-1]))
    second = servers[1].name

    def worst(key: str, name: str) -> float:
        return max(float(run[key][name]) for run in runs)

    return {
        "follow_seconds": follow,
        "trials": runs,
        "second_process_worst_s": {
            "partners_after_build": worst("partners_answered_s_after_build", second),
            "erased_404_after_erase": worst("erased_404_s_after_erase", second),
            "unindexed_after_erase": worst("erased_unindexed_s_after_erase", second),
        },
    }


# ---------------------------------------------------------------------- the report


def table(results: dict[str, Any]) -> str:
    lines = ["", "load and build (library calls, seconds)", ""]
    lines.append(f"{'data':<22}{'backend':<12}{'load':>8}{'cold build':>12}{'warm build':>12}"
                 f"{'edit rebuild':>14}{'cache fill':>12}")  # fmt: skip
    for data in ("demo", "generated"):
        for backend in BACKENDS:
            r = results["build"].get(data, {}).get(backend)
            if r is None:
                continue
            name = data if data == "demo" else f"{results['organisations']} orgs"
            cold = r.get("build_cold_s", "-")
            fill = r.get("cache_fill_s", "-")
            lines.append(f"{name:<22}{backend:<12}{r['load_s']:>8}{cold!s:>12}"
                         f"{r['build_warm_s']:>12}{r['rebuild_after_one_edit_s']:>14}"
                         f"{fill!s:>12}")  # fmt: skip
    lines += ["", "stored project -> top-10 partners over HTTP (ms)", ""]
    lines.append(f"{'data':<22}{'servers':<22}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}"
                 f"{'req/s':>8}")  # fmt: skip
    for data, configs in results["latency"].items():
        for config, r in configs.items():
            lines.append(f"{data:<22}{config:<22}{r['p50_ms']:>8}{r['p95_ms']:>8}"
                         f"{r['p99_ms']:>8}{r['mean_ms']:>8}{r['requests_per_s']:>8}")  # fmt: skip
    lines += ["", "staleness, two processes on PostgreSQL (s after the command exited)", ""]
    for run in results["staleness"]:
        lines.append(f"MATCHER_FOLLOW_SECONDS={run['follow_seconds']:g}")
        for i, trial in enumerate(run["trials"]):
            lines.append(
                f"  trial {i}: load {trial['load_cli_s']} s + build {trial['build_cli_s']} s "
                f"-> partners {trial['partners_answered_s_after_build']}; erase "
                f"{trial['erase_cli_s']} s -> 404 {trial['erased_404_s_after_erase']}, "
                f"unindexed {trial['erased_unindexed_s_after_erase']}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organisations", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--fast-postgres", action="store_true")
    parser.add_argument("--no-generated-latency", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    began = time.perf_counter()

    cluster = start_cluster(args.fast_postgres)
    results: dict[str, Any] = {
        "machine": describe(),
        "command": "python -m bench.store " + " ".join(argv if argv is not None else sys.argv[1:]),
        "postgres": postgres_settings(cluster),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "organisations": args.organisations,
        "requests": args.requests,
        "client_threads": args.threads,
        "build": {"demo": {}, "generated": {}},
        "latency": {},
        "staleness": [],
    }
    log("postgres:", results["postgres"])
    try:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            run(Path(tmp), Databases(Path(tmp), cluster), args, results)
    finally:
        cluster.stop()
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["peak_rss_mb_bench_process"] = round(peak_rss_mb())
    results["wall_s"] = round(time.perf_counter() - began, 1)
    print(table(results))
    print(f"\nwhole benchmark: {results['wall_s']} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def run(tmp: Path, databases: Databases, args: argparse.Namespace, results: dict[str, Any]) -> None:
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    embedder.embed(["warm up"])
    demo: dict[str, tuple[Path | str, Path]] = {}
    generated: dict[str, tuple[Path | str, Path]] = {}
    for backend in BACKENDS:
        root = tmp / f"demo-{backend}"
        database = databases.new(backend, "bench_demo")
        results["build"]["demo"][backend] = build_demo(database, root, embedder)
        demo[backend] = (database, root)
        log(f"demo build, {backend}:", json.dumps(results["build"]["demo"][backend]))

    data = generated_data(tmp / "generated-data", args.organisations)
    cached: dict[str, np.ndarray[Any, Any]] = {}

    def vectors(store: Store, encoder: DocumentEncoder) -> dict[str, np.ndarray[Any, Any]]:
        if not cached:  # the same data on both backends: the same vectors
            units = units_of(store, encoder)
            with Store(demo["sqlite"][0]) as known:
                real = known.cached_vectors(embedder.name, [content_hash(u) for u in units])
            cached.update(synthetic_vectors(units, real, embedder.dim))
        return cached

    for backend in BACKENDS:
        root = tmp / f"generated-{backend}"
        database = databases.new(backend, "bench_generated")
        results["build"]["generated"][backend] = build_generated(
            database, data, root, embedder, vectors
        )
        generated[backend] = (database, root)
        log(f"generated build, {backend}:", json.dumps(results["build"]["generated"][backend]))
    cached.clear()

    sets = [("demo", demo)]
    if not args.no_generated_latency:
        sets.append((f"{args.organisations} orgs", generated))
    for name, built in sets:
        results["latency"][name] = {}
        for backend, processes in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
            database, root = built[backend]
            headers = bizdev_key(database)
            config = f"{backend} x{processes}"
            with serving(database, root, processes, f"latency{processes}") as servers:
                measured = latency(servers, headers, args.requests, args.threads)
            results["latency"][name][config] = measured
            log(f"latency, {name}, {config}:", json.dumps(measured))

    database, root = demo["postgresql"]
    headers = bizdev_key(database)
    for follow in (5.0, 1.0):
        results["staleness"].append(staleness(str(database), root, headers, follow, args.trials))


if __name__ == "__main__":
    raise SystemExit(main())
