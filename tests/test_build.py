"""`build_indexes` brings saved indexes up to date in place, on SQLite and on PostgreSQL: a
build after no change embeds nothing and writes nothing; an edit, an addition and an erasure
embed only the new texts and change only their vectors; the result holds exactly what a build
from scratch holds; an index that cannot be updated (no contents file, one that does not match
its manifest, another model) is built afresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from matcher import DocumentEncoder, EntityKind, Recommender, Store, build_indexes
from matcher.build import index_dir
from matcher.records import parse_organisation
from matcher.vectors.index import CONTENTS_FILE, INDEX_FILE, VectorIndex, read_manifest
from tests.conftest import make_organisation

pytestmark = pytest.mark.both_databases


def files(models: Path) -> dict[str, bytes]:
    return {str(p.relative_to(models)): p.read_bytes() for p in models.rglob("*") if p.is_file()}


def saved_vectors(store: Store, models: Path, kind: EntityKind) -> dict[int, np.ndarray]:
    directory = index_dir(models, kind)
    index, _ = VectorIndex.load(
        directory, kind=kind.value, model=read_manifest(directory).model,
        data_hash=store.data_hash(kind), database_id=store.database_id, database=store.location,
    )  # fmt: skip
    return dict(zip(index.ids.tolist(), index.vectors(index.ids), strict=True))


def test_a_build_after_no_change_embeds_nothing_and_writes_nothing(store, settings, embedder):
    models = settings.models_dir
    before = files(models)
    reports = build_indexes(store, DocumentEncoder(embedder, store), models)
    assert [(r.rebuilt, r.embedded, r.indexed, r.removed) for r in reports] == [
        (False, 0, 0, 0)
    ] * len(EntityKind)
    assert files(models) == before


def test_an_edit_an_addition_and_an_erasure_update_only_their_vectors(
    store, settings, embedder, tmp_path
):
    models = settings.models_dir
    old = saved_vectors(store, models, EntityKind.ORGANISATION)
    projects_before = (index_dir(models, EntityKind.PROJECT) / INDEX_FILE).read_bytes()
    edited = make_organisation(
        id="O-VEC", name="Example Vector Works",
        documents=[{"title": "Capabilities", "text": "Lentiviral vector fill and finish, 50 L."}],
    )  # fmt: skip
    added = make_organisation(
        id="O-NEW", name="Nordic Tissue Foundry", kind="cdmo", country="SE",
        documents=[{"title": "Profile", "text": "Tissue-engineered cartilage grafts under GMP."}],
    )  # fmt: skip
    store.upsert([parse_organisation(edited), parse_organisation(added)])
    store.erase("organisation", "O-EYE", "admin")
    encoder = DocumentEncoder(embedder, store)
    reports = {r.kind: r for r in build_indexes(store, encoder, models, sentences=False)}

    organisations = reports["organisation"]
    assert not organisations.rebuilt
    assert organisations.indexed == 2  # the edited document and the new one
    assert organisations.removed >= 2  # the edited document's old text, O-EYE's documents
    assert 0 < organisations.embedded <= 2  # new texts only; nothing cached was embedded again
    assert (reports["project"].indexed, reports["call"].indexed) == (0, 0)
    assert (index_dir(models, EntityKind.PROJECT) / INDEX_FILE).read_bytes() == projects_before

    new = saved_vectors(store, models, EntityKind.ORGANISATION)
    documents = store.documents(EntityKind.ORGANISATION)
    assert set(new) == {d.rowid for d in documents}  # exactly the store's ids
    unchanged = {d.rowid for d in documents if d.entity_id == "O-CELL"}
    assert unchanged and all(np.array_equal(new[i], old[i]) for i in unchanged)
    changed = [d for d in documents if d.entity_id in ("O-VEC", "O-NEW")]
    expected = encoder.encode([d.text for d in changed])
    assert np.allclose(np.stack([new[d.rowid] for d in changed]), expected, atol=1e-6)

    # The same as a build from scratch, and the recommender loads it.
    scratch = tmp_path / "scratch"
    build_indexes(store, encoder, scratch, sentences=False)
    fresh = saved_vectors(store, scratch, EntityKind.ORGANISATION)
    assert set(fresh) == set(new)
    assert all(np.allclose(fresh[i], new[i], atol=1e-6) for i in fresh)
    recommender = Recommender.open(store, encoder, models)
    assert "O-NEW" in recommender.collections[EntityKind.ORGANISATION].positions


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", ["missing", "tampered"])
def test_an_index_whose_contents_cannot_be_trusted_is_built_afresh(
    store, settings, embedder, damage
):
    models = settings.models_dir
    contents = index_dir(models, EntityKind.CALL) / CONTENTS_FILE
    if damage == "missing":
        contents.unlink()
    else:
        contents.write_text(contents.read_text().replace('"', "'", 2))
    reports = {r.kind: r for r in build_indexes(store, DocumentEncoder(embedder, store), models)}
    assert reports["call"].rebuilt and reports["call"].embedded == 0  # from the cache
    assert not reports["organisation"].rebuilt
    calls = saved_vectors(store, models, EntityKind.CALL)
    assert set(calls) == {d.rowid for d in store.documents(EntityKind.CALL)}
