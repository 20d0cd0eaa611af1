"""Building the vector indexes from the store: one FAISS index per entity kind."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .domain import EntityKind
from .errors import IndexNotBuilt, MatcherError
from .store import Store, StoredDocument
from .text import content_hash
from .vectors.embedding import DocumentEncoder, Progress
from .vectors.index import Manifest, VectorIndex, new_manifest, read_contents

log = logging.getLogger(__name__)

BUILD_LOCK = ".build.lock"
"""A lock file in the models folder, held while its indexes are written."""


class BuildProgress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, n: int) -> None: ...

    def finish(self) -> None: ...


class CacheFiller(Protocol):
    """Embeds what an encoder's cache is missing somewhere else (`RayEngine`: on a cluster)."""

    def fill(
        self, encoder: DocumentEncoder, units: Sequence[str], progress: Progress | None = None
    ) -> int: ...


@dataclass(frozen=True)
class KindReport:
    kind: str
    documents: int
    embedded: int
    """Chunks and sentences embedded by the model; the rest came from the cache."""
    seconds: float
    indexed: int = 0
    """Documents whose vectors were (re)added to the index: new or changed ones, or all of them
    when the index was built afresh."""
    removed: int = 0
    """Vectors of changed or deleted documents taken out of an index updated in place."""
    rebuilt: bool = True
    """Whether the index was built afresh (none usable was saved) rather than updated."""


def index_dir(models_dir: Path, kind: EntityKind) -> Path:
    return Path(models_dir) / f"{kind.value}s"


def build_indexes(
    store: Store,
    encoder: DocumentEncoder,
    models_dir: Path,
    progress: BuildProgress | None = None,
    sentences: bool = True,
    engine: CacheFiller | None = None,
) -> list[KindReport]:
    """Bring every index up to date with the store: embed what is new or changed (cached texts
    are reused), update a saved index in place (only its new, changed and deleted documents),
    and save it; an index already up to date is not written. A saved index that cannot be
    updated (none, another model or database, unreadable) is built afresh.

    With `sentences` (the default) every sentence is embedded too, for the reasons of matches.
    With an `engine`, what is missing is embedded there and reaches the index through the cache.
    Each index records the store's identity, so that it is never used with another database.
    One build at a time writes a models folder (others wait), and a server does not rebuild it
    from the cache meanwhile."""
    with _building(models_dir, wait=True):
        plans = [_plan(store, encoder, models_dir, kind, sentences) for kind in EntityKind]
        if engine is not None:
            _fill(encoder, plans, engine, progress)
        reports = [_apply(store, encoder, models_dir, plan, progress) for plan in plans]
        # What the collections derive (BM25, TF-IDF, facets, the neighbour index) is saved
        # beside the indexes now, so that a server starts by reading it (minutes at scale).
        from .artefacts import open_collections  # it imports this module

        open_collections(store, models_dir, encoder.embedder.name).build_all()
        return reports


@dataclass
class _Plan:
    """What bringing one kind's index up to date takes."""

    kind: EntityKind
    documents: list[StoredDocument]
    contents: dict[int, str]
    """Every document's id and its text's hash: what the index will hold."""
    index: VectorIndex | None
    """The saved index to update; None to build one afresh."""
    todo: list[StoredDocument]
    """Documents to embed and add."""
    gone: list[int]
    """Ids to take out of the index."""
    rebuilt: bool
    sentences: bool
    current: bool
    """The saved index is up to date already: nothing to write."""
    started: float
    embedded: int | None = None
    """How many of its texts an engine embedded before it was applied."""


def _plan(
    store: Store, encoder: DocumentEncoder, models_dir: Path, kind: EntityKind, sentences: bool
) -> _Plan:
    started = time.perf_counter()
    documents = store.documents(kind)
    contents = {d.rowid: content_hash(d.text) for d in documents}
    saved = _saved(store, encoder, models_dir, kind, sentences)
    if saved is None:
        return _Plan(kind, documents, contents, None, documents, [], True, sentences, False,
                     started)  # fmt: skip
    index, manifest, before = saved
    gone = sorted(i for i, h in before.items() if contents.get(i) != h)
    todo = [d for d in documents if before.get(d.rowid) != contents[d.rowid]]
    current = not gone and not todo and manifest.data_hash == store.data_hash(kind, documents)
    return _Plan(kind, documents, contents, index, todo, gone, False, sentences, current, started)


