"""One entity kind loaded for matching: its entities, document vectors, BM25 and TF-IDF indexes
and facets, and the features of a query against all of them (or of all projects against one).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import Entity, EntityKind, FundingCall, Organisation, Project
from ..errors import IndexNotBuilt
from ..store import StoredDocument
from ..vectors.embedding import Matrix, normalise
from ..vectors.index import Manifest, VectorIndex
from .facets import Facet, facet_source
from .features import FEATURES, MAX_FACETS
from .lexical import DocumentTfidfIndex, LexicalIndex, PhraseIndex, TfidfIndex

Vector = npt.NDArray[np.float32]


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
    ) -> None:
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
        self.doc_vectors = (
            index.vectors(self.doc_rowids)
            if len(self.doc_rowids)
            else np.zeros((0, index.dim), dtype=np.float32)
        )
        sums = np.zeros((len(self.entities), index.dim), dtype=np.float32)
        np.add.at(sums, self.doc_owner, self.doc_vectors)
        self.doc_sums = sums
        self.sum_norms = np.linalg.norm(sums, axis=1)
        self.centroids = normalise(sums) if len(sums) else sums
        self.texts = [search_text(e) for e in self.entities]
        self.categories = np.array([category_of(e) for e in self.entities], dtype=object)
        self.lexical = LexicalIndex().fit(self.texts) if self.entities else None
        self.doc_lexical = LexicalIndex(terms=False).fit(self.doc_texts) if self.doc_texts else None
        self.tfidf = (
            TfidfIndex().fit(self.doc_texts, self.doc_owner, len(self.entities))
            if self.doc_texts
            else None
        )
        self.doc_tfidf = (
            DocumentTfidfIndex().fit(self.doc_texts, self.doc_owner, len(self.entities))
            if self.doc_texts
            else None
        )
        self.phrases = PhraseIndex().fit(self.doc_texts)
        self.facet_sources = [facet_source(e) for e in self.entities]
        self.facets = [
            source.from_documents([self.doc_texts[i] for i in self.entity_docs(position)])
            for position, source in enumerate(self.facet_sources)
        ]
        vocabulary = sorted({f for fs in self.facets for f in fs}, key=str)
        self.facet_ids = {f: i for i, f in enumerate(vocabulary)}
        rows = [i for i, fs in enumerate(self.facets) for _ in fs]
        cols = [self.facet_ids[f] for fs in self.facets for f in fs]
        self.facet_matrix = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(self.entities), max(1, len(vocabulary))),
        )
        groups = [
            e.programme if isinstance(e, FundingCall) and e.programme else "" for e in entities
        ]
        names = sorted(set(groups))
        self.group = np.array([names.index(g) for g in groups], dtype=np.int64)
        self.grouped = np.array([g != "" for g in groups], dtype=bool)
        self.group_sizes = np.bincount(self.group, minlength=len(names)) if groups else self.group

    def __len__(self) -> int:
        return len(self.entities)

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

    def _top_mean(self, doc_scores: Vector, k: int) -> Vector:
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

    def _group_mean(self, values: Vector) -> Vector:
        """Per entity, the mean of `values` over the entities of its programme (0 if none)."""
        if not self.grouped.any():
            return np.zeros(len(self.entities), dtype=np.float32)
        sums = np.bincount(self.group, weights=values, minlength=len(self.group_sizes))
        mean = (sums / np.maximum(self.group_sizes, 1))[self.group]
        return np.where(self.grouped, mean, 0.0).astype(np.float32)

    def features(self, query: Query, exclude: Collection[int] = ()) -> Matrix:
        """Features of the query against every entity; documents in `exclude` (store ids) are
        left out, as if the other side's profile did not hold them."""
        n = len(self.entities)
        out = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if not n:
            return out
        # Every document is scored, so this is the exact product with the vectors that the
        # FAISS index holds (loaded once); a k-nearest search over all of them would only add a
        # sort of the whole collection.
        doc_scores = np.full(len(self.doc_rowids), -1.0, dtype=np.float32)
        to_mean = np.zeros(len(self.doc_rowids), dtype=np.float32)
        if len(self.doc_vectors) and len(query.vectors):
            by_passage = self.doc_vectors @ query.vectors.T
            doc_scores = by_passage.max(axis=1).astype(np.float32)
            # Each document's dot product with the query's normalised mean vector, from the
            # same product (a second pass over the vectors costs as much as the first).
            mean_norm = float(np.linalg.norm(query.vectors.mean(axis=0)))
            to_mean = by_passage.mean(axis=1) / max(mean_norm, 1e-12)
        dropped = (
            np.isin(self.doc_rowids, np.fromiter(exclude, dtype=np.int64)) if exclude else None
        )
        if dropped is not None:
            doc_scores[dropped] = -np.inf
        dense_max = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(dense_max, self.doc_owner, doc_scores)
        dense_max[~np.isfinite(dense_max)] = -1.0
        out[:, _F["dense_max"]] = dense_max
        out[:, _F["dense_top3"]] = self._top_mean(doc_scores, 3)
        # The centroid's cosine: the summed documents' dot products over the sum's norm.
        sums = np.bincount(self.doc_owner, weights=to_mean, minlength=n)
        out[:, _F["dense_mean"]] = sums / np.maximum(self.sum_norms, 1e-12)
        if dropped is not None and dropped.any():
            for position in np.unique(self.doc_owner[dropped]):
                kept = [i for i in self.docs_of[position] if not dropped[i]]
                norm = float(np.linalg.norm(self.doc_vectors[kept].sum(axis=0)))
                out[position, _F["dense_mean"]] = to_mean[kept].sum() / max(norm, 1e-12)
        if not (self.lexical and self.doc_lexical and self.tfidf and self.doc_tfidf):
            raise IndexNotBuilt(f"The {self.kind.value} collection has no lexical indexes.")
        lexical = self.lexical.scores(query.text)
        doc_lexical = self.doc_lexical.scores(query.text)
        tfidf = self.tfidf.scores(query.text)
        gone_docs = np.flatnonzero(dropped).tolist() if dropped is not None else []
        tfidf_phrases = self.doc_tfidf.scores(query.text, exclude=gone_docs)
        doc_phrase = self.phrases.scores(query.text)
        if dropped is not None and dropped.any():
            doc_lexical[dropped] = 0.0
            doc_phrase[dropped] = 0.0
            for position in np.unique(self.doc_owner[dropped]):
                gone = [int(i) for i in np.flatnonzero(dropped) if self.doc_owner[i] == position]
                texts = [self.doc_texts[i] for i in gone]
                lexical[position] = self.lexical.score_without(query.text, int(position), texts)
                tfidf[position] = self.tfidf.score_without(query.text, int(position), gone)
        phrase = np.zeros(n, dtype=np.float32)
        np.maximum.at(phrase, self.doc_owner, doc_phrase)
        lexical_max = np.zeros(n, dtype=np.float32)
        np.maximum.at(lexical_max, self.doc_owner, doc_lexical)
        rare = self.doc_lexical.rarest_shared(query.text)
        if dropped is not None:
            rare[dropped] = 0.0
        rare_term = np.zeros(n, dtype=np.float32)
        np.maximum.at(rare_term, self.doc_owner, rare)
        out[:, _F["rare_term"]] = rare_term
        out[:, _F["lexical"]] = lexical
        out[:, _F["lexical_max"]] = lexical_max
        out[:, _F["tfidf"]] = tfidf
        out[:, _F["tfidf_phrases"]] = tfidf_phrases
        out[:, _F["phrase"]] = phrase
        out[:, _F["facets"]] = self.shared_facet_counts(query.facets)
        if dropped is not None and dropped.any():
            for position in np.unique(self.doc_owner[dropped]):
                kept = [
                    self.doc_texts[i] for i in self.entity_docs(int(position)) if not dropped[i]
                ]
                remaining = self.facet_sources[position].from_documents(kept)
                out[position, _F["facets"]] = min(MAX_FACETS, len(remaining & query.facets))
        # The size of the whole track record, left-out documents included: counting them out
        # would tell which candidates held the query's own record.
        out[:, _F["log_documents"]] = self.log_documents
        out[:, _F["group_dense"]] = self._group_mean(dense_max)
        out[:, _F["group_lexical"]] = self._group_mean(lexical)
        return out

    def features_against(self, position: int, projects: Loaded) -> Matrix:
        """Features of every project against entity `position` of this collection (the reverse
        direction); row i equals `self.features(query of project i)[position]`."""
        n = len(projects)
        out = np.zeros((n, len(FEATURES)), dtype=np.float32)
        if not n:
            return out
        docs = self.entity_docs(position)
        similarity = projects.doc_vectors @ self.doc_vectors[docs].T  # project docs x our docs
        best = np.full((n, len(docs)), -1.0, dtype=np.float32)
        np.maximum.at(best, projects.doc_owner, similarity)
        out[:, _F["dense_max"]] = best.max(axis=1)
        top = -np.sort(-best, axis=1)[:, :3]
        out[:, _F["dense_top3"]] = top.mean(axis=1)
        query_means = normalise(projects.doc_sums)
        out[:, _F["dense_mean"]] = query_means @ self.centroids[position]
        if not (self.lexical and self.doc_lexical and self.tfidf and self.doc_tfidf):
            raise IndexNotBuilt(f"The {self.kind.value} collection has no lexical indexes.")
        out[:, _F["lexical"]] = self.lexical.scores_against(projects.texts, position)
        out[:, _F["tfidf"]] = self.tfidf.scores_against(projects.texts, position)
        out[:, _F["tfidf_phrases"]] = self.doc_tfidf.scores_against(projects.texts, position)
        out[:, _F["phrase"]] = [
            float(self.phrases.scores(text)[docs].max()) if len(docs) else 0.0
            for text in projects.texts
        ]
        lexical_max = np.zeros(n, dtype=np.float32)
        for d in docs:
            lexical_max = np.maximum(
                lexical_max, self.doc_lexical.scores_against(projects.texts, int(d))
            )
        out[:, _F["lexical_max"]] = lexical_max
        rare_term = np.zeros(n, dtype=np.float32)
        for d in docs:
            rare_term = np.maximum(
                rare_term, self.doc_lexical.rarest_shared_against(projects.texts, int(d))
            )
        out[:, _F["rare_term"]] = rare_term
        out[:, _F["facets"]] = projects.shared_facet_counts(self.facets[position])
        out[:, _F["log_documents"]] = np.log1p(len(docs))
        if self.grouped[position]:
            members = np.flatnonzero(self.group == self.group[position])
            dense = np.zeros(n, dtype=np.float32)
            lexical = np.zeros(n, dtype=np.float32)
            for member in members:
                member_docs = self.doc_vectors[self.entity_docs(int(member))]
                sims = projects.doc_vectors @ member_docs.T
                per_project = np.full(n, -1.0, dtype=np.float32)
                np.maximum.at(per_project, projects.doc_owner, sims.max(axis=1))
                dense += per_project
                lexical += self.lexical.scores_against(projects.texts, int(member))
            out[:, _F["group_dense"]] = dense / len(members)
            out[:, _F["group_lexical"]] = lexical / len(members)
        return out


_F = {name: i for i, name in enumerate(FEATURES)}


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


@dataclass
class Query:
    """The side that asks: a stored entity or a pasted text."""

    text: str
    vectors: Matrix
    facets: set[Facet]
    passages: list[str]
    entity: Entity | None = None


Parts = tuple[
    Sequence[Entity], Sequence[StoredDocument], VectorIndex, Manifest, Mapping[str, tuple[str, ...]]
]
"""What a collection is built from: its entities, documents, vector index and manifest, and the
records merged into each entity (see `clusters.collapse`)."""


class Collections(Mapping[EntityKind, Loaded]):
    """The collection of each entity kind, built when first asked for, so that a command that
    ranks partners never fits the calls' lexical indexes. Ids, entities and manifests are
    answered without building anything. Safe to share between threads."""

    def __init__(self, parts: Mapping[EntityKind, Parts]) -> None:
        self._parts = dict(parts)
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
                    built = self._built[kind] = Loaded(kind, *self._parts[kind])
        return built

    def __iter__(self) -> Iterator[EntityKind]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

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
