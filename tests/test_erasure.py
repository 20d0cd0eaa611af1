"""Erasure: after `matcher erase`, no search, match, listing or export finds the record, the
cache and the indexes no longer hold it, and the ledger lets a restored backup erase it again."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from matcher import (
    DocumentEncoder,
    EntityKind,
    NotFound,
    Recommender,
    Store,
    authenticate,
    erase,
    ledger_path,
    read_manifest,
)
from matcher.text import content_hash
from service.app import create_app
from service.cli import main
from tests.conftest import CANARY_OTHER, TODAY, access_settings, add_principals, use_database

pytestmark = pytest.mark.both_databases

ERASED = "P-OTHER-CONF"


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


def every_endpoint(client, headers):
    """Everything the API can return for the erased project's unique terms, in every direction."""
    text = f"{CANARY_OTHER} dual CAR-T glioblastoma intracranial persistence"
    requests = [
        ("get", f"/api/v1/projects/{ERASED}", None),
        ("get", f"/api/v1/projects/{ERASED}/partners", None),
        ("get", f"/api/v1/projects/{ERASED}/calls", None),
        ("get", "/api/v1/projects?limit=500", None),
        ("get", "/api/v1/organisations/O-SITE/projects?k=100", None),
        ("get", "/api/v1/organisations/O-GUEST/projects?k=100", None),
        ("get", "/api/v1/calls/C-CART/projects?k=100", None),
        ("post", "/api/v1/search/projects", {"text": text, "k": 100}),
        ("post", "/api/v1/search/partners", {"text": text, "k": 100}),
        ("post", "/api/v1/search/calls", {"text": text, "k": 100}),
        ("get", "/api/v1/export/projects?k=20", None),
    ]
    return {
        url: client.request(method, url, json=body, headers=headers)
        for method, url, body in requests
    }


def test_erased_project_is_gone_from_every_direction(env, embedder):
    headers = add_principals(env.database)["admin"]
    with TestClient(create_app(env, embedder)) as client:
        before = every_endpoint(client, headers)
        assert CANARY_OTHER in before["/api/v1/export/projects?k=20"].text
        assert ERASED in before["/api/v1/organisations/O-SITE/projects?k=100"].text
        with Store(env.database) as store:  # another connection, as `matcher erase` would be
            erase(
                store,
                DocumentEncoder(embedder, store),
                env.models_dir,
                "project",
                ERASED,
                "dpo",
                ledger_path(env.db_path),
            )
        # The server has not reloaded yet: the store filters what its indexes still hold.
        after = every_endpoint(client, headers)
    check_gone(after)
    # A fresh start serves from the rebuilt indexes.
    with TestClient(create_app(env, embedder)) as client:
        check_gone(every_endpoint(client, headers))


def check_gone(responses):
    for url, response in responses.items():
        if ERASED in url:  # asked for by id: 404, echoing only the id asked for
            assert response.status_code == 404, url
            assert response.json()["error"]["message"].startswith(f"No project with id '{ERASED}'")
            continue
        assert response.status_code == 200, (url, response.text)
        assert ERASED not in response.text, url
        if not url.startswith("/api/v1/search"):  # a search echoes the caller's own text
            assert CANARY_OTHER not in response.text, url


