import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import add_user, served_routes

ERROR_KEYS = {"status", "code", "message", "details"}


@pytest.fixture
def client(settings, embedder):
    headers = add_user(settings.database, "admin", "admin")
    with TestClient(create_app(settings, embedder), headers=headers) as c:
        yield c


def assert_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["status"] == status
    return body["error"]


def test_health_and_version(client):
    assert client.get("/health").json() == {
        "status": "ok",
        "counts": {"project": 2, "organisation": 3, "call": 4},
    }
    version = client.get("/version").json()
    assert version["version"] == "0.2.0"
    assert version["indexes"]["organisation"]["count"] == 4  # documents
    assert version["indexes"]["project"]["dim"] == 384


def test_every_direction_answers_with_reasons(client):
    urls = [
        ("get", "/api/v1/projects/P-1/partners?k=2", None, "O-EYE"),
        ("get", "/api/v1/projects/P-1/calls?k=2&status=open", None, "C-1"),
        ("get", "/api/v1/organisations/O-CELL/projects?k=2", None, "P-2"),
        ("get", "/api/v1/calls/C-1/projects?k=2", None, "P-1"),
        ("post", "/api/v1/search/partners", {"text": "AAV vector supply", "k": 2}, "O-VEC"),
        (
            "post",
            "/api/v1/search/calls",
            {"text": "retinal gene therapy", "status": ["open"]},
            "C-1",
        ),
    ]
    for method, url, body, first in urls:
        response = client.request(method, url, json=body)
        assert response.status_code == 200, (url, response.text)
        matches = response.json()["matches"]
        assert matches[0]["id"] == first, url
        assert matches[0]["rank"] == 1
        assert matches[0]["reasons"]["summary"]
        assert matches[0]["reasons"]["sentences"]["similarity"] > 0


def test_calls_carry_deadline_and_eligibility(client):
    match = client.get("/api/v1/projects/P-1/calls?k=1&status=open").json()["matches"][0]
    assert match["reasons"]["deadline"]["next_deadline"] == "2027-03-01"
    assert match["reasons"]["deadline"]["days_left"] == 96
    assert match["reasons"]["eligibility"]["outcome"] == "eligible"
    assert [r["outcome"] for r in match["reasons"]["eligibility"]["rules"]] == ["eligible"] * 2
    assert 0 < match["score"] <= 1 and match["strength"] in ("strong", "good", "weak")
    soon = client.get("/api/v1/projects/P-1/calls").json()["matches"]
    assert {m["reasons"]["deadline"]["status"] for m in soon} == {"open", "forthcoming"}
    closed = client.get("/api/v1/projects/P-1/calls?status=closed")
    assert closed.status_code == 422 and "never proposed" in closed.json()["error"]["message"]


def test_kind_filter_and_objects(client):
    matches = client.get("/api/v1/projects/P-1/partners?kind=cdmo").json()["matches"]
    assert {m["id"] for m in matches} == {"O-VEC", "O-CELL"}
    assert client.get("/api/v1/projects/P-2").json()["modality"] == "car_t"
    assert client.get("/api/v1/organisations").json()["total"] == 3
    calls = {c["id"]: c["status"] for c in client.get("/api/v1/calls").json()["items"]}
    assert calls == {
        "C-1": "open",
        "C-CLOSED": "closed",
        "C-ROLLING": "open",
        "C-SOON": "forthcoming",
    }


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/v1/projects/P-404/partners", None, 404),
        ("get", "/api/v1/projects/P-404", None, 404),
        ("get", "/api/v1/organisations/P-1", None, 404),
        ("get", "/api/v1/calls/O-VEC/projects", None, 404),
        ("get", "/api/v1/projects/P-1/partners?k=0", None, 422),
        ("get", "/api/v1/projects/P-1/partners?k=101", None, 422),
        ("get", "/api/v1/projects/P-1/partners?k=ten", None, 422),
        ("get", "/api/v1/projects/P-1/partners?kind=bank", None, 422),
        ("post", "/api/v1/search/partners", {"text": "x", "colour": "red"}, 422),
        ("post", "/api/v1/search/partners", {"text": ""}, 422),
        ("post", "/api/v1/search/calls", {"text": "x" * 20_001}, 422),
        ("post", "/api/v1/search/calls", [1, 2], 422),
        ("get", "/api/v1/nothing-here", None, 404),
        ("delete", "/api/v1/projects/P-1", None, 405),
    ],
)
def test_bad_requests_get_4xx_in_the_one_error_shape(client, method, url, body, status):
    assert_error(client.request(method, url, json=body), status)


def test_invalid_json_body(client):
    response = client.post(
        "/api/v1/search/partners",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert_error(response, 422)


def test_openapi_documents_every_status_a_route_returns(client):
    schema = client.get("/openapi.json").json()
    checked = 0
    for method, path in served_routes(client.app):
        if path not in schema["paths"]:
            assert path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"), path
            continue
        checked += 1
        operation = schema["paths"][path][method.lower()]
        responses = operation["responses"]
        assert "503" in responses, path
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in responses, path
        assert set(responses) & {"200", "201", "204"}, path
        if path.startswith("/api/"):
            assert {"401", "403", "429"} <= set(responses), path
        if "{" in path:
            assert "404" in responses, path
        error_ref = responses["503"]["content"]["application/json"]["schema"]["$ref"]
        assert error_ref.endswith("/ErrorOut")
    assert checked == sum(len(ops) for ops in schema["paths"].values())


def test_a_missing_index_stops_the_start_with_the_fix(settings, embedder, tmp_path):
    from dataclasses import replace

    from matcher import IndexNotBuilt

    app = create_app(replace(settings, models_dir=tmp_path / "empty"), embedder)
    with pytest.raises(IndexNotBuilt, match="build the indexes"), TestClient(app):
        pass
