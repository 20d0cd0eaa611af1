"""The authorisation matrix: every principal x every route x {own confidential, other
confidential, internal, public} project, with the expected status of each cell; and the canary
strings planted in confidential abstracts, looked for in everything the run produced.

Every cell is run once, through one app, by the module fixture `run`; the tests then read the
recorded responses. A route missing from MATRIX fails `test_every_route_is_in_the_matrix`."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from matcher import Role, Store, create_user, issue_key, set_password
from service.app import create_app
from service.cli import main
from tests.conftest import (
    BACKENDS,
    CANARY_OTHER,
    CANARY_OWN,
    CANARY_TEAM,
    HIDDEN_CANARIES,
    PRINCIPALS,
    RESEARCHER,
    VISIBLE,
    access_settings,
    add_principals,
    copy_world,
    served_routes,
    use_database,
)

pytestmark = pytest.mark.both_databases

ROLES = ("admin", "bizdev", "researcher", "guest", "anonymous")
OBJECTS = {
    "own confidential": "P-OWN-CONF",
    "other confidential": "P-OTHER-CONF",
    "internal": "P-INTERNAL",
    "public": "P-PUBLIC",
}
PASSWORD = "correct horse battery"
SPARE = "u.spare"
TEXT = "GMP manufacturing of CAR-T cells and clinical trial sites"

Expect = int | tuple[int, int, int, int]
"""One status for every object, or one per object in OBJECTS' order."""


@dataclass(frozen=True)
class Row:
    method: str
    request: Callable[[str, str, dict[str, Any]], tuple[str, Any]]
    """(object's project id, role, context) -> (url, JSON body)."""
    expect: dict[str, Expect]
    lists_projects: bool = False
    """On 200, the object is in the response exactly when the role may see it."""
    variant: str = ""


def roles(admin: Expect, bizdev: Expect, researcher: Expect, guest: Expect) -> dict[str, Expect]:
    return {
        "admin": admin,
        "bizdev": bizdev,
        "researcher": researcher,
        "guest": guest,
        "anonymous": 401,
    }


def everyone(status: int) -> dict[str, Expect]:
    return {role: status for role in ROLES}


def get(url: str) -> Callable[[str, str, dict[str, Any]], tuple[str, Any]]:
    return lambda project, role, ctx: (url.format(project=project), None)


def post(url: str, body: dict[str, Any]) -> Callable[[str, str, dict[str, Any]], tuple[str, Any]]:
    return lambda project, role, ctx: (url, body)


def login(project: str, role: str, ctx: dict[str, Any]) -> tuple[str, Any]:
    username = PRINCIPALS[role][0] if role in PRINCIPALS else "u.nobody"
    return "/auth/login", {"username": username, "password": PASSWORD}


def new_user(project: str, role: str, ctx: dict[str, Any]) -> tuple[str, Any]:
    ctx["users"] = ctx.get("users", 0) + 1
    return "/api/v1/users", {"username": f"u.new{ctx['users']}", "role": "researcher"}


def revoke(project: str, role: str, ctx: dict[str, Any]) -> tuple[str, Any]:
    with Store(ctx["db"]) as store:
        key, _ = issue_key(store, SPARE)
    return f"/api/v1/users/{SPARE}/keys/{key.key_id}", None


def pipeline_entry(project: str, ctx: dict[str, Any]) -> int:
    """The id of the project's pipeline entry with O-GUEST, shortlisted on first use."""
    entries = ctx.setdefault("entries", {})
    if project not in entries:
        with Store(ctx["db"]) as store:
            entries[project] = store.shortlist(project, "O-GUEST", "u.admin", "").id
    return int(entries[project])


