"""Issue 11, signing in: the client's address and scheme come from forwarded headers only when a
trusted proxy sends them; failures are counted per address and credential; one credential per
request; anonymous callers get status only; no key in the log; cookies and caches.

Each test replays a request of the probe against the real app. Where the probe went through
uvicorn's default (which believes X-Forwarded-* from loopback), the app is wrapped in uvicorn's
own ProxyHeadersMiddleware with that default, as `uvicorn.run(app)` does; tests/test_server.py
does the same over HTTP with real uvicorn processes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from matcher import Store, set_password
from service.app import create_app
from tests.conftest import RESEARCHER, access_settings, add_principals
from tests.test_api import assert_error

PASSWORD = "a long enough secret"
LOOPBACK = ("127.0.0.1", 50000)


def sign_in(client: TestClient, password: str, username: str = RESEARCHER, **headers: str) -> Any:
    return client.post(
        "/auth/login", json={"username": username, "password": password}, headers=headers
    )


@pytest.fixture
def world(access_world):
    """The access world with a password for the researcher; request headers by role."""
    settings = access_settings(access_world)
    headers = add_principals(settings.database)
    with Store(settings.database) as store:
        set_password(store, RESEARCHER, PASSWORD)
        set_password(store, "u.admin", PASSWORD)
    return access_world, headers


def serve(world: Any, embedder: Any, behind_uvicorn: bool = False, **overrides: Any) -> TestClient:
    """The app over `world`, reached from loopback; `behind_uvicorn` puts uvicorn's own proxy
    header handling in front with its default trust (loopback), as `uvicorn.run(app)` does."""
    settings = access_settings(world, auth_failures=3, **overrides)
    app: Any = create_app(settings, embedder)
    if behind_uvicorn:
        app = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")
    return TestClient(app, client=LOOPBACK)


@pytest.fixture
def http(world, embedder) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    access_world, headers = world
    with serve(access_world, embedder) as client:
        yield client, headers


# ---------------------------------------------------------------------- forwarded headers


def test_forwarded_addresses_from_an_untrusted_peer_do_not_escape_the_limit(world, embedder):
    # The probe: 25 wrong passwords, each from another forwarded address, never reached 429.
    access_world, _ = world
    with serve(access_world, embedder, behind_uvicorn=True) as client:
        statuses = [
            sign_in(client, "wrong password", **{"X-Forwarded-For": f"10.9.9.{i}"}).status_code
            for i in range(25)
        ]
        assert statuses[:3] == [401, 401, 401]
        assert set(statuses[3:]) == {429}
        # ... and then a correct password from yet another forwarded address got 200.
        limited = sign_in(client, PASSWORD, **{"X-Forwarded-For": "10.9.9.99"})
        assert_error(limited, 429)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(world, embedder):
    # The probe's order: failures from the real address, then a forwarded one.
    access_world, _ = world
    with serve(access_world, embedder) as client:
        for _ in range(3):
            assert_error(sign_in(client, "wrong password"), 401)
        assert_error(sign_in(client, PASSWORD, **{"X-Forwarded-For": "10.9.9.9"}), 429)


def test_forwarded_proto_from_an_untrusted_peer_does_not_make_the_cookie_secure(world, embedder):
    access_world, _ = world
    for behind_uvicorn in (False, True):
        with serve(access_world, embedder, behind_uvicorn) as client:
            signed_in = sign_in(client, PASSWORD, **{"X-Forwarded-Proto": "https"})
            assert signed_in.status_code == 200, signed_in.text
            assert "secure" not in signed_in.headers["set-cookie"].lower()


def test_a_trusted_proxy_names_the_client_and_the_scheme(world, embedder):
    access_world, _ = world
    with serve(access_world, embedder, trusted_proxies=("127.0.0.0/8",)) as client:
        # The client is the last address the trusted proxies were given; what the client
        # itself wrote in front of it ("6.6.6.6") is not believed.
        one = {"X-Forwarded-For": "6.6.6.6, 10.9.9.9"}
        for _ in range(3):
            assert_error(sign_in(client, "wrong password", **one), 401)
        assert_error(sign_in(client, PASSWORD, **one), 429)
        assert_error(sign_in(client, PASSWORD, **{"X-Forwarded-For": "10.9.9.9"}), 429)
        other = sign_in(
            client, PASSWORD, **{"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
        )
        assert other.status_code == 200, other.text
        cookie = other.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_an_untrusted_peer_through_a_trusted_one_is_not_trusted_further(world, embedder):
    access_world, _ = world
    with serve(access_world, embedder, trusted_proxies=("10.0.0.1",)) as client:
        # The peer (loopback) is not a trusted proxy: its headers say nothing.
        for i in range(3):
            headers = {"X-Forwarded-For": f"10.9.9.{i}, 10.0.0.1"}
            assert_error(sign_in(client, "wrong password", **headers), 401)
        assert_error(sign_in(client, PASSWORD, **{"X-Forwarded-For": "10.9.9.7"}), 429)


def test_trusted_proxies_must_be_addresses_or_networks(world, embedder):
    from matcher import ConfigError

    access_world, _ = world
    with pytest.raises(ConfigError, match="MATCHER_TRUSTED_PROXIES"):
        create_app(access_settings(access_world, trusted_proxies=("nginx.local",)), embedder)


# ---------------------------------------------------------------------- lock-outs


def test_wrong_passwords_for_one_user_do_not_lock_out_another(http):
    client, _ = http
    for _ in range(5):
        sign_in(client, "wrong password", username="u.admin")
    assert sign_in(client, PASSWORD).status_code == 200
    # The user who was attacked is still protected from this address.
    assert_error(sign_in(client, PASSWORD, username="u.admin"), 429)


def test_garbage_credentials_do_not_lock_out_a_valid_key(http):
    client, headers = http
    for _ in range(5):
        client.get("/api/v1/me", headers={"Authorization": "Bearer abc"})
    for _ in range(5):
        client.get("/api/v1/me", headers={"X-API-Key": "cgtm_0123456789ab_" + "B" * 43})
    for _ in range(5):
        client.get("/api/v1/me", headers={"Cookie": "matcher_session=forged"})
    me = client.get("/api/v1/me", headers=headers["researcher"])
    assert me.status_code == 200 and me.json()["username"] == RESEARCHER
    assert sign_in(client, PASSWORD).status_code == 200


def test_a_valid_key_is_never_refused_for_failures_with_its_id(http):
    client, headers = http
    key = headers["admin"]["Authorization"].removeprefix("Bearer ")
    wrong = {"X-API-Key": key[: -len("secret")] + "secret"}
    for _ in range(3):
        assert_error(client.get("/api/v1/me", headers=wrong), 401)
    limited = client.get("/api/v1/me", headers=wrong)
    assert_error(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert client.get("/api/v1/me", headers=headers["admin"]).status_code == 200


# ---------------------------------------------------------------------- one credential


@pytest.mark.parametrize(
    "second",
    [
        lambda h: {"Authorization": h["guest"]["Authorization"]},
        lambda h: {"Authorization": "Bearer garbage"},
        lambda h: {"X-API-Key": h["guest"]["Authorization"].removeprefix("Bearer ")},
    ],
    ids=["another user's key", "garbage", "a second X-API-Key"],
)
def test_an_api_key_with_another_authorization_is_refused(http, second):
    client, headers = http
    key = headers["admin"]["Authorization"].removeprefix("Bearer ")
    sent = [("X-API-Key", key), *second(headers).items()]
    error = assert_error(client.get("/api/v1/users", headers=sent), 400)
    assert error["code"] == "conflicting_credentials"


def test_a_key_with_another_users_session_is_refused(http):
    client, headers = http
    assert sign_in(client, PASSWORD).status_code == 200  # the researcher's session cookie
    both = client.get("/api/v1/users", headers=headers["admin"])
    assert assert_error(both, 400)["code"] == "conflicting_credentials"
    assert client.get("/api/v1/me").json()["username"] == RESEARCHER
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=headers["admin"]).json()["username"] == "u.admin"


def test_the_same_key_twice_is_one_credential(http):
    client, headers = http
    key = headers["admin"]["Authorization"].removeprefix("Bearer ")
    both = {"X-API-Key": key, "Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/me", headers=both).json()["username"] == "u.admin"
    # A proxy's own Basic sign-in, passed on, is not a credential of ours.
    basic = {"X-API-Key": key, "Authorization": "Basic dXNlcjpwYXNz"}
    assert client.get("/api/v1/me", headers=basic).json()["username"] == "u.admin"


def test_conflicting_credentials_are_documented(http):
    client, _ = http
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/v1/me", "get"),
        ("/api/v1/projects/{project_id}", "get"),
        ("/api/v1/users", "post"),
        ("/auth/logout", "post"),
        ("/health", "get"),
    ]:
        assert "conflicting_credentials" in paths[path][method]["responses"]["400"]["description"]


# ---------------------------------------------------------------------- status for anyone


def test_anonymous_callers_get_status_only(http):
    client, headers = http
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/version").json() == {"version": "0.2.0"}
    for role in ("admin", "guest"):
        health = client.get("/health", headers=headers[role]).json()
        assert health["counts"] == {"project": 5, "organisation": 2, "call": 1}
        version = client.get("/version", headers=headers[role]).json()
        assert version["indexes"]["project"]["data_hash"] and version["model"]
    assert_error(client.get("/health", headers={"Authorization": "Bearer nope"}), 401)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["Health"]["required"] == ["status"]
    assert schemas["Version"]["required"] == ["version"]


# ---------------------------------------------------------------------- the access log


KEY = "cgtm_0123456789ab_" + "S3cretS3cretS3cretS3cretS3cretS3cretS3cretX"


def test_the_access_log_redacts_keys(http):
    # uvicorn's access logger, called as uvicorn calls it (h11_impl, httptools_impl).
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    access = logging.getLogger("uvicorn.access")
    handler, level = Collect(), access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            f"/api/v1/me?api_key={KEY}&x=1",
            "1.1",
            422,
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert lines and "S3cret" not in lines[-1]
    assert "api_key=cgtm_0123456789ab_" in lines[-1] and "&x=1" in lines[-1]


# ---------------------------------------------------------------------- cookies and caches


def test_logout_clears_the_cookie_with_the_sign_in_attributes(http):
    client, _ = http
    signed_in = sign_in(client, PASSWORD)
    assert signed_in.headers["Cache-Control"] == "no-store"
    out = client.post("/auth/logout")
    assert out.status_code == 204
    cookie = out.headers["set-cookie"]
    assert "matcher_session=" in cookie and "Max-Age=0" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_logout_behind_a_trusted_https_proxy_clears_a_secure_cookie(world, embedder):
    access_world, _ = world
    https = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}
    with serve(access_world, embedder, trusted_proxies=("127.0.0.1",)) as client:
        signed_in = sign_in(client, PASSWORD, **https)
        client.cookies.set("matcher_session", signed_in.cookies["matcher_session"])
        out = client.post("/auth/logout", headers=https)
        assert out.status_code == 204, out.text
        assert "Secure" in out.headers["set-cookie"]


def test_every_authenticated_response_is_not_stored(http):
    client, headers = http
    for role, url in [
        ("admin", "/api/v1/projects"),
        ("admin", "/api/v1/projects/P-OTHER-CONF"),
        ("admin", "/api/v1/projects/P-OTHER-CONF/partners?k=2"),
        ("admin", "/api/v1/export/projects?k=1"),
        ("admin", "/api/v1/audit"),
        ("researcher", "/api/v1/projects/P-OTHER-CONF"),  # 404
        ("guest", "/api/v1/me"),
        ("guest", "/health"),
        ("guest", "/version"),
    ]:
        response = client.get(url, headers=headers[role])
        assert response.headers.get("Cache-Control") == "no-store", (role, url)
    searched = client.post(
        "/api/v1/search/projects", json={"text": "CAR-T manufacturing"}, headers=headers["admin"]
    )
    assert searched.status_code == 200 and searched.headers["Cache-Control"] == "no-store"