def test_erase_cleans_store_cache_indexes_and_writes_a_ledger(env, embedder):
    with Store(env.database) as store:
        encoder = DocumentEncoder(embedder, store)
        project = store.get(ERASED)
        units = encoder.units([d.text for d in project.documents()])
        assert store.cached_vectors(embedder.name, [content_hash(u) for u in units])
        documents_before = read_manifest(env.models_dir / "projects").count
    output = cli("erase", "project", ERASED, "--by", "dpo", "--yes")
    assert "ledger entry 1" in output
    with Store(env.database) as store:
        with pytest.raises(NotFound):
            store.get(ERASED)
        assert not store.cached_vectors(embedder.name, [content_hash(u) for u in units])
        assert all(d.entity_id != ERASED for d in store.documents(EntityKind.PROJECT))
        [entry] = store.erasures()
        assert (entry.kind, entry.object_id, entry.by) == ("project", ERASED, "dpo")
        # The indexes were rebuilt without it and are current.
        recommender = Recommender.open(store, DocumentEncoder(embedder, store), env.models_dir)
        assert ERASED not in recommender.collections[EntityKind.PROJECT].positions
    assert read_manifest(env.models_dir / "projects").count == documents_before - 1
    ledger = ledger_path(env.db_path).read_text()
    [line] = [json.loads(raw) for raw in ledger.splitlines()]
    assert set(line) == {"at", "by", "kind", "id"}
    assert line["id"] == ERASED and "glioblastoma" not in ledger and CANARY_OTHER not in ledger
    # Nothing on disk still holds the text: database (with its WAL) and indexes.
    for path in env.db_path.parent.rglob("*"):
        if path.is_file() and "data" not in path.parts:
            assert CANARY_OTHER.encode() not in path.read_bytes(), path
    listed = cli("list", "projects")
    searched = cli("search", CANARY_OTHER + " glioblastoma", "--to", "projects", "-k", "100")
    assert ERASED not in listed and ERASED not in searched


@pytest.mark.sqlite_only  # a file copy as the backup; the replay is the same on PostgreSQL
def test_a_restored_backup_is_erased_again_and_loading_leaves_it_out(env, access_world):
    backup = access_world / "backup.db"
    with Store(env.database):
        pass  # brings the schema up to date before the copy
    shutil.copy(env.db_path, backup)
    cli("erase", "project", ERASED, "--yes")
    shutil.copy(backup, env.db_path)  # the restore brings the record back
    for suffix in ("-wal", "-shm"):
        env.db_path.with_name(env.db_path.name + suffix).unlink(missing_ok=True)
    with Store(env.database) as store:
        assert store.get(ERASED).id == ERASED
    assert "Re-applied 1 erasures" in cli("erase", "--replay", "--yes")
    assert "Re-applied 0 erasures" in cli("erase", "--replay", "--yes")
    loaded = cli("load", str(access_world / "data"))
    assert f"left out 1 erased records: {ERASED}" in loaded
    with Store(env.database) as store, pytest.raises(NotFound):
        store.get(ERASED)


def test_erasing_an_organisation_removes_it_from_partner_matches(env, embedder):
    headers = add_principals(env.database)["bizdev"]
    cli("erase", "organisation", "O-SITE", "--yes")
    with TestClient(create_app(env, embedder)) as client:
        partners = client.get("/api/v1/projects/P-PUBLIC/partners", headers=headers).json()
        assert [m["id"] for m in partners["matches"]] == ["O-GUEST"]
        assert client.get("/api/v1/organisations/O-SITE", headers=headers).status_code == 404


def test_erasing_a_user_ends_their_keys_and_pseudonymises_the_audit(env, embedder):
    principals = add_principals(env.database)
    key = principals["researcher"]["Authorization"].removeprefix("Bearer ")
    with TestClient(create_app(env, embedder)) as client:
        read = client.get("/api/v1/projects/P-OWN-CONF", headers=principals["researcher"])
        assert read.status_code == 200
        cli("erase", "user", "u.res", "--yes")
        me = client.get("/api/v1/me", headers=principals["researcher"])
        assert me.status_code == 401
    with Store(env.database) as store:
        with pytest.raises(Exception, match="not valid"):
            authenticate(store, key)
        actors = {e.actor for e in store.audit()}
        assert "u.res" not in actors and "erased-user-1" in actors


