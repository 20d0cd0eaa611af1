"""Roles and scopes in the store, keys, passwords and sessions, and bad credentials and input
over HTTP: every refusal is a 4xx in the one error shape."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from matcher import (
    LOCAL_OPERATOR,
    Conflict,
    EntityKind,
    InvalidQuery,
    NotAuthenticated,
    NotFound,
    Principal,
    Role,
    Store,
    authenticate,
    create_user,
    issue_key,
    login,
    parse_project,
    revoke_key,
    session_principal,
)
from service.app import create_app
from tests.conftest import (
    ACCESS_PROJECTS,
    GUEST_ORG,
    RESEARCHER,
    VISIBLE,
    access_settings,
    add_principals,
    database_of,
    make_project,
)
from tests.test_api import assert_error

pytestmark = pytest.mark.both_databases

PRINCIPAL = {
    "admin": Principal("u.admin", Role.ADMIN),
    "bizdev": Principal("u.bizdev", Role.BIZDEV),
    "researcher": Principal(RESEARCHER, Role.RESEARCHER),
    "guest": Principal("u.guest", Role.GUEST, GUEST_ORG),
}


@pytest.fixture
def store(access_world):
    with Store(database_of(access_world)) as s:
        yield s


@pytest.mark.parametrize("role", list(PRINCIPAL))
def test_the_store_query_applies_each_scope(store, role):
    scope = PRINCIPAL[role].scope
    assert store.ids(EntityKind.PROJECT, scope) == VISIBLE[role]
    assert store.count(EntityKind.PROJECT, scope) == len(VISIBLE[role])
    assert {p.id for p in store.entities(EntityKind.PROJECT, scope)} == VISIBLE[role]
    for project in ACCESS_PROJECTS:
        if project["id"] in VISIBLE[role]:
            assert store.get(project["id"], EntityKind.PROJECT, scope).id == project["id"]
        else:
            with pytest.raises(NotFound, match="No project with id"):
                store.get(project["id"], EntityKind.PROJECT, scope)
    organisations = store.ids(EntityKind.ORGANISATION, scope)
    assert organisations == ({GUEST_ORG} if role == "guest" else {GUEST_ORG, "O-SITE"})
    assert store.count(EntityKind.CALL, scope) == (0 if role == "guest" else 1)
    assert LOCAL_OPERATOR.scope == PRINCIPAL["admin"].scope


def test_a_new_team_member_sees_the_project_at_once(store):
    scope = PRINCIPAL["researcher"].scope
    assert "P-OTHER-CONF" not in store.ids(EntityKind.PROJECT, scope)
    record = next(p for p in ACCESS_PROJECTS if p["id"] == "P-OTHER-CONF")
    store.upsert([parse_project({**record, "team": [RESEARCHER]})])
    assert "P-OTHER-CONF" in store.ids(EntityKind.PROJECT, scope)
    store.upsert([parse_project({**record, "team": []})])
    assert "P-OTHER-CONF" not in store.ids(EntityKind.PROJECT, scope)


def test_keys_are_shown_once_stored_hashed_and_revocable(store):
    create_user(store, "u.k", Role.BIZDEV)
    stored, key = issue_key(store, "u.k", "laptop")
    assert key.startswith(f"cgtm_{stored.key_id}_")
    assert authenticate(store, key) == Principal("u.k", Role.BIZDEV)
    secret = key.split("_", 2)[2]  # the secret itself may hold "_"
    if store.path is not None:
        store.close()
        raw = b"".join(p.read_bytes() for p in store.path.parent.glob("matcher.db*"))
    else:
        with store.read() as connection:
            raw = str(connection.exec_driver_sql("SELECT * FROM api_keys").all()).encode()
        store.close()
    assert secret.encode() not in raw
    with Store(store.url.render_as_string(hide_password=False)) as again:
        revoke_key(again, "u.k", stored.key_id)
        with pytest.raises(NotAuthenticated, match="unknown, revoked or expired"):
            authenticate(again, key)
        with pytest.raises(NotFound):
            revoke_key(again, "u.k", "000000000000")


def test_expired_keys_and_wrong_secrets_are_refused(store):
    create_user(store, "u.e", Role.RESEARCHER)
    _, key = issue_key(store, "u.e", expires_in_days=1)
    assert authenticate(store, key).user == "u.e"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    with pytest.raises(NotAuthenticated):
        authenticate(store, key, now=later)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    with pytest.raises(NotAuthenticated):
        authenticate(store, forged)
    for malformed in ("", "cgtm", "cgtm_zz_zz", key + "x", "Bearer " + key, key.upper()):
        with pytest.raises(NotAuthenticated):
            authenticate(store, malformed)


def test_users_are_validated(store):
    with pytest.raises(InvalidQuery, match="needs an organisation"):
        create_user(store, "u.g", Role.GUEST)
    with pytest.raises(NotFound):
        create_user(store, "u.g", Role.GUEST, "O-NOWHERE")
    with pytest.raises(InvalidQuery, match="Only guest"):
        create_user(store, "u.r", Role.RESEARCHER, GUEST_ORG)
    with pytest.raises(InvalidQuery, match="not valid"):
        create_user(store, "Bad Name!", Role.ADMIN)
    create_user(store, "u.same", Role.ADMIN)
    with pytest.raises(Conflict):
        create_user(store, "u.same", Role.ADMIN)
    with pytest.raises(InvalidQuery, match="12 characters"):
        create_user(store, "u.pw", Role.ADMIN, password="short")


def test_passwords_open_sessions(store):
    create_user(store, "u.web", Role.RESEARCHER, password="a long enough secret")
    with pytest.raises(NotAuthenticated):
        login(store, "u.web", "a wrong secret....")
    with pytest.raises(NotAuthenticated):
        login(store, "u.nobody", "a long enough secret")
    token, expires = login(store, "u.web", "a long enough secret")
    assert expires > dt.datetime.now(dt.UTC) + dt.timedelta(hours=11)
    assert session_principal(store, token).user == "u.web"
    with pytest.raises(NotAuthenticated):
        session_principal(store, token + "x")


# ---------------------------------------------------------------------- over HTTP


@pytest.fixture
def http(access_world, embedder):
    settings = access_settings(access_world, auth_failures=3)
    headers = add_principals(settings.database)
    with TestClient(create_app(settings, embedder)) as client:
        yield client, headers, settings


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "cgtm_0123456789ab_" + "A" * 43},
        {"X-API-Key": "cgtm_" + "x" * 5000},
        {"Cookie": "matcher_session=forged"},
    ],
)
def test_bad_credentials_get_401(http, headers):
    client, _, _ = http
    error = assert_error(client.get("/api/v1/projects", headers=headers), 401)
    assert error["code"] == "unauthorized"


def test_no_credentials_get_401_with_how_to_sign_in(http):
    client, _, _ = http
    response = client.get("/api/v1/projects/P-PUBLIC")
    error = assert_error(response, 401)
    assert "Authorization: Bearer" in error["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_and_expired_keys_get_401(http):
    client, headers, settings = http
    admin = headers["admin"]
    created = client.post("/api/v1/users/u.res/keys", json={"label": "t"}, headers=admin)
    assert created.status_code == 201
    key = created.json()["key"]
    mine = {"X-API-Key": key}
    assert client.get("/api/v1/me", headers=mine).json()["username"] == RESEARCHER
    listed = client.get("/api/v1/users/u.res/keys", headers=admin).json()
    assert key not in str(listed) and created.json()["key_id"] in str(listed)
    key_id = created.json()["key_id"]
    revoked = client.delete(f"/api/v1/users/u.res/keys/{key_id}", headers=admin)
    assert revoked.json()["revoked_at"] is not None
    assert_error(client.get("/api/v1/me", headers=mine), 401)
    expiring = client.post("/api/v1/users/u.res/keys", json={"expires_in_days": 1}, headers=admin)
    with Store(settings.database) as store, store.write() as db:  # the key's day is over
        db.exec_driver_sql(
            "UPDATE api_keys SET expires_at = '2000-01-01T00:00:00.000000Z'"
            f" WHERE key_id = '{expiring.json()['key_id']}'"
        )
    assert_error(client.get("/api/v1/me", headers={"X-API-Key": expiring.json()["key"]}), 401)


def test_failed_sign_ins_are_rate_limited(http):
    client, headers, _ = http
    bad = {"X-API-Key": "cgtm_0123456789ab_" + "B" * 43}
    for _ in range(3):
        assert_error(client.get("/api/v1/me", headers=bad), 401)
    limited = client.get("/api/v1/me", headers=bad)
    assert_error(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    # Only that key is refused from this address: a valid key, or a password, is not
    # (issue 11; tests/test_hardening_auth.py).
    assert client.get("/api/v1/me", headers=headers["admin"]).status_code == 200
    assert_error(client.post("/auth/login", json={"username": "u.res", "password": "x"}), 401)
    assert client.get("/health").status_code == 200


def test_login_session_and_logout(http, access_world):
    client, _, settings = http
    with Store(settings.database) as store:
        from matcher import set_password

        set_password(store, RESEARCHER, "a long enough secret")
    signed_in = client.post(
        "/auth/login", json={"username": RESEARCHER, "password": "a long enough secret"}
    )
    assert signed_in.status_code == 200 and signed_in.json()["role"] == "researcher"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/v1/me").json()["username"] == RESEARCHER
    assert client.get("/api/v1/projects/P-OTHER-CONF").status_code == 404
    assert client.post("/auth/logout").status_code == 204
    client.cookies.clear()
    assert_error(client.get("/api/v1/me"), 401)


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/v1/projects/P-PUBLIC/partners?k=0", None, 422),
        ("get", "/api/v1/projects/P-PUBLIC/partners?k=101", None, 422),
        ("get", "/api/v1/organisations/O-SITE/projects?k=-1", None, 422),
        ("get", "/api/v1/export/projects?k=21", None, 422),
        ("get", "/api/v1/projects?limit=0", None, 422),
        ("post", "/api/v1/search/projects", {"text": "x", "k": 101}, 422),
        ("post", "/api/v1/search/partners", {"text": "x", "role": "admin"}, 422),
        ("post", "/api/v1/users", {"username": "u.x", "role": "root"}, 422),
        ("post", "/api/v1/users", {"username": "u.x", "role": "bizdev", "admin": True}, 422),
        ("post", "/api/v1/users", {"username": "u.res", "role": "bizdev"}, 409),
        ("post", "/api/v1/users", {"username": "u.g2", "role": "guest"}, 422),
        ("post", "/api/v1/users/u.nobody/keys", {}, 404),
        ("post", "/api/v1/users/u.res/keys", {"expires_in_days": 0}, 422),
        ("delete", "/api/v1/users/u.res/keys/000000000000", None, 404),
        ("get", "/api/v1/audit?since=yesterday", None, 422),
    ],
)
def test_bad_input_gets_4xx_in_the_one_shape(http, method, url, body, status):
    client, headers, _ = http
    assert_error(client.request(method, url, json=body, headers=headers["admin"]), status)


def test_oversized_bodies_get_413_before_they_are_read(http):
    client, headers, _ = http
    big = b'{"text": "' + b"a" * 300_000 + b'"}'
    declared = client.post(
        "/api/v1/search/partners",
        content=big,
        headers={**headers["researcher"], "content-type": "application/json"},
    )
    assert_error(declared, 413)

    def chunks():
        for _ in range(40):
            yield b"a" * 10_000

    streamed = client.post(
        "/api/v1/search/partners",
        content=chunks(),
        headers={**headers["researcher"], "content-type": "application/json"},
    )
    assert_error(streamed, 413)


def test_a_project_stored_after_the_start_is_served_once_reindexed(http):
    client, headers, settings = http
    with Store(settings.database) as store:
        store.upsert([parse_project(make_project(id="P-NEW", visibility="public"))])
    admin = headers["admin"]
    assert client.get("/api/v1/projects/P-NEW", headers=admin).status_code == 200
    error = assert_error(client.get("/api/v1/projects/P-NEW/partners", headers=admin), 503)
    assert "not indexed yet" in error["message"]
    reindexed = client.post("/api/v1/admin/reindex", headers=admin)
    assert reindexed.json()["kinds"]["project"] == len(ACCESS_PROJECTS) + 1
    assert client.get("/api/v1/projects/P-NEW/partners", headers=admin).status_code == 200


def test_disabling_a_user_or_changing_their_role_takes_effect_at_once(http):
    client, headers, _ = http
    admin, researcher = headers["admin"], headers["researcher"]
    assert client.get("/api/v1/projects/P-OTHER-CONF", headers=researcher).status_code == 404
    promoted = client.patch(f"/api/v1/users/{RESEARCHER}", json={"role": "bizdev"}, headers=admin)
    assert promoted.json()["role"] == "bizdev"
    assert client.get("/api/v1/projects/P-OTHER-CONF", headers=researcher).status_code == 200
    disabled = client.patch(f"/api/v1/users/{RESEARCHER}", json={"disabled": True}, headers=admin)
    assert disabled.json()["disabled"] is True
    assert_error(client.get("/api/v1/me", headers=researcher), 401)
    client.patch(f"/api/v1/users/{RESEARCHER}", json={"disabled": False}, headers=admin)
    assert client.get("/api/v1/me", headers=researcher).json()["role"] == "bizdev"
    as_guest = client.patch(f"/api/v1/users/{RESEARCHER}", json={"role": "guest"}, headers=admin)
    assert_error(as_guest, 422)
    guest = {"role": "guest", "organisation": GUEST_ORG}
    assert client.patch(f"/api/v1/users/{RESEARCHER}", json=guest, headers=admin).status_code == 200
    assert client.get("/api/v1/projects", headers=researcher).json()["total"] == 1
