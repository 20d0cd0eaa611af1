"""Where the models folder keeps each saved artefact (indexes, their derived state, rankers,
calibrations, adapters), and loading the collections for the store they were built from."""

from __future__ import annotations

from pathlib import Path

from .build import index_dir
from .domain import EntityKind
from .ranking.clusters import collapse
from .ranking.collection import Collections, Parts, with_facts
from .ranking.saved import SavedState, state_key
from .store import Store, StoredDocument
from .vectors.adapter import adapter_path, load_adapter
from .vectors.index import Manifest, VectorIndex


def open_collections(store: Store, models_dir: Path, model: str) -> Collections:
    """Every kind's collection as the saved indexes hold it (each built when first asked for:
    from its saved derived state where that matches, else derived and saved). Raises
    IndexNotBuilt or StaleIndex."""
    parts: dict[EntityKind, Parts] = {}
    saved = {}
    for kind in EntityKind:
        documents = store.documents(kind)
        index, manifest = load_index(store, models_dir, kind, model, documents)
        clusters = store.org_clusters() if kind is EntityKind.ORGANISATION else {}
        stored = store.entities(kind)
        one = collapse(stored, with_facts(stored, documents), clusters)
        parts[kind] = (one.entities, one.documents, index, manifest, one.members)
        key = state_key([
            kind.value, model, manifest.index_sha256, manifest.data_hash,
            *(f"{id}\x1f{h}" for id, h in store.content_hashes(kind)),
            *(f"{m}\x1f{c[0]}" for m, c in sorted(clusters.items())),
        ])  # fmt: skip
        saved[kind] = SavedState(index_dir(models_dir, kind), key)
    adapters = {kind: load_adapter(adapter_dir(models_dir, kind), model) for kind in EntityKind}
    return Collections(parts, adapters, saved)


def load_index(
    store: Store, models_dir: Path, kind: EntityKind, model: str, documents: list[StoredDocument]
) -> tuple[VectorIndex, Manifest]:
    return VectorIndex.load(
        index_dir(models_dir, kind),
        kind=kind.value,
        model=model,
        data_hash=store.data_hash(kind, documents),
        database_id=store.database_id,
        database=store.location,
    )


def adapter_dir(models_dir: Path, kind: EntityKind) -> Path:
    """Where the linear adapter that candidates of this kind are read through is saved (see
    `python -m bench.train`): partners' (also for projects, which are scored as partners are)
    and calls'."""
    return adapter_path(models_dir) / ("calls" if kind is EntityKind.CALL else "partners")


def calibration_path(models_dir: Path) -> Path:
    """Where the calibrations of the scorers are saved (see `python -m bench.train`)."""
    return Path(models_dir) / "ranker" / "calibration.json"


def ranker_path(models_dir: Path, kind: EntityKind) -> Path:
    """Where the trained ranker for pairs of a project with this kind is saved."""
    name = "partners" if kind is EntityKind.ORGANISATION else "calls"
    return Path(models_dir) / "ranker" / f"{name}.json"
