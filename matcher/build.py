"""Building the vector indexes from the store: one FAISS index per entity kind."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .domain import EntityKind
from .store import Store
from .vectors.embedding import DocumentEncoder
from .vectors.index import VectorIndex, new_manifest

log = logging.getLogger(__name__)


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
    Each index records the store's identity, so that it is never used with another database."""
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
    for kind in EntityKind:
        if encoder.count_missing([d.text for d in store.documents(kind)], sentences=False):
            return False
    build_indexes(store, encoder, models_dir, sentences=False)
    return True