READABLE = (200, 404, 200, 200)
"""A researcher's matches: for any project they may read (their own, internal, public); a
hidden one answers 404."""

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/health"): Row("GET", get("/health"), everyone(200)),
    ("GET", "/version"): Row("GET", get("/version"), everyone(200)),
    ("GET", "/openapi.json"): Row("GET", get("/openapi.json"), everyone(200)),
    ("GET", "/docs"): Row("GET", get("/docs"), everyone(200)),
    ("GET", "/docs/oauth2-redirect"): Row("GET", get("/docs/oauth2-redirect"), everyone(200)),
    ("GET", "/redoc"): Row("GET", get("/redoc"), everyone(200)),
    ("POST", "/auth/login"): Row("POST", login, {**everyone(200), "anonymous": 401}),
    ("POST", "/auth/logout"): Row("POST", post("/auth/logout", {}), roles(204, 204, 204, 204)),
    ("GET", "/api/v1/me"): Row("GET", get("/api/v1/me"), roles(200, 200, 200, 200)),
    ("GET", "/api/v1/projects"): Row(
        "GET", get("/api/v1/projects"), roles(200, 200, 200, 200), lists_projects=True
    ),
    ("GET", "/api/v1/projects/{project_id}"): Row(
        "GET",
        get("/api/v1/projects/{project}"),
        roles(200, 200, (200, 404, 200, 200), (404, 404, 404, 200)),
    ),
    ("GET", "/api/v1/organisations"): Row(
        "GET", get("/api/v1/organisations"), roles(200, 200, 200, 200)
    ),
    ("GET", "/api/v1/organisations/{organisation_id}"): Row(
        "GET", get("/api/v1/organisations/O-SITE"), roles(200, 200, 200, 404), variant="other"
    ),
    ("GET", "/api/v1/calls"): Row("GET", get("/api/v1/calls"), roles(200, 200, 200, 200)),
    ("GET", "/api/v1/calls/{call_id}"): Row(
        "GET", get("/api/v1/calls/C-CART"), roles(200, 200, 200, 404)
    ),
    ("GET", "/api/v1/projects/{project_id}/partners"): Row(
        "GET",
        get("/api/v1/projects/{project}/partners?k=2"),
        roles(200, 200, READABLE, (404, 404, 404, 403)),
    ),
    ("GET", "/api/v1/projects/{project_id}/calls"): Row(
        "GET",
        get("/api/v1/projects/{project}/calls?k=2"),
        roles(200, 200, READABLE, (404, 404, 404, 403)),
    ),
    ("GET", "/api/v1/organisations/{organisation_id}/projects"): Row(
        "GET",
        get("/api/v1/organisations/O-SITE/projects?k=10"),
        roles(200, 200, 200, 403),
        lists_projects=True,
    ),
    ("GET", "/api/v1/calls/{call_id}/projects"): Row(
        "GET",
        get("/api/v1/calls/C-CART/projects?k=10"),
        roles(200, 200, 200, 403),
        lists_projects=True,
    ),
    ("POST", "/api/v1/search/partners"): Row(
        "POST", post("/api/v1/search/partners", {"text": TEXT}), roles(200, 200, 200, 403)
    ),
    ("POST", "/api/v1/search/calls"): Row(
        "POST", post("/api/v1/search/calls", {"text": TEXT}), roles(200, 200, 200, 403)
    ),
    ("POST", "/api/v1/search/projects"): Row(
        "POST",
        post("/api/v1/search/projects", {"text": TEXT}),
        roles(200, 200, 200, 403),
        lists_projects=True,
    ),
    ("GET", "/api/v1/export/projects"): Row(
        "GET", get("/api/v1/export/projects?k=2"), roles(200, 200, 403, 403), lists_projects=True
    ),
    ("GET", "/api/v1/users"): Row("GET", get("/api/v1/users"), roles(200, 403, 403, 403)),
    ("POST", "/api/v1/users"): Row("POST", new_user, roles(201, 403, 403, 403)),
    ("GET", "/api/v1/users/{username}"): Row(
        "GET", get(f"/api/v1/users/{RESEARCHER}"), roles(200, 403, 403, 403)
    ),
    ("PATCH", "/api/v1/users/{username}"): Row(
        "PATCH",
        post(f"/api/v1/users/{SPARE}", {"display_name": "Spare"}),
        roles(200, 403, 403, 403),
    ),
    ("GET", "/api/v1/users/{username}/keys"): Row(
        "GET", get(f"/api/v1/users/{SPARE}/keys"), roles(200, 403, 403, 403)
    ),
    ("POST", "/api/v1/users/{username}/keys"): Row(
        "POST", post(f"/api/v1/users/{SPARE}/keys", {"label": "m"}), roles(201, 403, 403, 403)
    ),
    ("DELETE", "/api/v1/users/{username}/keys/{key_id}"): Row(
        "DELETE", revoke, roles(200, 403, 403, 403)
    ),
    ("GET", "/api/v1/audit"): Row("GET", get("/api/v1/audit"), roles(200, 403, 403, 403)),
    ("GET", "/api/v1/erasures"): Row("GET", get("/api/v1/erasures"), roles(200, 403, 403, 403)),
    ("POST", "/api/v1/admin/reindex"): Row(
        "POST", post("/api/v1/admin/reindex", {}), roles(200, 403, 403, 403)
    ),
    ("PUT", "/api/v1/projects/{project_id}/feedback/{candidate_id}"): Row(
        "PUT",
        lambda project, role, ctx: (
            f"/api/v1/projects/{project}/feedback/O-SITE",
            {"verdict": "relevant"},  # leaves every ranking of the other rows as it was
        ),
        roles(200, 200, READABLE, (404, 404, 404, 403)),
    ),
    ("GET", "/api/v1/projects/{project_id}/feedback"): Row(
        "GET",
        get("/api/v1/projects/{project}/feedback"),
        roles(200, 200, READABLE, (404, 404, 404, 200)),
    ),
    ("GET", "/api/v1/admin/feedback"): Row(
        "GET", get("/api/v1/admin/feedback"), roles(200, 403, 403, 403)
    ),
    ("GET", "/api/v1/pipeline"): Row("GET", get("/api/v1/pipeline"), roles(200, 200, 200, 403)),
    ("POST", "/api/v1/pipeline"): Row(
        "POST",
        # A candidate per role, so that no pair is shortlisted twice (which answers 409).
        lambda project, role, ctx: (
            "/api/v1/pipeline",
            {"project_id": project, "candidate_id": {"admin": "O-SITE"}.get(role, "C-CART")},
        ),
        roles(201, 201, 403, 403),
    ),
    ("POST", "/api/v1/pipeline/{entry_id}/moves"): Row(
        "POST",
        lambda project, role, ctx: (
            f"/api/v1/pipeline/{pipeline_entry(project, ctx)}/moves",
            {"stage": "contacted", "note": f"called by {role}"},
        ),
        roles(200, 200, 403, 403),
    ),
}
# A guest reads their own organisation's record, and no other.
OWN_ORGANISATION = Row(
    "GET", get("/api/v1/organisations/O-GUEST"), roles(200, 200, 200, 200), variant="own"
)
ROWS = [*MATRIX.items(), (("GET", "/api/v1/organisations/{organisation_id}"), OWN_ORGANISATION)]
CELLS = [(key, row, role, obj) for (key, row), role, obj in itertools.product(ROWS, ROLES, OBJECTS)]


