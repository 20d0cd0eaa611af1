"""Schemathesis over the whole OpenAPI schema, through a real uvicorn server on loopback,
authenticated as each role: no 5xx, no response outside its schema, no undocumented status.

`make test` runs FUZZ_EXAMPLES examples per operation and role (default 8); `make fuzz` runs 500."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from matcher import Settings
from service.app import create_app
from tests.conftest import CANARY_OTHER, access_settings, add_principals

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
REPORT = os.environ.get("FUZZ_REPORT")
"""Where to write how many requests each operation and role got, as JSON (`make fuzz`)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def server(built_access_world, embedder, tmp_path_factory):
    import uvicorn

    world = tmp_path_factory.mktemp("fuzz") / "world"
    shutil.copytree(built_access_world, world)
    # Fuzzed sign-ins fail by design; the limiter is tested on its own (test_access.py).
    config = access_settings(world, auth_failures=1_000_000, expensive_per_minute=1_000_000)
    headers = add_principals(config.db_path)
    with socket_port() as port:
        server = uvicorn.Server(
            uvicorn.Config(create_app(config, embedder), host="127.0.0.1", port=port,
                           log_level="warning", lifespan="on")
        )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    tally: Counter[str] = Counter()
    yield f"http://127.0.0.1:{port}", headers, tally
    server.should_exit = True
    thread.join(timeout=30)
    if REPORT:
        by_operation = dict(sorted(tally.items()))
        summary = {"examples_per_operation_and_role": EXAMPLES, "requests": by_operation,
                   "operations": len({k.split(" as ")[0] for k in tally}),
                   "total": sum(tally.values())}  # fmt: skip
        Path(REPORT).write_text(json.dumps(summary, indent=1))


class socket_port:
    """A free loopback port (released before uvicorn binds it)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("role", ["admin", "bizdev", "researcher", "guest"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CI") == "true",
)
def test_api_conforms_to_its_schema(case, server, role):
    base_url, headers, tally = server
    tally[f"{case.operation.label} as {role}"] += 1
    response = case.call_and_validate(base_url=base_url, headers=headers[role], checks=CHECKS)
    if role in ("guest", "researcher"):
        assert CANARY_OTHER not in response.text
