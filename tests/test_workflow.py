"""Feedback on pairs and the pipeline of shortlisted matches, through the API, on both
databases."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from matcher import Store
from service.app import create_app
from service.cli import main
from tests.conftest import (
    OTHER,
    access_settings,
    add_principals,
    add_user,
    use_database,
)

pytestmark = pytest.mark.both_databases


@pytest.fixture
def http(access_world, embedder):
    settings = access_settings(access_world)
    headers = add_principals(settings.database)
    headers["other"] = add_user(settings.database, OTHER, "researcher")
    with TestClient(create_app(settings, embedder)) as client:
        yield client, headers, settings


def partner_ids(client, headers, project="P-INTERNAL"):
    response = client.get(f"/api/v1/projects/{project}/partners?k=10", headers=headers)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["matches"]]


def feedback(client, headers, candidate, verdict, project="P-INTERNAL"):
    url = f"/api/v1/projects/{project}/feedback/{candidate}"
    return client.put(url, json={"verdict": verdict}, headers=headers)


@pytest.mark.parametrize("verdict", ["not_relevant", "already_known"])
def test_a_dismissed_pair_is_no_longer_suggested_to_that_user_alone(http, verdict):
    client, headers, _ = http
    bizdev = headers["bizdev"]
    assert "O-SITE" in partner_ids(client, bizdev)
    assert feedback(client, bizdev, "O-SITE", verdict).status_code == 200
    assert "O-SITE" not in partner_ids(client, bizdev)
    assert "O-SITE" in partner_ids(client, headers["admin"])  # others still get it
    # The reverse direction leaves the project out for that user too.
    reverse = client.get("/api/v1/organisations/O-SITE/projects?k=10", headers=bizdev).json()
    assert "P-INTERNAL" not in [m["id"] for m in reverse["matches"]]
    mine = client.get("/api/v1/projects/P-INTERNAL/feedback", headers=bizdev).json()
    assert mine == [{"project_id": "P-INTERNAL", "candidate_id": "O-SITE", "verdict": verdict}]
    # Changing one's mind brings the pair back.
    assert feedback(client, bizdev, "O-SITE", "relevant").status_code == 200
    assert "O-SITE" in partner_ids(client, bizdev)


def test_a_dismissed_call_leaves_the_calls_and_the_cli(http, monkeypatch):
    client, headers, settings = http
    calls = client.get("/api/v1/projects/P-INTERNAL/calls?k=10", headers=headers["bizdev"])
    assert "C-CART" in [m["id"] for m in calls.json()["matches"]]
    assert feedback(client, headers["bizdev"], "C-CART", "not_relevant").status_code == 200
    calls = client.get("/api/v1/projects/P-INTERNAL/calls?k=10", headers=headers["bizdev"])
    assert "C-CART" not in [m["id"] for m in calls.json()["matches"]]
    use_database(monkeypatch, settings)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_TODAY", settings.today.isoformat())
    key = headers["bizdev"]["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(main, ["recommend", "P-INTERNAL", "--to", "calls", "--key", key])
    assert result.exit_code == 0, result.output
    assert "C-CART" not in result.output


def test_feedback_needs_a_project_one_may_match_and_a_candidate_one_may_see(http):
    client, headers, _ = http
    assert (
        feedback(client, headers["researcher"], "O-SITE", "relevant", "P-OTHER-CONF").status_code
        == 404
    )
    assert feedback(client, headers["bizdev"], "O-NOWHERE", "relevant").status_code == 404
    assert feedback(client, headers["bizdev"], "P-PUBLIC", "relevant").status_code == 404
    bad = client.put(
        "/api/v1/projects/P-INTERNAL/feedback/O-SITE",
        json={"verdict": "meh"},
        headers=headers["bizdev"],
    )
    assert bad.status_code == 422


def test_admins_see_the_counts_of_every_verdict(http):
    client, headers, _ = http
    feedback(client, headers["bizdev"], "O-SITE", "not_relevant")
    feedback(client, headers["researcher"], "O-SITE", "already_known")
    feedback(client, headers["admin"], "O-SITE", "relevant")
    feedback(client, headers["admin"], "O-GUEST", "relevant")
    counts = client.get("/api/v1/admin/feedback", headers=headers["admin"]).json()
    assert counts[0] == {
        "project_id": "P-INTERNAL",
        "candidate_id": "O-SITE",
        "relevant": 1,
        "not_relevant": 1,
        "already_known": 1,
    }
    assert len(counts) == 2


def test_a_match_moves_through_the_pipeline_with_its_history(http):
    client, headers, _ = http
    bizdev = headers["bizdev"]
    created = client.post(
        "/api/v1/pipeline",
        json={"project_id": "P-TEAM-CONF", "candidate_id": "O-GUEST", "note": "Strong CDMO fit"},
        headers=bizdev,
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["stage"] == "to_contact" and entry["created_by"] == "u.bizdev"
    again = client.post(
        "/api/v1/pipeline",
        json={"project_id": "P-TEAM-CONF", "candidate_id": "O-GUEST"},
        headers=headers["admin"],
    )
    assert again.status_code == 409 and str(entry["id"]) in again.json()["error"]["message"]
    for stage, note in (("contacted", "Call with their BD lead"), ("cda_signed", "CDA signed")):
        moved = client.post(
            f"/api/v1/pipeline/{entry['id']}/moves",
            json={"stage": stage, "note": note},
            headers=bizdev,
        )
        assert moved.status_code == 200, moved.text
    entry = moved.json()
    assert entry["stage"] == "cda_signed"
    assert [(e["stage"], e["note"]) for e in entry["history"]] == [
        ("to_contact", "Strong CDMO fit"),
        ("contacted", "Call with their BD lead"),
        ("cda_signed", "CDA signed"),
    ]
    listed = client.get("/api/v1/pipeline?stage=cda_signed", headers=bizdev).json()
    assert [e["id"] for e in listed] == [entry["id"]]
    assert client.get("/api/v1/pipeline?stage=won", headers=bizdev).json() == []


def test_researchers_see_the_pipeline_of_their_own_projects_only(http):
    client, headers, _ = http
    for project in ("P-TEAM-CONF", "P-INTERNAL", "P-OWN-CONF"):
        response = client.post(
            "/api/v1/pipeline",
            json={"project_id": project, "candidate_id": "O-SITE"},
            headers=headers["bizdev"],
        )
        assert response.status_code == 201
    # u.res owns P-OWN-CONF and is on P-TEAM-CONF's team; P-INTERNAL is only readable.
    mine = client.get("/api/v1/pipeline", headers=headers["researcher"]).json()
    assert sorted(e["project_id"] for e in mine) == ["P-OWN-CONF", "P-TEAM-CONF"]
    other = client.get("/api/v1/pipeline", headers=headers["other"]).json()
    assert sorted(e["project_id"] for e in other) == ["P-INTERNAL", "P-TEAM-CONF"]
    moved = client.post(
        f"/api/v1/pipeline/{mine[0]['id']}/moves",
        json={"stage": "won"},
        headers=headers["researcher"],
    )
    assert moved.status_code == 403
    assert client.get("/api/v1/pipeline", headers=headers["guest"]).status_code == 403


def test_erasures_take_feedback_and_pipeline_entries_with_them(http):
    client, headers, settings = http
    feedback(client, headers["researcher"], "O-SITE", "not_relevant")
    client.post(
        "/api/v1/pipeline",
        json={"project_id": "P-INTERNAL", "candidate_id": "O-SITE", "note": "n"},
        headers=headers["bizdev"],
    )
    entry = client.post(
        "/api/v1/pipeline",
        json={"project_id": "P-PUBLIC", "candidate_id": "C-CART"},
        headers=headers["bizdev"],
    ).json()
    with Store(settings.database) as store:
        store.erase("organisation", "O-SITE", by="dpo")
        assert store.feedback_counts() == []
        assert [e.id for e in store.pipeline_entries()] == [entry["id"]]
        erasure = store.erase("user", "u.bizdev", by="dpo")
        (left,) = store.pipeline_entries()
        pseudonym = f"erased-user-{erasure.id}"
        assert left.created_by == pseudonym and {e.by for e in left.history} == {pseudonym}


def test_the_portfolio_is_ranked_once_until_feedback_the_pipeline_or_the_data_change(http):
    client, headers, _ = http
    gate = client.app.state.gate
    from matcher import Principal, Role

    view = gate.view(Principal("u.bizdev", Role.BIZDEV))
    first = view.portfolio()
    assert view.portfolio() is first  # filters, sorting and paging cost no ranking
    row = next(r for r in first if r.project.id == "P-INTERNAL")
    assert row.best_partner is not None
    feedback(client, headers["bizdev"], row.best_partner.id, "not_relevant")
    fresh = view.portfolio()
    assert fresh is not first
    moved = next(r for r in fresh if r.project.id == "P-INTERNAL")
    assert moved.best_partner is None or moved.best_partner.id != row.best_partner.id
    client.post(
        "/api/v1/pipeline",
        json={"project_id": "P-PUBLIC", "candidate_id": "C-CART"},
        headers=headers["bizdev"],
    )
    staged = next(r for r in view.portfolio() if r.project.id == "P-PUBLIC")
    assert [s.value for s in staged.stages] == ["to_contact"]
