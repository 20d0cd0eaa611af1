"""Building the vector indexes from the store: one FAISS index per entity kind."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .domain import EntityKind
from .store import Store
from .vectors.embedding import DocumentEncoder
from .vectors.index import VectorIndex, new_manifest

log = logging.getLogger(__name__)

BUILD_LOCK = ".build.lock"
"""A lock file in the models folder, held while its indexes are written."""


class BuildProgress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class KindReport:
    kind: str
    documents: int
    embedded: int
    """Chunks and sentences embedded by the model; the rest came from the cache."""
    seconds: float


def index_dir(models_dir: Path, kind: EntityKind) -> Path:
    return Path(models_dir) / f"{kind.value}s"


def build_indexes(
    store: Store,
    encoder: DocumentEncoder,
    models_dir: Path,
    progress: BuildProgress | None = None,
    sentences: bool = True,
) -> list[KindReport]:
    """Embed every document of every kind and save the indexes; cached texts are reused.

    With `sentences` (the default) every sentence is embedded too, for the reasons of matches.
    Each index records the store's identity, so that it is never used with another database.
    One build at a time writes a models folder (others wait), and a server does not rebuild it
    from the cache meanwhile."""
    with _building(models_dir, wait=True):
        return _build(store, encoder, models_dir, progress, sentences)


def _build(
    store: Store,
    encoder: DocumentEncoder,
    models_dir: Path,
    progress: BuildProgress | None,
    sentences: bool,
) -> list[KindReport]:
    reports = []
    for kind in EntityKind:
        started = time.perf_counter()
        documents = store.documents(kind)
        data_hash = store.data_hash(kind, documents)
        texts = [d.text for d in documents]
        missing = encoder.count_missing(texts, sentences)
        if progress is not None:
            progress.start(f"embedding {kind.value}s", missing)
        vectors = encoder.encode(texts, progress.advance if progress else None, sentences)
        if progress is not None:
            progress.finish()
        index = VectorIndex(vectors.shape[1] if len(vectors) else encoder.embedder.dim)
        index.add(np.array([d.rowid for d in documents], dtype=np.int64), vectors)
        manifest = new_manifest(
            kind.value,
            encoder.embedder.name,
            data_hash,
            sentences,
            database_id=store.database_id,
            database=store.location,
        )
        index.save(index_dir(models_dir, kind), manifest)
        seconds = time.perf_counter() - started
        log.info("indexed %d %s documents in %.1f s", len(documents), kind.value, seconds)
        reports.append(KindReport(kind.value, len(documents), missing, seconds))
    return reports


def rebuild_from_cache(store: Store, encoder: DocumentEncoder, models_dir: Path) -> bool:
    """Rebuild every index from vectors another process has already put in the store's
    embedding cache, embedding nothing: how a server on another host (with its own models
    folder) follows a load and build. False, with nothing written, while some document has no
    cached vector yet (`matcher build` has not run since the load)."""
    with _building(models_dir, wait=False) as free:
        if not free:
            return False  # a build is writing the folder now: its indexes will do
        for kind in EntityKind:
            if encoder.count_missing([d.text for d in store.documents(kind)], sentences=False):
                return False
        _build(store, encoder, models_dir, None, sentences=False)
    return True


@contextlib.contextmanager
def _building(models_dir: Path, wait: bool) -> Iterator[bool]:
    """Hold the models folder's build lock; without `wait`, yield False when it is taken."""
    Path(models_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(models_dir) / BUILD_LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
