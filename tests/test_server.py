"""The API once through a real uvicorn process over HTTP on loopback; and who the client is
(forwarded headers, trusted proxies) and what the access log keeps, as uvicorn really serves."""

import contextlib
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from matcher import Store, set_password
from tests.conftest import TODAY, add_user


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_uvicorn_serves_matches_over_http(world, tmp_path):
    port = free_port()
    headers = add_user(world / "matcher.db", "bd", "bizdev")
    log = (tmp_path / "server.log").open("wb")
    env = {
        **os.environ,
        "MATCHER_DB_PATH": str(world / "matcher.db"),
        "MATCHER_MODELS_DIR": str(world / "models"),
        "MATCHER_TODAY": TODAY.isoformat(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--port",
            str(port),
            "--load",
            str(world / "data"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not start in 90 s"
            time.sleep(0.3)
        anonymous = httpx.get(f"{base}/api/v1/projects/P-2/partners", timeout=30)
        assert anonymous.status_code == 401
        response = httpx.get(
            f"{base}/api/v1/projects/P-2/partners", params={"k": 2}, headers=headers, timeout=30
        )
        assert response.status_code == 200
        assert response.json()["matches"][0]["id"] == "O-CELL"
        missing = httpx.get(f"{base}/api/v1/projects/nope/calls", headers=headers, timeout=30)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


# ---------------------------------------------------------------------- issue 11: who the client is

PASSWORD = "a long enough secret"
KEY_SECRET = "S3cretS3cretS3cretS3cretS3cretS3cretS3cretX"
DIRECT = (
    "import os, sys, uvicorn; from matcher import Settings; from service.app import create_app; "
    "uvicorn.run(create_app(Settings.from_env(os.environ)), host='127.0.0.1', "
    "port=int(sys.argv[1]))"
)
"""uvicorn run directly, with its defaults (which believe X-Forwarded-* from loopback)."""


@contextlib.contextmanager
def serving(world, tmp_path, command, **env):
    """A server process on a free loopback port: yields its base URL and the path of its log,
    complete once the block has ended."""
    port = free_port()
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    environment = {
        **os.environ,
        "MATCHER_DB_PATH": str(world / "matcher.db"),
        "MATCHER_MODELS_DIR": str(world / "models"),
        "MATCHER_TODAY": TODAY.isoformat(),
        "MATCHER_AUTH_FAILURES": "3",
        **env,
    }
    argv = [sys.executable, *command(port)]
    server = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not start in 90 s"
            time.sleep(0.3)
        yield base, log_path
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def matcher_serve(port):
    return ["-m", "service.cli", "serve", "--port", str(port)]


def uvicorn_run(port):
    return ["-c", DIRECT, str(port)]


def with_password(world, username="u.web"):
    headers = add_user(world / "matcher.db", username, "researcher")
    with Store(world / "matcher.db") as store:
        set_password(store, username, PASSWORD)
    return headers


def sign_in(base, password, username="u.web", **headers):
    body = {"username": username, "password": password}
    return httpx.post(f"{base}/auth/login", json=body, headers=headers, timeout=30)


def access_lines(log_path, path="/"):
    """The access log's lines for requests to paths that start with `path`."""
    lines = log_path.read_text().splitlines()
    return [line for line in lines if f'"GET {path}' in line or f'"POST {path}' in line]


@pytest.mark.slow
def test_matcher_serve_takes_the_client_from_the_connection(world, tmp_path):
    headers = with_password(world)
    with serving(world, tmp_path, matcher_serve) as (base, log_path):
        forged = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}
        signed_in = sign_in(base, PASSWORD, **forged)
        assert signed_in.status_code == 200
        assert "secure" not in signed_in.headers["set-cookie"].lower()
        for _ in range(3):
            assert sign_in(base, "wrong password").status_code == 401
        # The probe: after the limit, a forwarded address got 200 for the correct password.
        assert sign_in(base, PASSWORD, **forged).status_code == 429
        # A key in the query string is refused, and kept out of the log.
        leaked = f"cgtm_0123456789ab_{KEY_SECRET}"
        assert httpx.get(f"{base}/api/v1/me?api_key={leaked}", timeout=30).status_code >= 400
        assert httpx.get(f"{base}/api/v1/me", headers=headers, timeout=30).status_code == 200
    lines = access_lines(log_path)
    assert len(lines) >= 7, log_path.read_text()
    assert all("127.0.0.1:" in line for line in lines), lines
    text = log_path.read_text()
    assert "10.9.9.9" not in text and KEY_SECRET not in text
    assert "api_key=cgtm_0123456789ab_" in text


@pytest.mark.slow
def test_uvicorn_run_directly_believes_no_forwarded_headers_either(world, tmp_path):
    with_password(world)
    with serving(world, tmp_path, uvicorn_run) as (base, log_path):
        https = sign_in(base, PASSWORD, **{"X-Forwarded-Proto": "https"})
        assert https.status_code == 200
        assert "secure" not in https.headers["set-cookie"].lower()
        # The probe: 25 wrong passwords from 25 forwarded addresses never reached 429.
        statuses = [
            sign_in(base, "wrong", **{"X-Forwarded-For": f"10.9.9.{i}"}).status_code
            for i in range(25)
        ]
        assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}
        leaked = f"cgtm_0123456789ab_{KEY_SECRET}"
        assert httpx.get(f"{base}/health?key={leaked}", timeout=30).status_code == 422
    text = log_path.read_text()
    assert "10.9.9." not in text and KEY_SECRET not in text, text


@pytest.mark.slow
def test_matcher_serve_behind_a_trusted_proxy_takes_the_forwarded_client(world, tmp_path):
    with_password(world)
    env = {"MATCHER_TRUSTED_PROXIES": "127.0.0.1, ::1"}
    with serving(world, tmp_path, matcher_serve, **env) as (base, log_path):
        one = {"X-Forwarded-For": "6.6.6.6, 10.9.9.1", "X-Forwarded-Proto": "https"}
        for _ in range(3):
            assert sign_in(base, "wrong", **one).status_code == 401
        assert sign_in(base, PASSWORD, **one).status_code == 429
        other = sign_in(base, PASSWORD, **{**one, "X-Forwarded-For": "10.9.9.2"})
        assert other.status_code == 200
        assert "secure" in other.headers["set-cookie"].lower()
    lines = access_lines(log_path, "/auth/login")
    assert len(lines) == 5 and all("10.9.9.1:" in line for line in lines[:-1]), lines
    assert "10.9.9.2:" in lines[-1] and "6.6.6.6" not in log_path.read_text()
