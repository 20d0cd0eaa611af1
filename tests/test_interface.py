"""A strict, consistent interface: unknown query parameters refused on every route, one table
of errors behind both the answers and the OpenAPI schema, library messages free of CLI advice,
entity counts, and API docs that load nothing from another host."""

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from matcher import MatcherError, NotFound, StaleIndex
from service import errors
from service.app import create_app
from service.cli import main
from tests.conftest import TODAY, add_user, served_routes, use_database

ROOT = Path(__file__).resolve().parents[1]
ERROR_KEYS = {"status", "code", "message", "details"}
# A real object for each path parameter, so that a route's only possible failure is the one
# under test.
PATH_VALUES = {
    "project_id": "P-1",
    "organisation_id": "O-VEC",
    "call_id": "C-1",
    "username": "admin",
    "key_id": "nokey",
}


@pytest.fixture
def client(settings, embedder):
    headers = add_user(settings.database, "admin", "admin")
    with TestClient(create_app(settings, embedder), headers=headers) as c:
        yield c


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status
    return body["error"]


def api_routes(client, method):
    """(path with real values, path template) of every route of the API with this method."""
    documented = client.get("/openapi.json").json()["paths"]
    found = []
    for m, path in served_routes(client.app):
        if m == method and path in documented:
            found.append((re.sub(r"{(\w+)}", lambda g: PATH_VALUES[g[1]], path), path))
    return found


# ---------------------------------------------------------------------- unknown query parameters


def test_every_get_route_refuses_an_unknown_query_parameter(client):
    routes = api_routes(client, "GET")
    paths = {template for _, template in routes}
    assert {"/health", "/version", "/api/v1/audit", "/api/v1/me"} <= paths
    assert "/api/v1/projects/{project_id}/partners" in paths
    for url, _ in routes:
        error = error_of(client.get(url, params={"kinds": "cdmo"}), 422)
        assert error["code"] == "invalid_request", url
        assert "'kinds'" in error["message"], url
        assert error["details"][0]["location"] == "query.kinds", url


def test_the_refusal_names_what_the_route_takes(client):
    error = error_of(client.get("/api/v1/projects/P-1/partners?kinds=cdmo&k=2"), 422)
    assert "'kinds'" in error["message"] and "takes: k, kind." in error["message"]
    error = error_of(client.get("/health?verbose=1"), 422)
    assert "'verbose'" in error["message"] and "takes: none" in error["message"]


def test_declared_parameters_still_work(client):
    assert client.get("/api/v1/projects/P-1/partners?k=2&kind=cdmo&kind=hospital_unit").is_success
    assert client.get("/api/v1/calls?offset=0&limit=2").is_success
    assert client.get("/api/v1/audit?project=P-1&limit=5").is_success
    assert client.get("/api/v1/export/projects?k=1").is_success
    assert client.post("/api/v1/search/calls", json={"text": "retinal gene therapy"}).is_success


def test_other_methods_refuse_unknown_query_parameters_too(client):
    body = {"text": "AAV vector supply", "k": 1}
    error = error_of(client.post("/api/v1/search/partners?kinds=cdmo", json=body), 422)
    assert "'kinds'" in error["message"]


# ---------------------------------------------------------------------- one table of errors


def test_every_documented_error_status_comes_from_the_table(client):
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, documented in operation["responses"].items():
                if int(status) < 400:
                    continue
                expected = errors.responses(int(status))[int(status)]["description"]
                assert documented["description"] == expected, (method, path, status)
                checked += 1
    assert checked > 100


def test_the_table_lists_every_status_the_app_answers(client):
    big = b"x" * (256 * 1024 + 1)
    answers = [
        (client.get("/api/v1/projects/P-404"), 404, "not_found"),
        (client.get("/api/v1/nothing-here"), 404, "not_found"),
        (client.delete("/api/v1/projects/P-1"), 405, "method_not_allowed"),
        (client.post("/api/v1/search/calls", content=big), 413, "payload_too_large"),
        (client.get("/api/v1/projects/P-1/partners?k=0"), 422, "invalid_request"),
        (client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401, "unauthorized"),
        (
            client.post("/api/v1/users", json={"username": "admin", "role": "admin"}),
            409,
            "conflict",
        ),
    ]
    codes = {(f.status, f.code) for f in errors.FAILURES.values()}
    for response, status, code in answers:
        assert error_of(response, status)["code"] == code
        assert (status, code) in codes