def expected(row: Row, role: str, obj: str) -> int:
    status = row.expect[role]
    return status if isinstance(status, int) else status[list(OBJECTS).index(obj)]


@dataclass
class Run:
    responses: dict[tuple[Any, ...], tuple[int, str, str]] = field(default_factory=dict)
    """(method, path, variant, role, object) -> (status, content type, body)."""
    logs: list[str] = field(default_factory=list)
    openapi: str = ""
    db: Any = None
    routes: list[tuple[str, str]] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module", params=BACKENDS)
def run(request, built_access_world, embedder, tmp_path_factory) -> Iterator[Run]:
    """Every cell's response, on SQLite and on PostgreSQL."""
    target = tmp_path_factory.mktemp("matrix") / "world"
    copies = copy_world(request, built_access_world, "built_access_world_pg", target, request.param)
    world = next(copies)
    yield _run(world, embedder)
    next(copies, None)  # drops the PostgreSQL database


def _run(world, embedder) -> Run:
    settings = access_settings(world, auth_failures=1000)
    headers = add_principals(settings.database)
    with Store(settings.database) as store:
        for username, _, _ in PRINCIPALS.values():
            set_password(store, username, PASSWORD)
        create_user(store, SPARE, Role.RESEARCHER)
    result = Run(db=settings.database)
    root = logging.getLogger()
    handler = _Collect(result.logs)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        app = create_app(settings, embedder)
        with TestClient(app) as client:
            result.openapi = client.get("/openapi.json").text
            result.routes = served_routes(app)
            context: dict[str, Any] = {"db": settings.database}
            for (method, path), row, role, obj in CELLS:
                url, body = row.request(OBJECTS[obj], role, context)
                client.cookies.clear()
                response = client.request(method, url, json=body, headers=headers[role])
                result.responses[(method, path, row.variant, role, obj)] = (
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.text,
                )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return result


