"""Two real `matcher serve` processes on one PostgreSQL database, as two hosts behind a load
balancer would run: each with its own models folder, following the store's data version every
MATCHER_FOLLOW_SECONDS.

- A load and build through the CLI (into the first host's models folder) is answered by both
  processes: the first reloads the indexes the build wrote, the second rebuilds its own from the
  store's embedding cache.
- An erasure through the CLI leaves no trace of the erased text on any route of either process,
  right after the command has returned (answers are filtered through the store, whatever the
  indexes hold; on this small world a process has often reloaded by then) and once both have.
- The expensive-request budget of a key is one budget across processes.

The staleness seen (seconds from the CLI's acknowledgement to each process answering) is printed
(`pytest -s`) and recorded as a property of the test (junit XML)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from matcher import Store, issue_key
from tests.conftest import (
    CANARY_OTHER,
    TODAY,
    URL_FILE,
    add_user,
    database_of,
    make_project,
    write_jsonl,
)
from tests.postgres import Cluster

pytestmark = pytest.mark.slow

FOLLOW_SECONDS = 0.5
EXPENSIVE_PER_MINUTE = 3
START_DEADLINE = 120.0
"""Seconds for both processes to answer /health (each loads the model and the indexes)."""
FOLLOW_DEADLINE = 90.0
"""Generous: the documented bound is MATCHER_FOLLOW_SECONDS plus the time to reload (about a
second on this small world), but another test run may share the cores."""
ADMIN = "u.proc.admin"
ERASED = "P-OTHER-CONF"  # its title and abstract carry CANARY_OTHER
NEW = make_project(
    id="P-NEW-PROC",
    title="Base-edited HSCs for beta thalassaemia loaded by the CLI",
    abstract=(
        "We base-edit autologous haematopoietic stem cells to restore beta-globin in "
        "transfusion-dependent beta thalassaemia. Engraftment in NSG mice was durable. "
        "We need GMP cell processing and a transplant centre for a phase I trial."
    ),
    modality="crispr_edited",
    indications=["beta thalassaemia"],
    stage="preclinical",
    needs=["gmp_manufacturing", "clinical_sites"],
    visibility="internal",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Server:
    """One `matcher serve` process, with its own models folder and log."""

    def __init__(self, name: str, root: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.models = root / f"models_{name}"
        self.env = {**env, "MATCHER_MODELS_DIR": str(self.models)}
        self.log_path = root / f"server_{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "-v", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, deadline: float) -> None:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.log()}"
            time.sleep(0.2)

    def get(self, path: str, headers: dict[str, str], **params: Any) -> httpx.Response:
        return httpx.get(self.base + path, headers=headers, params=params, timeout=60)

    def post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.base + path, headers=headers, json=body, timeout=60)

    def counts(self, headers: dict[str, str]) -> dict[str, int]:
        """The entities in the indexes this process serves from now."""
        counts: dict[str, int] = self.get("/health", headers).json()["counts"]
        return counts

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self._log.close()


class Pair:
    """Two processes on one PostgreSQL database, and the CLI's environment for the first."""

    def __init__(self, root: Path, database: str, a: Server, b: Server) -> None:
        self.root = root
        self.database = database
        self.a = a
        self.b = b
        self.admin = add_user(database, ADMIN, "admin")

    @property
    def servers(self) -> tuple[Server, Server]:
        return self.a, self.b

    def cli(self, *arguments: str) -> float:
        """Run `matcher ARGUMENTS` as an operator on the first host (its models folder); the
        monotonic time at which it exited (the change acknowledged)."""
        result = subprocess.run(
            [sys.executable, "-m", "service.cli", *arguments],
            env=self.a.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        acknowledged = time.monotonic()
        assert result.returncode == 0, f"matcher {arguments}: {result.stdout}{result.stderr}"
        return acknowledged

    def fresh_key(self) -> dict[str, str]:
        """Another key of the admin: each has its own expensive-request budget."""
        with Store(self.database) as store:
            _, key = issue_key(store, ADMIN, f"sweep {uuid.uuid4().hex[:6]}")
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def pair(
    postgres: Cluster, built_access_world_pg: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    """The access world on a fresh PostgreSQL database (a copy of its template, so the built
    indexes still belong to it) served by two processes started together, each from its own
    copy of the models folder. Without PostgreSQL it skips (`postgres`, asked first) before the
    model is loaded."""
    root = tmp_path_factory.mktemp("processes")
    shutil.copytree(built_access_world_pg / "data", root / "data")
    shutil.copytree(built_access_world_pg / "models", root / "models_a")
    shutil.copytree(built_access_world_pg / "models", root / "models_b")
    template = str(database_of(built_access_world_pg)).rsplit("/", 1)[1]
    name = f"t_{uuid.uuid4().hex[:12]}"
    database = postgres.create_database(name, template=template)
    (root / URL_FILE).write_text(database)
    env = {
        **os.environ,
        "MATCHER_DATABASE_URL": database,
        # On PostgreSQL the SQLite path places the erasure ledger's file, shared by the CLI.
        "MATCHER_DB_PATH": str(root / "matcher.db"),
        "MATCHER_TODAY": TODAY.isoformat(),
        "MATCHER_FOLLOW_SECONDS": str(FOLLOW_SECONDS),
        "MATCHER_EXPENSIVE_PER_MINUTE": str(EXPENSIVE_PER_MINUTE),
    }
    env.pop("MATCHER_API_KEY", None)
    servers: list[Server] = []
    try:
        servers = [Server("a", root, env), Server("b", root, env)]
        deadline = time.monotonic() + START_DEADLINE
        for server in servers:
            server.wait_healthy(deadline)
        yield Pair(root, database, *servers)
    finally:
        for server in servers:
            server.stop()
        postgres.drop_database(name)


def wait_until(
    servers: tuple[Server, ...], ready: Callable[[Server], bool], since: float
) -> dict[str, float]:
    """Poll every server until `ready` holds for it; seconds from `since` to the first time it
    held, by server name."""
    seen: dict[str, float] = {}
    deadline = since + FOLLOW_DEADLINE
    while len(seen) < len(servers):
        for server in servers:
            if server.name not in seen and ready(server):
                seen[server.name] = round(time.monotonic() - since, 2)
        if len(seen) < len(servers):
            pending = [s for s in servers if s.name not in seen]
            assert time.monotonic() < deadline, "not followed in time:\n" + "\n".join(
                f"--- {s.name}\n{s.log()}" for s in pending
            )
            time.sleep(0.05)
    return seen


def report(record_property: Callable[[str, Any], None], what: str, seen: dict[str, Any]) -> None:
    record_property(what, json.dumps(seen))
    print(f"\n{what}: {seen}")


# ---------------------------------------------------------------------- a load and a build


def test_a_cli_load_and_build_is_answered_by_both_processes(
    pair: Pair, tmp_path: Path, record_property: Callable[[str, Any], None]
) -> None:
    admin = pair.admin
    path = f"/api/v1/projects/{NEW['id']}/partners"
    for server in pair.servers:
        assert server.get(f"/api/v1/projects/{NEW['id']}", admin).status_code == 404
    before = {s.name: s.counts(admin)["project"] for s in pair.servers}
    b_built = manifest(pair.b)

    data = tmp_path / "new"
    data.mkdir()
    write_jsonl(data / "projects.jsonl", [NEW])
    loaded = pair.cli("load", str(data))
    # The record is read from the store: both answer it at once; matches wait for the indexes.
    stored = wait_until(
        pair.servers,
        lambda s: s.get(f"/api/v1/projects/{NEW['id']}", admin).status_code == 200,
        loaded,
    )
    report(record_property, "stored record answered, s after load", stored)
    for server in pair.servers:
        response = server.get(path, admin)
        assert response.status_code in (200, 503), response.text  # 503: not indexed yet

    built = pair.cli("build")
    followed = wait_until(pair.servers, lambda s: s.get(path, admin).status_code == 200, built)
    report(record_property, "matches answered, s after build", followed)

    for server in pair.servers:
        assert server.counts(admin)["project"] == before[server.name] + 1
        partners = server.get(path, admin, k=3).json()
        assert {m["id"] for m in partners["matches"]} == {"O-GUEST", "O-SITE"}, server.name
        # The new project is ranked for an organisation, from either process.
        reverse = server.get("/api/v1/organisations/O-GUEST/projects", admin, k=100).json()
        assert NEW["id"] in [m["id"] for m in reverse["matches"]], server.name
    # The second host never had a build: it rebuilt its own folder from the embedding cache.
    assert manifest(pair.b)["data_hash"] != b_built["data_hash"]
    assert manifest(pair.b)["data_hash"] == manifest(pair.a)["data_hash"]
    assert "reloaded the indexes" in pair.b.log()


def manifest(server: Server) -> dict[str, Any]:
    """The manifest of the projects' index in the server's own models folder."""
    found: dict[str, Any] = json.loads((server.models / "projects" / "manifest.json").read_text())
    return found


# ---------------------------------------------------------------------- an erasure


def sweep(pair: Pair, server: Server) -> dict[str, str]:
    """Every route that could hand out the erased project's text, as an admin (who may see
    everything): the response body by route. Uses a fresh key (two expensive requests)."""
    key = pair.fresh_key()
    gets: dict[str, tuple[str, dict[str, Any]]] = {
        "project": (f"/api/v1/projects/{ERASED}", {}),
        "project partners": (f"/api/v1/projects/{ERASED}/partners", {}),
        "project calls": (f"/api/v1/projects/{ERASED}/calls", {}),
        "projects list": ("/api/v1/projects", {"limit": 500}),
        "organisation O-GUEST -> projects": ("/api/v1/organisations/O-GUEST/projects", {"k": 100}),
        "organisation O-SITE -> projects": ("/api/v1/organisations/O-SITE/projects", {"k": 100}),
        "call C-CART -> projects": (
            "/api/v1/calls/C-CART/projects",
            {"k": 100, "include_ineligible": "true"},
        ),
        "export": ("/api/v1/export/projects", {"k": 5}),
        "audit": ("/api/v1/audit", {}),
        "erasures": ("/api/v1/erasures", {}),
    }
    bodies = {}
    for route, (path, params) in gets.items():
        response = server.get(path, key, **params)
        assert response.status_code in (200, 404), (route, response.status_code, response.text)
        bodies[route] = response.text
    # The erased project's own words, but not the canary, which the answer would echo.
    search = {
        "text": "Dual-targeting CAR-T product for glioblastoma with intracranial persistence.",
        "k": 100,
    }
    response = server.post("/api/v1/search/projects", key, search)
    assert response.status_code == 200, response.text
    bodies["search projects"] = response.text
    return bodies


def leaks(bodies: dict[str, str]) -> list[str]:
    return [route for route, body in bodies.items() if CANARY_OTHER in body]


def test_an_erasure_leaves_no_trace_on_either_process(
    pair: Pair, record_property: Callable[[str, Any], None]
) -> None:
    admin = pair.admin
    for server in pair.servers:
        # The control: before the erasure the canary is handed out where an admin reads it.
        found = leaks(sweep(pair, server))
        for route in ("project", "projects list", "export", "search projects"):
            assert route in found, (server.name, found)
    before = {s.name: s.counts(admin)["project"] for s in pair.servers}
    built = {s.name: manifest(s)["count"] for s in pair.servers}

    erased = pair.cli("erase", "project", ERASED, "--yes", "--by", "test")
    with ThreadPoolExecutor(1) as pool:
        # The reloads are timed meanwhile, so the sweeps below do not count in their time.
        timing = pool.submit(
            wait_until,
            pair.servers,
            lambda s: s.counts(admin)["project"] == before[s.name] - 1,
            erased,
        )
        # At once: the answers are filtered through the store, whatever the indexes still hold
        # (the sweep may end before or after the process has reloaded; both are printed).
        swept = {}
        for server in pair.servers:
            assert leaks(sweep(pair, server)) == [], server.name
            swept[server.name] = round(time.monotonic() - erased, 2)
        reloaded = timing.result()
    report(record_property, "first sweep done, s after erase", swept)
    report(record_property, "indexes without the erased project, s after erase", reloaded)
    # And once both serve from indexes without it.
    for server in pair.servers:
        bodies = sweep(pair, server)
        assert leaks(bodies) == [], server.name
        assert server.get(f"/api/v1/projects/{ERASED}", admin).status_code == 404
        erasures = server.get("/api/v1/erasures", admin).json()
        assert [e["object_id"] for e in erasures].count(ERASED) == 1
    # The erasure rebuilt the first host's folder; the second rebuilt its own from the cache.
    for server in pair.servers:
        assert manifest(server)["count"] < built[server.name], server.name
    assert CANARY_OTHER not in pair.b.log() and CANARY_OTHER not in pair.a.log()


# ---------------------------------------------------------------------- one budget


def test_the_expensive_request_budget_is_shared_by_the_processes(pair: Pair) -> None:
    key = pair.fresh_key()
    body = {"text": "AAV9 gene therapy for SMA needs GMP vector supply", "k": 3}

    def spend(server: Server, headers: dict[str, str]) -> int:
        return server.post("/api/v1/search/partners", headers, body).status_code

    statuses = [spend(pair.a, key), spend(pair.a, key), spend(pair.b, key), spend(pair.b, key)]
    assert statuses == [200, 200, 200, 429], statuses
    refused = pair.b.post("/api/v1/search/partners", key, body)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert spend(pair.a, key) == 429
    # The budget is the key's: another key of the same user still has its own.
    other = pair.fresh_key()
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda s: spend(s, other), pair.servers)) == [200, 200]
