"""The derived state of each collection (BM25, TF-IDF, phrases, facets, registry facts, the
neighbour index) is saved beside its FAISS index by `matcher build` and read back, mapped from
disk, by every process that opens the indexes; a state that no longer matches the store, its
manifest or this code is derived anew, and a foreign object in it is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matcher import DocumentEncoder, EntityKind, Recommender, SentenceTransformerEmbedder, Store
from matcher.build import build_indexes, index_dir
from matcher.ranking.saved import BUFFERS_FILE, MANIFEST_FILE, STATE_FILE, SavedState
from matcher.records import parse_organisation
from tests.conftest import TODAY, make_organisation

pytestmark = pytest.mark.both_databases


def opened(store: Store, embedder: SentenceTransformerEmbedder, models: Path) -> Recommender:
    return Recommender.open(store, DocumentEncoder(embedder, store), models, today=lambda: TODAY)


def rankings(recommender: Recommender) -> list[list[tuple[str, float]]]:
    out = []
    for project in recommender.entities(EntityKind.PROJECT):
        ranking = recommender.partners_for(project.id, k=5)
        out.append([(m.id, m.score) for m in ranking.matches])
        calls = recommender.calls_for(project.id, k=3)
        out.append([(m.id, m.score) for m in calls.matches])
    return out


def test_a_build_saves_the_state_and_servers_map_it(
    store: Store, embedder: SentenceTransformerEmbedder, world: Path
) -> None:
    models = world / "models"
    for kind in EntityKind:
        directory = index_dir(models, kind)
        for name in (STATE_FILE, BUFFERS_FILE, MANIFEST_FILE):
            assert (directory / name).is_file(), (kind, name)
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        assert manifest["neighbours"]["kind"] == "flat" and manifest["bytes"] > 0
    recommender = opened(store, embedder, models)
    organisations = recommender.collections[EntityKind.ORGANISATION]
    assert organisations.from_saved
    # Read-only pages of derived.bin, not copies.
    assert not organisations.doc_vectors.flags.writeable
    assert not organisations.facet_matrix.data.flags.writeable
    for state in (STATE_FILE, BUFFERS_FILE, MANIFEST_FILE):
        (index_dir(models, EntityKind.ORGANISATION) / state).unlink()
    derived = opened(store, embedder, models)
    assert not derived.collections[EntityKind.ORGANISATION].from_saved
    assert rankings(recommender) == rankings(derived)
    # Deriving it saved it again, for the next process.
    assert opened(store, embedder, models).collections[EntityKind.ORGANISATION].from_saved


def test_a_changed_organisation_makes_the_state_stale(
    store: Store, embedder: SentenceTransformerEmbedder, world: Path
) -> None:
    models = world / "models"
    before = opened(store, embedder, models)
    first = before.entities(EntityKind.ORGANISATION)[0]
    record = make_organisation(id=first.id, name=first.name, capabilities=["biomaterials"])
    store.upsert([parse_organisation(record)])
    build_indexes(store, DocumentEncoder(embedder, store), models)
    after = opened(store, embedder, models)
    organisations = after.collections[EntityKind.ORGANISATION]
    assert organisations.from_saved  # saved again by the build
    position = organisations.positions[first.id]
    assert (
        organisations.texts[position] != before.collections[EntityKind.ORGANISATION].texts[position]
    )
    assert "biomaterials" in organisations.texts[position]
    # The facets saved are the new record's.
    assert any(f.value == "biomaterials" for f in organisations.facets[position])


def test_a_damaged_state_is_derived_anew(
    store: Store, embedder: SentenceTransformerEmbedder, world: Path
) -> None:
    models = world / "models"
    reference = rankings(opened(store, embedder, models))
    buffers = index_dir(models, EntityKind.ORGANISATION) / BUFFERS_FILE
    blob = bytearray(buffers.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    buffers.write_bytes(bytes(blob))
    recommender = opened(store, embedder, models)
    assert not recommender.collections[EntityKind.ORGANISATION].from_saved
    assert rankings(recommender) == reference


def test_a_state_holding_anything_but_its_own_classes_is_refused(tmp_path: Path) -> None:
    saved = SavedState(tmp_path, key="k")
    saved.save({"doc_vectors": np.ones((2, 3), dtype=np.float32)})
    loaded = saved.load()
    assert loaded is not None and loaded["doc_vectors"].shape == (2, 3)
    assert SavedState(tmp_path, key="another").load() is None
    # A state rewritten to call something else on loading, manifest and checksums included.
    saved.save({"evil": print})
    assert b"print" in (tmp_path / STATE_FILE).read_bytes()
    assert saved.load() is None
