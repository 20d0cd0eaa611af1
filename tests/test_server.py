"""The API once through a real uvicorn process over HTTP on loopback."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

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