def _saved(
    store: Store, encoder: DocumentEncoder, models_dir: Path, kind: EntityKind, sentences: bool
) -> tuple[VectorIndex, Manifest, dict[int, str]] | None:
    """The saved index of this kind and its contents, where it can be updated in place."""
    directory = index_dir(models_dir, kind)
    try:
        index, manifest = VectorIndex.load(
            directory,
            kind=kind.value,
            model=encoder.embedder.name,
            data_hash=None,
            database_id=store.database_id,
            database=store.location,
        )
    except IndexNotBuilt:
        return None
    except MatcherError as error:
        log.info("building the %s index afresh: %s", kind.value, error)
        return None
    if sentences and not manifest.sentences:
        return None  # its unchanged documents' sentences were never embedded: embed them now
    contents = read_contents(directory, manifest)
    if contents is None or set(contents) != set(index.ids.tolist()):
        return None
    return index, manifest, contents


def _apply(
    store: Store,
    encoder: DocumentEncoder,
    models_dir: Path,
    plan: _Plan,
    progress: BuildProgress | None,
) -> KindReport:
    kind = plan.kind
    texts = [d.text for d in plan.todo]
    missing = plan.embedded
    if missing is None:
        missing = encoder.count_missing(texts, plan.sentences) if texts else 0
    if not plan.current:
        if progress is not None:
            progress.start(f"embedding {kind.value}s", missing)
        vectors = encoder.encode(texts, progress.advance if progress else None, plan.sentences)
        if progress is not None:
            progress.finish()
        index = plan.index or VectorIndex(
            vectors.shape[1] if len(vectors) else encoder.embedder.dim
        )
        index.remove(plan.gone)
        index.add(np.array([d.rowid for d in plan.todo], dtype=np.int64), vectors)
        manifest = new_manifest(
            kind.value,
            encoder.embedder.name,
            store.data_hash(kind, plan.documents),
            plan.sentences,
            database_id=store.database_id,
            database=store.location,
        )
        index.save(index_dir(models_dir, kind), manifest, plan.contents)
    seconds = time.perf_counter() - plan.started
    how = "built" if plan.rebuilt else "up to date" if plan.current else "updated"
    log.info("%s the %s index (%d documents) in %.1f s", how, kind.value, len(plan.documents),
             seconds)  # fmt: skip
    return KindReport(
        kind.value, len(plan.documents), missing, seconds, len(plan.todo), len(plan.gone),
        plan.rebuilt,
    )  # fmt: skip


def _fill(
    encoder: DocumentEncoder,
    plans: list[_Plan],
    engine: CacheFiller,
    progress: BuildProgress | None,
) -> None:
    """Have the engine embed every kind's missing texts in one go (its workers load the model
    once), so that applying the plans finds them all in the cache."""
    units: list[str] = []
    for plan in plans:
        if not plan.current and plan.todo:
            these = encoder.units([d.text for d in plan.todo], plan.sentences)
            plan.embedded = len(encoder.missing(these))
            units += these
    if progress is not None:
        progress.start("embedding", len(encoder.missing(units)))
    engine.fill(encoder, units, progress.advance if progress else None)
    if progress is not None:
        progress.finish()


def rebuild_from_cache(store: Store, encoder: DocumentEncoder, models_dir: Path) -> bool:
    """Bring every index up to date from vectors another process has already put in the
    store's embedding cache, embedding nothing: how a server on another host (with its own
    models folder) follows a load and build. False, with nothing written, while some new or
    changed document has no cached vector yet (`matcher build` has not run since the load)."""
    with _building(models_dir, wait=False) as free:
        if not free:
            return False  # a build is writing the folder now: its indexes will do
        plans = [_plan(store, encoder, models_dir, kind, False) for kind in EntityKind]
        for plan in plans:
            if encoder.count_missing([d.text for d in plan.todo], sentences=False):
                return False
        for plan in plans:
            _apply(store, encoder, models_dir, plan, None)
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