def test_every_route_is_in_the_matrix(run):
    missing = [route for route in run.routes if route not in MATRIX]
    assert not missing, f"routes without a row in the authorisation matrix: {missing}"
    stale = [key for key in MATRIX if key not in run.routes]
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    assert len(CELLS) == len(ROWS) * len(ROLES) * len(OBJECTS)


@pytest.mark.parametrize(
    ("key", "row", "role", "obj"),
    CELLS,
    ids=[
        f"{k[0]} {k[1]}{'/' + r.variant if r.variant else ''}|{role}|{o}" for k, r, role, o in CELLS
    ],
)
def test_cell(run, key, row, role, obj):
    status, content_type, body = run.responses[(*key, row.variant, role, obj)]
    assert status == expected(row, role, obj), body[:300]
    if status >= 400:
        error = json.loads(body)["error"]
        assert error["status"] == status
        assert set(error) == {"status", "code", "message", "details"}
    if status == 200 and row.lists_projects:
        ids = _project_ids(content_type, body)
        assert ids <= VISIBLE[role], ids - VISIBLE[role]
        assert (OBJECTS[obj] in ids) == (OBJECTS[obj] in VISIBLE[role])
    if status == 200 and key[1] == "/api/v1/projects/{project_id}":
        project = json.loads(body)
        assert project["id"] == OBJECTS[obj]
        if role == "guest":  # the public summary only
            assert project["owner"] is None and project["team"] is None
            assert project["needs"] is None


def _project_ids(content_type: str, body: str) -> set[str]:
    if content_type.startswith("text/csv"):
        return {row["project_id"] for row in csv.DictReader(io.StringIO(body))}
    data = json.loads(body)
    if "matches" in data:
        return {m["id"] for m in data["matches"] if m["entity"] == "project"}
    return {p["id"] for p in data["items"]}


def test_reverse_rankings_still_return_k_visible_projects(access_world, embedder):
    settings = access_settings(access_world)
    headers = add_principals(settings.database)
    urls = ["/api/v1/organisations/O-SITE/projects", "/api/v1/calls/C-CART/projects"]
    with TestClient(create_app(settings, embedder)) as client:
        for url in urls:
            k = len(VISIBLE["researcher"])
            unfiltered = client.get(f"{url}?k={k}", headers=headers["bizdev"]).json()["matches"]
            mine = client.get(f"{url}?k={k}", headers=headers["researcher"]).json()["matches"]
            # Dropping hidden projects after the top k would leave fewer than k here.
            assert "P-OTHER-CONF" in {m["id"] for m in unfiltered}, url
            assert {m["id"] for m in mine} == VISIBLE["researcher"], url
            # The same pair, the same score, whoever asks.
            scores = {m["id"]: m["score"] for m in unfiltered}
            assert all(scores.get(m["id"], m["score"]) == m["score"] for m in mine)


