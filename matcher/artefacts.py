"""Where the models folder keeps each saved artefact (indexes, rankers, calibrations, adapters),
and loading an index for the store it was built from."""

from __future__ import annotations

from pathlib import Path

from .build import index_dir
from .domain import EntityKind
from .store import Store, StoredDocument
from .vectors.adapter import adapter_path
from .vectors.index import Manifest, VectorIndex


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