def test_erase_refuses_unknown_kinds_and_ids(env):
    result = CliRunner().invoke(main, ["erase", "project", "P-NOPE", "--yes"])
    assert result.exit_code == 1 and "No project with id 'P-NOPE'" in result.output
    result = CliRunner().invoke(main, ["erase", "call", "C-CART", "--yes"])
    assert result.exit_code == 2  # calls are public texts: nothing to erase
    assert not ledger_path(env.db_path).exists()


def test_a_running_server_reloads_the_indexes_after_an_erasure(env, embedder, monkeypatch):
    import time

    headers = add_principals(env.database)["admin"]
    with TestClient(create_app(replace(env, follow_seconds=0.1), embedder)) as client:
        # Counts are for signed-in callers (issue 11).
        assert client.get("/health", headers=headers).json()["counts"]["project"] == 5
        cli("erase", "project", ERASED, "--yes")
        deadline = time.monotonic() + 20
        while client.get("/health", headers=headers).json()["counts"]["project"] != 4:
            assert time.monotonic() < deadline, "the server did not reload its indexes"
            time.sleep(0.1)
        gate = client.app.state.gate
        assert ERASED not in gate.recommender.collections[EntityKind.PROJECT].positions
        assert client.get("/api/v1/projects", headers=headers).json()["total"] == 4


def test_loaded_indexes_stay_out_of_full_collections_and_reloads_free_them(
    env, embedder, monkeypatch
):
    import gc
    import time
    import weakref

    gc.unfreeze()
    headers = add_principals(env.database)["admin"]
    with TestClient(create_app(replace(env, follow_seconds=0.1), embedder)) as client:
        assert gc.get_freeze_count() > 0  # the indexes loaded at start are frozen
        old = weakref.ref(client.app.state.gate.recommender)
        cli("erase", "project", ERASED, "--yes")
        deadline = time.monotonic() + 20
        while client.get("/health", headers=headers).json()["counts"]["project"] != 4:
            assert time.monotonic() < deadline, "the server did not reload its indexes"
            time.sleep(0.1)
        gc.collect()
        # Frozen before the reload, the old indexes are still freed (no reference is left).
        assert old() is None
    gc.unfreeze()


def test_an_admin_reindex_swaps_indexes_the_same_way(env, embedder):
    """One reload path: the admin route, like the follower, settles the new indexes out of the
    collector's full passes and keeps no reference to the old ones."""
    import gc
    import weakref

    gc.unfreeze()
    headers = add_principals(env.database)["admin"]
    with TestClient(create_app(env, embedder)) as client:
        old = weakref.ref(client.app.state.gate.recommender)
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        assert client.post("/api/v1/admin/reindex", headers=headers).status_code == 200
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert old() is None and client.app.state.gate.recommender is not None
    gc.unfreeze()


def test_the_ledger_is_listed_by_command_and_admin_route(env, embedder):
    assert "No erasures" in cli("erasures")
    headers = add_principals(env.database)
    cli("erase", "project", ERASED, "--by", "dpo", "--yes")
    cli("erase", "user", "u.res", "--by", "dpo", "--yes")
    listed = cli("erasures").splitlines()
    assert [line.split("\t")[0:1] + line.split("\t")[2:] for line in listed] == [
        ["1", "dpo", "project", ERASED],
        ["2", "dpo", "user", "u.res"],
    ]
    with TestClient(create_app(env, embedder)) as client:
        response = client.get("/api/v1/erasures", headers=headers["admin"])
        assert response.status_code == 200, response.text
        entries = response.json()
        assert [set(e) for e in entries] == [{"id", "at", "by", "kind", "object_id"}] * 2
        assert [(e["by"], e["kind"], e["object_id"]) for e in entries] == [
            ("dpo", "project", ERASED),
            ("dpo", "user", "u.res"),
        ]
        assert CANARY_OTHER not in response.text and "glioblastoma" not in response.text
        for role in ("bizdev", "guest"):
            assert client.get("/api/v1/erasures", headers=headers[role]).status_code == 403
        assert client.get("/api/v1/erasures").status_code == 401
