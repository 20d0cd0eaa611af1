"""Issue 11, the store's part: a recreated username starts with nothing (membership belongs to
the account that erasure ends), and a hidden object costs the store the same work as a missing
one."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import event

from matcher import (
    EntityKind,
    InvalidQuery,
    NotFound,
    Principal,
    Role,
    Store,
    create_user,
    parse_project,
)
from service.app import create_app
from service.cli import main
from tests.conftest import (
    ACCESS_PROJECTS,
    CANARY_OWN,
    CANARY_TEAM,
    RESEARCHER,
    TODAY,
    access_settings,
    add_principals,
    add_user,
    database_of,
    make_project,
    use_database,
)

pytestmark = pytest.mark.both_databases

OWNED = {"P-OWN-CONF", "P-TEAM-CONF"}
"""The confidential projects RESEARCHER owns or is on the team of."""


@pytest.fixture
def env(access_world, monkeypatch):
    settings = access_settings(access_world)
    use_database(monkeypatch, settings)
    monkeypatch.setenv("MATCHER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("MATCHER_TODAY", TODAY.isoformat())
    return settings


def cli(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def seen_by(client, headers):
    """Every project id the principal is handed: by id, listed, and ranked for an organisation,
    a call and a text; and whether a canary of the owned projects shows anywhere."""
    by_id = {
        p
        for p in OWNED
        if client.get(f"/api/v1/projects/{p}", headers=headers).status_code == 200
        or client.get(f"/api/v1/projects/{p}/partners?k=2", headers=headers).status_code == 200
    }
    listed = client.get("/api/v1/projects?limit=500", headers=headers)
    ranked = [
        client.get("/api/v1/organisations/O-SITE/projects?k=100", headers=headers),
        client.get("/api/v1/calls/C-CART/projects?k=100", headers=headers),
        client.post(
            "/api/v1/search/projects", json={"text": "CAR-T renal lymphoma", "k": 100},
            headers=headers,
        ),
    ]  # fmt: skip
    ids = by_id | {p["id"] for p in listed.json()["items"]}
    for response in ranked:
        assert response.status_code == 200, response.text
        ids |= {m["id"] for m in response.json()["matches"]}
    texts = listed.text + "".join(r.text for r in ranked)
    return ids & OWNED, CANARY_OWN in texts or CANARY_TEAM in texts


def test_a_recreated_username_inherits_no_project(env, embedder):
    old = add_principals(env.database)["researcher"]
    with TestClient(create_app(env, embedder)) as client:
        assert seen_by(client, old) == (OWNED, True)  # and the visible-id cache is filled
        cli("erase", "user", RESEARCHER, "--yes")
        new = add_user(env.database, RESEARCHER, "researcher")
        assert client.get("/api/v1/me", headers=new).json()["username"] == RESEARCHER
        assert seen_by(client, new) == (set(), False)
        # Loading the old data again (unchanged, or edited but still naming the old owner) and
        # replaying the ledger give nothing back, and leave the new account alone.
        cli("load", str(env.db_path.parent / "data"))
        record = next(p for p in ACCESS_PROJECTS if p["id"] == "P-OWN-CONF")
        with Store(env.database) as store:
            store.upsert([parse_project({**record, "team": ["u.colleague"]})])
        assert "Re-applied 0 erasures" in cli("erase", "--replay", "--yes")
        assert seen_by(client, new) == (set(), False)
    # A fresh server, with nothing cached, agrees.
    with TestClient(create_app(env, embedder)) as client:
        assert seen_by(client, new) == (set(), False)


def test_what_names_the_new_account_after_the_erasure_is_theirs(env):
    add_user(env.database, RESEARCHER, "researcher")
    cli("erase", "user", RESEARCHER, "--yes")
    add_user(env.database, RESEARCHER, "researcher")
    scope = Principal(RESEARCHER, Role.RESEARCHER).scope
    team = next(p for p in ACCESS_PROJECTS if p["id"] == "P-TEAM-CONF")
    with Store(env.database) as store:
        assert not store.ids(EntityKind.PROJECT, scope) & OWNED
        new = make_project(id="P-NEW", owner=RESEARCHER, visibility="confidential")
        store.upsert([parse_project(new)])
        # Taken off a team and put back on it: a membership written after the erasure.
        store.upsert([parse_project({**team, "team": []})])
        store.upsert([parse_project(team)])
        assert store.ids(EntityKind.PROJECT, scope) & {*OWNED, "P-NEW"} == {"P-NEW", "P-TEAM-CONF"}


def statements(store, call):
    """The SQL statements, with their parameters, that `call` runs on the store's engine."""
    seen: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        seen.append(f"{statement} {parameters}")

    event.listen(store._engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(store._engine, "before_cursor_execute", record)
    return seen


@pytest.mark.parametrize("kind", [None, EntityKind.PROJECT])
def test_a_hidden_object_costs_the_same_queries_as_a_missing_one(access_world, kind):
    scope = Principal(RESEARCHER, Role.RESEARCHER).scope
    with Store(database_of(access_world)) as store:
        runs = {}
        # Hidden by the scope; missing; of another kind than asked (when a kind is asked).
        for id in ("P-OTHER-CONF", "P-NOPE", "O-SITE" if kind else "P-NOPE-2"):

            def get(id=id):
                with pytest.raises(NotFound):
                    store.get(id, kind, scope)

            runs[id] = [s.replace(id, "<id>") for s in statements(store, get)]
        hidden, *others = runs.values()
        assert hidden and all(other == hidden for other in others), runs
        readable = statements(store, lambda: store.get("P-OWN-CONF", kind, scope))
        assert len(readable) == len(hidden)


def test_the_audit_log_pseudonym_of_an_erased_user_is_no_username(tmp_path):
    with Store(tmp_path / "m.db") as store, pytest.raises(InvalidQuery, match="reserved"):
        create_user(store, "erased-user-1", Role.RESEARCHER)
