import shutil
import sqlite3

import numpy as np
import pytest

from matcher import EntityKind, InvalidRecord, NotFound, Store, StoreError, parse_project
from matcher.store import MIGRATIONS
from tests.conftest import make_organisation, make_project


def test_new_store_is_migrated_with_wal_and_foreign_keys(tmp_path):
    with Store(tmp_path / "sub" / "m.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        db = sqlite3.connect(tmp_path / "sub" / "m.db")
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_newer_schema_is_refused(tmp_path):
    Store(tmp_path / "m.db").close()
    db = sqlite3.connect(tmp_path / "m.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StoreError, match="Upgrade"):
        Store(tmp_path / "m.db")


def test_upsert_adds_updates_and_keeps_entity_rowids(tmp_path):
    with Store(tmp_path / "m.db") as store:
        project = parse_project(make_project())
        assert store.upsert([project]).added == 1
        rowid = store.rowids(EntityKind.PROJECT)["P-1"]
        edited = parse_project(make_project(abstract="A new abstract. Two sentences."))
        assert store.upsert([edited]).updated == 1
        assert store.rowids(EntityKind.PROJECT)["P-1"] == rowid
        assert store.get("P-1") == edited
        assert [d.text for d in store.documents(EntityKind.PROJECT)] == [edited.documents()[0].text]


def test_an_id_cannot_change_kind(tmp_path):
    from matcher import parse_organisation

    with Store(tmp_path / "m.db") as store:
        store.upsert([parse_project(make_project(id="X-1"))])
        with pytest.raises(InvalidRecord, match="already used by a stored project"):
            store.upsert([parse_organisation(make_organisation(id="X-1"))])


def test_delete_cascades_to_documents(tmp_path):
    with Store(tmp_path / "m.db") as store:
        store.upsert([parse_project(make_project())])
        store.delete("P-1")
        assert store.documents(EntityKind.PROJECT) == []
        with pytest.raises(NotFound):
            store.get("P-1")


def test_data_hash_changes_with_indexed_text_only(tmp_path):
    with Store(tmp_path / "m.db") as store:
        store.upsert([parse_project(make_project())])
        before = store.data_hash(EntityKind.PROJECT)
        store.upsert([parse_project(make_project(visibility="public"))])
        assert store.data_hash(EntityKind.PROJECT) == before
        store.upsert([parse_project(make_project(abstract="Different words entirely."))])
        assert store.data_hash(EntityKind.PROJECT) != before


def test_vector_cache_round_trip(tmp_path):
    with Store(tmp_path / "m.db") as store:
        vector = np.arange(4, dtype=np.float32)
        store.cache_vectors("m", {"h1": vector})
        found = store.cached_vectors("m", ["h1", "h2"])
        assert list(found) == ["h1"]
        np.testing.assert_array_equal(found["h1"], vector)
        assert store.cached_vectors("other-model", ["h1"]) == {}


def test_each_database_has_its_own_lasting_identity(tmp_path):
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        first = a.database_id
        assert len(first) == 32 and first != b.database_id
    with Store(tmp_path / "a.db") as again:
        assert again.database_id == first
    shutil.copy(tmp_path / "a.db", tmp_path / "copy.db")  # a backup is the same database
    with Store(tmp_path / "copy.db") as copy:
        assert copy.database_id == first


def test_a_database_from_before_identities_gets_one_when_migrated(tmp_path):
    db = sqlite3.connect(tmp_path / "m.db")
    db.executescript(";\n".join(MIGRATIONS[:2]) + ";\nPRAGMA user_version = 2;")
    db.close()
    with Store(tmp_path / "m.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert len(store.database_id) == 32


def test_every_id_used_by_another_kind_is_listed_and_nothing_stored(tmp_path):
    from matcher import InvalidRecords, parse_organisation

    with Store(tmp_path / "m.db") as store:
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