def test_team_members_see_and_match_their_confidential_project(access_world, embedder):
    settings = access_settings(access_world)
    headers = add_principals(settings.database)
    with TestClient(create_app(settings, embedder)) as client:
        project = client.get("/api/v1/projects/P-TEAM-CONF", headers=headers["researcher"])
        assert project.status_code == 200 and CANARY_TEAM in project.text
        matches = client.get("/api/v1/projects/P-TEAM-CONF/calls", headers=headers["researcher"])
        assert matches.status_code == 200


def test_the_audit_log_names_who_read_which_confidential_project(run):
    with Store(run.db) as store:
        entries = store.audit(limit=100_000)
    seen = {(e.actor, e.action, e.object_id) for e in entries}
    assert (RESEARCHER, "read", "P-OWN-CONF") in seen
    assert (RESEARCHER, "match", "P-OWN-CONF") in seen
    assert ("u.bizdev", "export", "P-OTHER-CONF") in seen
    assert ("u.admin", "match_result", "P-OTHER-CONF") in seen
    assert (RESEARCHER, "match_result", "P-TEAM-CONF") in seen
    assert not {e.object_id for e in entries} & {"P-INTERNAL", "P-PUBLIC"}
    assert not [e for e in entries if e.actor == "u.guest"]


# ---------------------------------------------------------------------- canaries


def test_no_canary_in_any_response_a_principal_may_not_see(run):
    hits = [
        (cell, canary)
        for cell, (_, _, body) in run.responses.items()
        for canary in HIDDEN_CANARIES[cell[3]]
        if canary in body
    ]
    assert hits == []
    # The canaries are there to be found: the principals who may see them do.
    bodies = {cell[3]: "" for cell in run.responses}
    for cell, (_, _, body) in run.responses.items():
        bodies[cell[3]] += body
    assert CANARY_OTHER in bodies["bizdev"] and CANARY_OWN in bodies["researcher"]


def test_no_canary_in_the_openapi_schema_or_the_logs(run):
    canaries = (CANARY_OWN, CANARY_OTHER, CANARY_TEAM)
    assert run.logs, "the run logged nothing: the log capture is broken"
    assert not [c for c in canaries if c in run.openapi]
    assert not [line for line in run.logs if any(c in line for c in canaries)]


def test_no_canary_in_cli_output_for_principals_who_may_not_see_it(access_world, monkeypatch):
    settings = access_settings(access_world)
    use_database(monkeypatch, settings)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_TODAY", "2026-11-25")
    keys = {
        role: headers["Authorization"].removeprefix("Bearer ")
        for role, headers in add_principals(settings.database).items()
        if headers
    }
    commands = [
        ["list", "projects"],
        ["reverse", "O-SITE", "--json"],
        ["reverse", "C-CART"],
        ["search", TEXT, "--to", "projects", "--json"],
        ["recommend", "P-OTHER-CONF", "--json"],
        ["recommend", "P-OWN-CONF", "--to", "calls"],
    ]
    runner = CliRunner()
    outputs = {}
    for role in ("researcher", "guest"):
        for command in commands:
            result = runner.invoke(main, [*command, "--key", keys[role]])
            outputs[(role, *command)] = result.output
            assert not [c for c in HIDDEN_CANARIES[role] if c in result.output], (role, command)
    assert "P-OTHER-CONF" not in outputs[("researcher", "list", "projects")]
    assert (
        "No project with id 'P-OTHER-CONF'"
        in outputs[("researcher", "recommend", "P-OTHER-CONF", "--json")]
    )
    assert "P-OWN-CONF" in outputs[("researcher", "list", "projects")]
    assert outputs[("guest", "list", "projects")].split("\t")[0] == "P-PUBLIC"
