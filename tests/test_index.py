import json

import numpy as np
import pytest

from matcher import ForeignIndex, IndexNotBuilt, StaleIndex, VectorIndex
from matcher.vectors.index import new_manifest

DB = {"database_id": "3f2a" * 8, "database": "var/demo.db"}


def unit(rows):
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture
def saved(tmp_path):
    index = VectorIndex(3)
    index.add([101, 7, 55], unit([[1, 0, 0], [0, 1, 0], [1, 1, 0]]))
    index.save(tmp_path, new_manifest("organisation", "model-a", "hash-1", **DB))
    return tmp_path


def test_ids_are_store_ids(saved):
    index, manifest = VectorIndex.load(
        saved, kind="organisation", model="model-a", data_hash="hash-1", **DB
    )
    _, ids = index.search(unit([[1, 0.1, 0]]), 3)
    assert ids[0].tolist() == [101, 55, 7]
    assert sorted(index.ids.tolist()) == [7, 55, 101]
    np.testing.assert_allclose(index.vectors([7]), unit([[0, 1, 0]]))
    assert (manifest.count, manifest.dim, manifest.model) == (3, 3, "model-a")
    with pytest.raises(KeyError):
        index.vectors([999])


def test_manifest_is_written_and_no_temp_files_remain(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert {"model", "dim", "count", "data_hash", "built_at", "database_id", "database"} <= set(
        manifest
    )
    assert sorted(p.name for p in saved.iterdir()) == ["index.faiss", "manifest.json"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"kind": "organisation", "model": "model-b", "data_hash": "hash-1"}, "model"),
        ({"kind": "organisation", "model": "model-a", "data_hash": "hash-2"}, "data changed"),
        ({"kind": "call", "model": "model-a", "data_hash": "hash-1"}, "indexes organisation"),
    ],
)
def test_load_refuses_a_stale_index_with_the_fix(saved, kwargs, reason):
    with pytest.raises(StaleIndex) as caught:
        VectorIndex.load(saved, **kwargs, **DB)
    assert reason in str(caught.value)
    assert "Rebuild the indexes" in str(caught.value)


def test_an_index_that_does_not_match_its_manifest_is_refused(saved):
    other = VectorIndex(3)
    other.add([1], unit([[0, 0, 1]]))
    import faiss

    (saved / "index.faiss").write_bytes(faiss.serialize_index(other._index).tobytes())
    with pytest.raises(StaleIndex, match="does not match its manifest"):
        VectorIndex.load(saved, kind="organisation", model="model-a", data_hash="hash-1", **DB)


def test_missing_index_says_to_build(tmp_path):
    with pytest.raises(IndexNotBuilt, match="build the indexes first"):
        VectorIndex.load(tmp_path, kind="call", model="m", data_hash="h", **DB)


def test_an_index_of_another_database_is_refused_naming_both(saved):
    with pytest.raises(ForeignIndex) as caught:
        VectorIndex.load(
            saved,
            kind="organisation",
            model="model-a",
            data_hash="hash-2",
            database_id="9c1b" * 8,
            database="var/matcher.db",
        )
    message = str(caught.value)
    assert f"{saved} was built from var/demo.db (database 3f2a3f2a)" in message
    assert "not from var/matcher.db (database 9c1b9c1b)" in message
    assert "Rebuild the indexes" in message and "MATCHER_DB_PATH=var/demo.db" in message
    assert "stale" not in message


def test_a_database_recreated_at_the_same_path_is_told_apart(saved):
    with pytest.raises(ForeignIndex) as caught:
        VectorIndex.load(
            saved,
            kind="organisation",
            model="model-a",
            data_hash="hash-1",
            database_id="9c1b" * 8,
            database="var/demo.db",
        )
    assert "earlier database at var/demo.db (database 3f2a3f2a)" in str(caught.value)
    assert "MATCHER_DB_PATH" not in str(caught.value)


def test_a_manifest_that_records_no_database_is_stale(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    del manifest["database_id"], manifest["database"]  # as older releases wrote it
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StaleIndex) as caught:
        VectorIndex.load(saved, kind="organisation", model="model-a", data_hash="hash-1", **DB)
    assert not isinstance(caught.value, ForeignIndex)
    assert f"The index in {saved} is stale" in str(caught.value)
    assert "does not record the database" in str(caught.value)
    assert "Rebuild the indexes" in str(caught.value)


def test_a_server_does_not_rebuild_a_models_folder_while_a_build_writes_it(settings, embedder):
    from matcher import DocumentEncoder, Store, rebuild_from_cache
    from matcher.build import _building

    with Store(settings.database) as store:
        encoder = DocumentEncoder(embedder, store)
        with _building(settings.models_dir, wait=True):  # as `matcher build` holds it
            assert rebuild_from_cache(store, encoder, settings.models_dir) is False
        assert rebuild_from_cache(store, encoder, settings.models_dir) is True