def test_subclasses_answer_as_their_listed_ancestor_and_the_unlisted_hide_their_text(client):
    class Missing(NotFound):
        pass

    assert errors.failure_of(Missing("project", "P-9")) == errors.FAILURES[NotFound]
    assert errors.failure_of(StaleIndex("x")).code == "stale_index"
    assert errors.failure_of(MatcherError("secret detail")).status == 500

    def broken() -> None:
        raise MatcherError("secret detail")

    client.app.add_api_route("/broken", broken)
    error = error_of(client.get("/broken"), 500)
    assert error["code"] == "internal_error" and "secret" not in error["message"]


def test_route_modules_keep_no_error_table_of_their_own():
    for path in (ROOT / "service").rglob("*.py"):
        if path.name != "errors.py":
            source = path.read_text()
            assert "WHY" not in source and "_errors(" not in source, path
    source = (ROOT / "service" / "errors.py").read_text()
    assert "STATUS" not in source and "HTTP_CODES" not in source


# ---------------------------------------------------------------------- messages


def test_api_messages_give_no_command_line_advice(client):
    answers = [
        client.get("/api/v1/projects/P-404"),
        client.get("/api/v1/organisations/O-404/projects"),
        client.get("/api/v1/users/nobody"),
        client.delete("/api/v1/users/admin/keys/nokey"),
    ]
    for response in answers:
        message = error_of(response, 404)["message"]
        assert "`" not in message and "matcher " not in message, message
    assert error_of(answers[0], 404)["message"] == "No project with id 'P-404'."


def test_the_cli_adds_the_command_that_lists_the_ids(settings, monkeypatch):
    use_database(monkeypatch, settings)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_TODAY", TODAY.isoformat())
    runner = CliRunner()
    result = runner.invoke(main, ["users", "key", "nobody"])
    assert result.exit_code == 1
    assert "No user with id 'nobody'. List the stored ids with `matcher users list`." in (
        result.output
    )
    add_user(settings.database, "alice", "admin")
    result = runner.invoke(main, ["users", "revoke", "alice", "nokey"])
    assert result.exit_code == 1 and "`matcher users keys USERNAME`" in result.output


# ---------------------------------------------------------------------- explicit checks


@pytest.mark.parametrize("package", ["matcher", "service"])
def test_no_assert_guards_a_runtime_invariant(package):
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        found = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not found, f"{path.relative_to(ROOT)}: assert at lines {found}"


def test_a_session_cookie_alone_still_signs_in(settings, embedder):
    from matcher import Role, Store, create_user, set_password

    with Store(settings.database) as store:
        create_user(store, "carol", Role.ADMIN)
        set_password(store, "carol", "correct horse battery")
    with TestClient(create_app(settings, embedder)) as anonymous:
        assert error_of(anonymous.get("/api/v1/me"), 401)["code"] == "unauthorized"
        signed = anonymous.post(
            "/auth/login", json={"username": "carol", "password": "correct horse battery"}
        )
        assert signed.status_code == 200, signed.text
        assert anonymous.get("/api/v1/me").json()["username"] == "carol"


# ---------------------------------------------------------------------- counts


def test_health_and_version_count_entities_not_documents(client):
    # O-CELL has two documents: three organisations, four vectors.
    assert client.get("/health").json()["counts"] == {"project": 2, "organisation": 3, "call": 4}
    organisations = client.get("/version").json()["indexes"]["organisation"]
    assert organisations["entities"] == 3 and organisations["count"] == 4
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "entities" in schema["IndexInfo"]["properties"]["entities"]["description"].lower()
    assert "document" in schema["IndexInfo"]["properties"]["count"]["description"]
    assert "entities" in schema["Health"]["properties"]["counts"]["description"]


# ---------------------------------------------------------------------- docs


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_nothing_from_another_host(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert not re.findall(r"https?://", html), re.findall(r"https?://\S+", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".png") for a in assets)
    if page == "/docs":
        assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 500, asset
    spec = re.search(r"""(?:url: '|spec-url=")([^'"]+)""", html)
    assert spec is not None and client.get(spec[1]).status_code == 200


def test_docs_assets_come_from_the_installed_package(client):
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert client.get(f"/static/docs/{name}").content == (static / name).read_bytes()
