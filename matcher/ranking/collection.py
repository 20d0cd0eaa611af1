"""One entity kind loaded for matching: its entities, document vectors, BM25 and TF-IDF indexes
and facets, and the features of a query against all of them (or of all projects against one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import Entity, EntityKind, FundingCall, Organisation, Project
from ..errors import IndexNotBuilt
from ..facts import stage_phases
from ..store import StoredDocument
from ..vectors.embedding import Matrix, normalise
from ..vectors.index import Manifest, NeighbourParams, Neighbours, VectorIndex
from .derive import derive, fits, owner_sums, state_of
from .facets import Facet, FacetSource, facet_source
from .features import MAX_FACETS, forward_rows, reverse_rows
from .lexical import LexicalIndex
from .pairs import Forward, Reverse
from .phrases import PhraseIndex
from .registry import QuerySide, RegistryIndex, query_side
from .saved import SavedState
from .subset import Slice
from .tfidf import DocumentTfidfIndex, TfidfIndex

Vector = npt.NDArray[np.float32]
log = logging.getLogger(__name__)


def with_facts(
    entities: Sequence[Entity], documents: Sequence[StoredDocument]
) -> list[StoredDocument]:
    """The documents with their registry facts, from their entities' records (the store
    gives documents in position order within each entity)."""
    facts = {e.id: [d.facts for d in e.documents()] for e in entities}
    seen: dict[str, int] = {}
    out = []
    for d in documents:
        i = seen[d.entity_id] = seen.get(d.entity_id, -1) + 1
        own = facts.get(d.entity_id, [])
        out.append(replace(d, facts=own[i]) if i < len(own) and own[i] else d)
    return out


def search_text(entity: Entity) -> str:
    """What the lexical index reads for an entity: its texts and its tags in words."""
    if isinstance(entity, Project):
        tags = [entity.modality.value, *entity.indications]
        return "\n".join([entity.title, entity.abstract, "; ".join(tags).replace("_", " ")])
    if isinstance(entity, Organisation):
        tags = [*entity.capabilities, *(m.value for m in entity.modalities), *entity.indications]
        docs = [d.text for d in entity.profile]
        return "\n".join([entity.name, "; ".join(tags).replace("_", " "), *docs])
    return "\n".join([entity.title, entity.programme, entity.text])


def category_of(entity: Entity) -> str:
    if isinstance(entity, Project):
        return entity.modality.value
    if isinstance(entity, Organisation):
        return entity.kind.value
    return entity.funder


class Loaded:
    """One entity kind, loaded: entities, document vectors (FAISS), BM25 and facets."""

    def __init__(
        self,
        kind: EntityKind,
        entities: Sequence[Entity],
        documents: Sequence[StoredDocument],
        index: VectorIndex,
        manifest: Manifest,
        members: Mapping[str, tuple[str, ...]] | None = None,
        derived: Mapping[str, Any] | None = None,
    ) -> None:
        """`derived`: the state saved from an equal collection (`saved.SavedState`), used
        instead of deriving it anew where its shape fits."""
        self.kind = kind
        self.entities = list(entities)
        self.manifest = manifest
        self.members = dict(members or {})
        """Entity id -> the other stored records merged into it (entity resolution)."""
        self.positions = {e.id: i for i, e in enumerate(self.entities)}
        for canonical, merged in self.members.items():
            for member in merged:
                self.positions[member] = self.positions[canonical]
        self.index = index
        order = np.argsort([d.rowid for d in documents], kind="stable")
        self.doc_rowids = np.array([documents[i].rowid for i in order], dtype=np.int64)
        self.doc_owner = np.array(
            [self.positions[documents[i].entity_id] for i in order], dtype=np.int64
        )
        self.doc_texts = [documents[i].text for i in order]
        self.docs_of: list[list[int]] = [[] for _ in self.entities]
        for doc, owner in enumerate(self.doc_owner.tolist()):
            self.docs_of[owner].append(doc)
        self.doc_counts = np.bincount(self.doc_owner, minlength=len(self.entities))
        self.log_documents = np.log1p(self.doc_counts).astype(np.float32)
        # Documents laid out one row per entity (padded), for per-entity top-k without sorting
        # the whole collection.
        width = int(self.doc_counts.max()) if len(self.doc_counts) else 0
        self.layout = np.full((len(self.entities), width), -1, dtype=np.int64)
        for position, docs in enumerate(self.docs_of):
            self.layout[position, : len(docs)] = docs
        self.doc_facts = [documents[i].facts for i in order]
        self.texts = [search_text(e) for e in self.entities]
        self.categories = np.array([category_of(e) for e in self.entities], dtype=object)
        self.from_saved = derived is not None and fits(self, derived)
        """Whether the derived state was read from disk (rather than derived now)."""
        state = derived if derived is not None and self.from_saved else derive(self)
        self.doc_vectors: Matrix = state["doc_vectors"]
        self.doc_sums: Matrix = state["doc_sums"]
        self.sum_norms: Vector = state["sum_norms"]
        self.centroids: Matrix = state["centroids"]
        self.lexical: LexicalIndex | None = state["lexical"]
        self.doc_lexical: LexicalIndex | None = state["doc_lexical"]
        self.tfidf: TfidfIndex | None = state["tfidf"]
        self.doc_tfidf: DocumentTfidfIndex | None = state["doc_tfidf"]
        self.phrases: PhraseIndex = state["phrases"]
        self.registry: RegistryIndex = state["registry"]
        self.facets: list[set[Facet]] = state["facets"]
        self.facet_ids: dict[Facet, int] = state["facet_ids"]
        self.facet_matrix: sp.csr_matrix = state["facet_matrix"]
        params = NeighbourParams(**state["neighbours"]["params"])
        self.neighbours = Neighbours.from_bytes(
            self.doc_vectors, params, state["neighbours"]["blob"]
        )
        self.adapter: Adapter | None = None
        self._spaces: dict[int, tuple[Adapter | None, Space]] = {}
        self.frozen = Space(self.doc_vectors, self.doc_owner, len(self.entities), self.doc_sums)
        self.adapted: Space = self.frozen
        groups = [
            e.programme if isinstance(e, FundingCall) and e.programme else "" for e in entities
        ]
        names = sorted(set(groups))
        self.group = np.array([names.index(g) for g in groups], dtype=np.int64)
        self.grouped = np.array([g != "" for g in groups], dtype=bool)
        self.group_sizes = np.bincount(self.group, minlength=len(names)) if groups else self.group

    def __len__(self) -> int:
        return len(self.entities)

    def derived(self) -> dict[str, Any]:
        """The derived state, to save (see `derive.derive`)."""
        return state_of(self)

    @cached_property
    def facet_sources(self) -> list[FacetSource]:
        return [facet_source(e) for e in self.entities]

    def set_adapter(self, adapter: Adapter | None) -> None:
        """Read the dense evidence through a linear adapter too (`adapted_*` features); None:
        the adapted features equal the frozen ones."""
        self.adapter = adapter
        if adapter is None:
            self.adapted = self.frozen
            return
        known = self._spaces.get(id(adapter))
        if known is not None and known[0] is adapter:
            self.adapted = known[1]
            return
        self.adapted = Space(adapter.transform(self.doc_vectors), self.doc_owner, len(self))
        if len(self._spaces) >= 8:  # a few adapters at a time (the benchmark's folds)
            self._spaces.clear()
        self._spaces[id(adapter)] = (adapter, self.adapted)

    def adapt(self, vectors: Matrix) -> Matrix:
        """Query-side vectors in the adapted space."""
        return self.adapter.transform(vectors) if self.adapter and len(vectors) else vectors

    def nearest_adapted(self, vectors: Matrix, k: int) -> npt.NDArray[np.int64]:
        """The documents nearest the query in the adapter's space (none without an adapter):
        exactly where the collection is small enough for exact neighbours, else through the
        frozen-space index with the query pulled back through the adapter."""
        if self.adapter is None or not len(vectors):
            return np.zeros(0, dtype=np.int64)
        if self.neighbours.params.kind == "flat":
            exact = Neighbours(self.adapted.vectors, self.neighbours.params)
            return exact.search(self.adapt(vectors), k)
        pullback = getattr(self.adapter, "pullback", None)
        return self.neighbours.search(pullback(vectors) if pullback else vectors, k)

    def lexical_indexes(
        self,
    ) -> tuple[LexicalIndex, LexicalIndex, TfidfIndex, DocumentTfidfIndex]:
        """BM25 over entities and documents, TF-IDF over entities and documents. Raises
        IndexNotBuilt for a collection without documents."""
        if not (self.lexical and self.doc_lexical and self.tfidf and self.doc_tfidf):
            raise IndexNotBuilt(f"The {self.kind.value} collection has no lexical indexes.")
        return self.lexical, self.doc_lexical, self.tfidf, self.doc_tfidf

    def side_of(self, position: int) -> QuerySide:
        """What an entity brings as the project side of a pair: its registry facts (a
        project's own trial), else its text, stage and date."""
        entity = self.entities[position]
        if isinstance(entity, Project):
            when = entity.updated_at.date()
            return query_side(entity.facts, self.texts[position], stage_phases(entity.stage), when)
        return query_side(None, self.texts[position], (), None)

    @cached_property
    def sides(self) -> list[QuerySide]:
        """Every entity's project side (for the reverse direction)."""
        return [self.side_of(p) for p in range(len(self.entities))]

    def entity_docs(self, position: int) -> npt.NDArray[np.int64]:
        return np.array(self.docs_of[position], dtype=np.int64)

    def vectors_of(self, position: int) -> Matrix:
        return self.doc_vectors[self.entity_docs(position)]

    def shared_facet_counts(self, facets: set[Facet]) -> Vector:
        cols = [self.facet_ids[f] for f in facets if f in self.facet_ids]
        if not cols:
            return np.zeros(len(self.entities), dtype=np.float32)
        wanted = np.zeros(self.facet_matrix.shape[1], dtype=np.float32)
        wanted[cols] = 1.0
        counts = np.asarray(self.facet_matrix @ wanted, dtype=np.float32).ravel()
        return np.minimum(counts, MAX_FACETS)

    def top_mean(self, doc_scores: Vector, k: int) -> Vector:
        """Per entity, the mean of its k best finite document scores (-1 if none)."""
        n = len(self.entities)
        if self.layout.shape[1] > 64:
            return _top_mean(doc_scores, self.doc_owner, n, k)
        if self.layout.shape[1] <= k:  # every finite document counts
            finite = np.isfinite(doc_scores)
            owner = self.doc_owner[finite]
            totals = np.bincount(owner, weights=doc_scores[finite], minlength=n)
            counts = np.bincount(owner, minlength=n)
            return np.where(counts > 0, totals / np.maximum(counts, 1), -1.0).astype(np.float32)
        padded = np.where(self.layout >= 0, doc_scores[self.layout], -np.inf)
        padded = np.where(np.isfinite(padded), padded, -np.inf)
        if padded.shape[1] > k:
            padded = -np.partition(-padded, k - 1, axis=1)[:, :k]
        finite = np.isfinite(padded)
        counts = finite.sum(axis=1)
        totals = np.where(finite, padded, 0.0).sum(axis=1)
        return np.where(counts > 0, totals / np.maximum(counts, 1), -1.0).astype(np.float32)

    def group_mean(self, values: Vector) -> Vector:
        """Per entity, the mean of `values` over the entities of its programme (0 if none)."""
        if not self.grouped.any():
            return np.zeros(len(self.entities), dtype=np.float32)
        sums = np.bincount(self.group, weights=values, minlength=len(self.group_sizes))
        mean = (sums / np.maximum(self.group_sizes, 1))[self.group]
        return np.where(self.grouped, mean, 0.0).astype(np.float32)

    def features(self, query: Query, exclude: Collection[int] = ()) -> Matrix:
        """Features of the query against every entity; documents in `exclude` (store ids) are
        left out, as if the other side's profile did not hold them."""
        return forward_rows(self, Forward(self, query, exclude))

    def shortlist_features(
        self, query: Query, rows: npt.ArrayLike, exclude: Collection[int] = ()
    ) -> tuple[npt.NDArray[np.int64], Matrix]:
        """The features of the query against the entities at `rows` only (and the rest of
        their programmes): their positions, sorted, and one row each, equal to those rows of
        `features`."""
        part = Slice(self, rows)
        return part.rows, forward_rows(part, Forward(part, query, exclude))

    def features_against(self, position: int, projects: Loaded | Slice) -> Matrix:
        """Features of every project against entity `position` of this collection (the reverse
        direction); row i equals `self.features(query of project i)[position]`."""
        return reverse_rows(Reverse(self, position, projects))


def _top_mean(scores: Vector, owner: npt.NDArray[np.int64], n: int, k: int) -> Vector:
    """Per owner, the mean of its k highest finite scores (-1 for an owner with none)."""
    finite = np.isfinite(scores)
    scores, owner = scores[finite], owner[finite]
    out = np.full(n, -1.0, dtype=np.float32)
    if not len(scores):
        return out
    order = np.lexsort((-scores, owner))
    owner_sorted, scores_sorted = owner[order], scores[order]
    starts = np.searchsorted(owner_sorted, owner_sorted, side="left")
    keep = (np.arange(len(order)) - starts) < k
    totals = np.bincount(owner_sorted[keep], weights=scores_sorted[keep], minlength=n)
    counts = np.bincount(owner_sorted[keep], minlength=n)
    has = counts > 0
    out[has] = (totals[has] / counts[has]).astype(np.float32)
    return out


class Adapter(Protocol):
    def transform(self, vectors: Matrix) -> Matrix: ...


class Space:
    """Document vectors in one space (frozen, or through an adapter) with their per-entity
    sums, for the dense features read in it."""

    def __init__(
        self, vectors: Matrix, owner: npt.NDArray[np.int64], n: int, sums: Matrix | None = None
    ) -> None:
        self.vectors = vectors
        sums = owner_sums(vectors, owner, n) if sums is None else sums
        self.sums = sums
        self.sum_norms = np.linalg.norm(sums, axis=1)
        self.centroids: Matrix = normalise(sums) if len(sums) else sums


@dataclass
class Query:
    """The side that asks: a stored entity or a pasted text."""

    text: str
    vectors: Matrix
    facets: set[Facet]
    passages: list[str]
    entity: Entity | None = None
    side: QuerySide | None = None
    """Its registry facts, or what stands in for them; None: no registry evidence."""


Parts = tuple[
    Sequence[Entity], Sequence[StoredDocument], VectorIndex, Manifest, Mapping[str, tuple[str, ...]]
]
"""What a collection is built from: its entities, documents, vector index and manifest, and the
records merged into each entity (see `clusters.collapse`)."""


class Collections(Mapping[EntityKind, Loaded]):
    """The collection of each entity kind, built when first asked for, so that a command that
    ranks partners never fits the calls' lexical indexes; each reads dense evidence through its
    kind's adapter too, where one is given. Ids, entities and manifests are
    answered without building anything. Safe to share between threads."""

    def __init__(
        self,
        parts: Mapping[EntityKind, Parts],
        adapters: Mapping[EntityKind, Adapter | None] | None = None,
        saved: Mapping[EntityKind, SavedState] | None = None,
    ) -> None:
        self._parts = dict(parts)
        self._adapters = dict(adapters or {})
        self._saved = dict(saved or {})
        self._built: dict[EntityKind, Loaded] = {}
        self._lock = threading.Lock()
        self._by_id = {
            kind: {e.id: e for e in entities} for kind, (entities, *_rest) in self._parts.items()
        }
        for kind, (*_rest, members) in self._parts.items():
            for canonical, merged in members.items():
                for member in merged:
                    self._by_id[kind][member] = self._by_id[kind][canonical]

    def __getitem__(self, kind: EntityKind) -> Loaded:
        built = self._built.get(kind)
        if built is None:
            with self._lock:
                built = self._built.get(kind)
                if built is None:
                    built = self._load(kind)
                    built.set_adapter(self._adapters.get(kind))
                    self._built[kind] = built
        return built

    def __iter__(self) -> Iterator[EntityKind]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def _load(self, kind: EntityKind) -> Loaded:
        """The collection from its saved derived state where that matches it; else derived,
        and saved for the next process (where the folder can be written)."""
        saved = self._saved.get(kind)
        state = saved.load() if saved is not None else None
        built = Loaded(kind, *self._parts[kind], derived=state)
        if saved is not None and not built.from_saved:
            try:
                saved.save(built.derived())
            except OSError as error:
                log.warning("could not save the derived state in %s: %s", saved.directory, error)
        return built

    def build_all(self) -> Collections:
        for kind in self:
            self[kind]
        return self

    def manifest(self, kind: EntityKind) -> Manifest:
        return self._parts[kind][3]

    def count(self, kind: EntityKind) -> int:
        return len(self._parts[kind][0])

    def entity(self, kind: EntityKind, id: str) -> Entity | None:
        return self._by_id[kind].get(id)
