"""The evidence that features share, computed once per ranking and only when a feature asks:
`Forward` holds one query against every entity of a collection, `Reverse` every project against
one entity (the reverse direction). Each feature in `features.py` reads what it needs from them,
so a pair's features come from one definition per feature in both directions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..vectors.embedding import normalise

if TYPE_CHECKING:
    from .collection import Loaded, Query
    from .lexical import LexicalIndex
    from .subset import Slice
    from .tfidf import DocumentTfidfIndex, TfidfIndex

Vector = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


def per_entity_max(values: Vector, owner: npt.NDArray[np.int64], n: int, empty: float) -> Vector:
    """Per entity, the largest of its documents' values (`empty` where it has none)."""
    out = np.full(n, empty, dtype=np.float32)
    np.maximum.at(out, owner, values)
    return out


@dataclass(frozen=True)
class Dense:
    """The dense evidence of one query in one vector space."""

    doc_scores: Vector
    """Per document, its best cosine with any of the query's passages (-inf when left out)."""
    best: Vector
    """Per entity, its best document's cosine."""
    mean: Vector
    """Per entity, the cosine of its documents' centroid with the query's mean vector."""


class Forward:
    """One query (a stored project or a pasted text) against every entity of `c` (a whole
    collection, or a shortlist of it); documents in `exclude` (store ids) are left out, as if
    the entities' profiles did not hold them."""

    def __init__(self, c: Loaded | Slice, query: Query, exclude: Collection[int] = ()) -> None:
        self.c = c
        self.query = query
        self.n = len(c)
        self.dropped: Mask | None = (
            np.isin(c.doc_rowids, np.fromiter(exclude, dtype=np.int64)) if exclude else None
        )
        self.any_dropped = self.dropped is not None and bool(self.dropped.any())

    @cached_property
    def touched(self) -> list[int]:
        """The entities that lost a document to `exclude`."""
        if self.dropped is None or not self.any_dropped:
            return []
        return [int(p) for p in np.unique(self.c.doc_owner[self.dropped])]

    def kept_docs(self, position: int) -> list[int]:
        """The documents of an entity that `exclude` leaves."""
        docs = self.c.docs_of[position]
        return docs if self.dropped is None else [i for i in docs if not self.dropped[i]]

    def zero_dropped(self, per_doc: Vector, value: float = 0.0) -> Vector:
        if self.dropped is not None:
            per_doc[self.dropped] = value
        return per_doc

    # ------------------------------------------------------------------ dense

    def _dense(self, vectors: Vector, sum_norms: Vector, query: Vector) -> Dense:
        """The dense evidence in one vector space (frozen, or adapted)."""
        c = self.c
        doc_scores = np.full(len(c.doc_rowids), -1.0, dtype=np.float32)
        to_mean = np.zeros(len(c.doc_rowids), dtype=np.float32)
        if len(vectors) and len(query):
            # Every document is scored: the exact product with the vectors the FAISS index
            # holds (loaded once); a k-nearest search would only add a sort of everything.
            by_passage = vectors @ query.T
            doc_scores = by_passage.max(axis=1).astype(np.float32)
            # The same product gives the dot product with the normalised mean vector.
            mean_norm = float(np.linalg.norm(query.mean(axis=0)))
            to_mean = (by_passage.mean(axis=1) / max(mean_norm, 1e-12)).astype(np.float32)
        self.zero_dropped(doc_scores, -np.inf)
        best = per_entity_max(doc_scores, c.doc_owner, self.n, -1.0)
        best[~np.isfinite(best)] = -1.0
        sums = np.bincount(c.doc_owner, weights=to_mean, minlength=self.n)
        mean: Vector = (sums / np.maximum(sum_norms, 1e-12)).astype(np.float32)
        for position in self.touched:
            kept = self.kept_docs(position)
            norm = float(np.linalg.norm(vectors[kept].sum(axis=0)))
            mean[position] = to_mean[kept].sum() / max(norm, 1e-12)
        return Dense(doc_scores, best, mean)

    @cached_property
    def frozen(self) -> Dense:
        """The dense evidence with the model's own vectors."""
        return self._dense(self.c.doc_vectors, self.c.sum_norms, self.query.vectors)

    @cached_property
    def adapted(self) -> Dense:
        """The same through the collection's adapter (the frozen evidence where it has none)."""
        if self.c.adapter is None:
            return self.frozen
        space = self.c.adapted
        return self._dense(space.vectors, space.sum_norms, self.c.adapt(self.query.vectors))

    @property
    def doc_scores(self) -> Vector:
        return self.frozen.doc_scores

    @property
    def dense_max(self) -> Vector:
        return self.frozen.best

    @property
    def dense_mean(self) -> Vector:
        return self.frozen.mean

    # ------------------------------------------------------------------ lexical

    def _indexes(self) -> tuple[Any, Any, Any, Any]:
        # BM25 over entities and documents, TF-IDF over entities and over documents' phrases:
        # the indexes themselves, or their views at a shortlist's rows (subset.py).
        return self.c.lexical_indexes()

    @cached_property
    def lexical(self) -> Vector:
        index = self._indexes()[0]
        out: Vector = index.scores(self.query.text)
        for position in self.touched:
            gone = [i for i in self.c.docs_of[position] if i not in self.kept_docs(position)]
            texts = [self.c.doc_texts[i] for i in gone]
            out[position] = index.score_without(self.query.text, position, texts)
        return out

    @cached_property
    def doc_lexical(self) -> Vector:
        scores: Vector = self._indexes()[1].scores(self.query.text)
        return self.zero_dropped(scores)

    @cached_property
    def tfidf(self) -> Vector:
        index = self._indexes()[2]
        out: Vector = index.scores(self.query.text)
        for position in self.touched:
            gone = [i for i in self.c.docs_of[position] if i not in self.kept_docs(position)]
            out[position] = index.score_without(self.query.text, position, gone)
        return out

    @cached_property
    def tfidf_phrases(self) -> Vector:
        gone = np.flatnonzero(self.dropped).tolist() if self.dropped is not None else []
        scores: Vector = self._indexes()[3].scores(self.query.text, exclude=gone)
        return scores

    @cached_property
    def doc_phrase(self) -> Vector:
        return self.zero_dropped(self.c.phrases.scores(self.query.text))

    @cached_property
    def rare(self) -> Vector:
        scores: Vector = self._indexes()[1].rarest_shared(self.query.text)
        return self.zero_dropped(scores)

    def doc_max(self, per_doc: Vector) -> Vector:
        return per_entity_max(per_doc, self.c.doc_owner, self.n, 0.0)

    def doc_count(self, per_doc: Vector) -> Vector:
        """Per entity, the sum of a per-document value over its documents."""
        counts = np.bincount(self.c.doc_owner, weights=per_doc, minlength=self.n)
        out: Vector = counts.astype(np.float32)
        return out

    # ------------------------------------------------------------------ registry facts

    @cached_property
    def _names(self) -> dict[str, Vector]:
        side = self.query.side
        out = {}
        for kind in ("interventions", "conditions"):
            if side is None:
                out[kind] = np.zeros(len(self.c.doc_rowids), dtype=np.float32)
            else:
                vocabulary = getattr(self.c.registry, kind)
                out[kind] = self.zero_dropped(vocabulary.scores(getattr(side, kind)))
        return out

    def names(self, kind: str) -> Vector:
        """Per document, the cosine of its interventions (or conditions) with the query's;
        0 for a left-out document."""
        return self._names[kind]

    @cached_property
    def closeness(self) -> Vector:
        """Per document, how close its start is to the query's date (0 for a left-out one)."""
        when = self.query.side.when if self.query.side is not None else None
        return self.zero_dropped(self.c.registry.closeness(when))


class Reverse:
    """Every project of `projects` against entity `position` of `c`: row i of each feature is
    what `Forward` gives for project i's query at `position`."""

    def __init__(self, c: Loaded, position: int, projects: Loaded | Slice) -> None:
        self.c = c
        self.position = position
        self.projects = projects
        self.n = len(projects)
        self.docs = c.entity_docs(position)

    @cached_property
    def best(self) -> Vector:
        """Per project and per document of the entity: the best cosine with the project's
        documents."""
        similarity = self.projects.doc_vectors @ self.c.doc_vectors[self.docs].T
        best = np.full((self.n, len(self.docs)), -1.0, dtype=np.float32)
        np.maximum.at(best, self.projects.doc_owner, similarity)
        return best

    @cached_property
    def query_means(self) -> Vector:
        return normalise(self.projects.doc_sums)

    @cached_property
    def _adapted_projects(self) -> Vector:
        return self.c.adapt(self.projects.doc_vectors)

    @cached_property
    def adapted_best(self) -> Vector:
        """As `best`, in the adapted space."""
        similarity = self._adapted_projects @ self.c.adapted.vectors[self.docs].T
        best = np.full((self.n, len(self.docs)), -1.0, dtype=np.float32)
        np.maximum.at(best, self.projects.doc_owner, similarity)
        return best

    @cached_property
    def adapted_query_means(self) -> Vector:
        sums = np.zeros((self.n, self._adapted_projects.shape[1]), dtype=np.float32)
        np.add.at(sums, self.projects.doc_owner, self._adapted_projects)
        return normalise(sums)

    def indexes(self) -> tuple[LexicalIndex, LexicalIndex, TfidfIndex, DocumentTfidfIndex]:
        return self.c.lexical_indexes()

    @property
    def texts(self) -> list[str]:
        return self.projects.texts

    def over_documents(self, per_doc: list[Vector]) -> Vector:
        """Per project, the largest of per-document values (0 without documents)."""
        out = np.zeros(self.n, dtype=np.float32)
        for values in per_doc:
            out = np.maximum(out, values)
        return out

    @cached_property
    def _names(self) -> dict[str, Vector]:
        out = {}
        for kind in ("interventions", "conditions"):
            vocabulary = getattr(self.c.registry, kind)
            wanted = [getattr(side, kind) for side in self.projects.sides]
            out[kind] = vocabulary.scores_matrix(wanted, self.docs.tolist())
        return out

    def names(self, kind: str) -> Vector:
        """Per project and per document of the entity: the cosine of their interventions (or
        conditions)."""
        return self._names[kind]

    @cached_property
    def closeness(self) -> Vector:
        """Per project and per document of the entity: how close their dates are."""
        out = np.zeros((self.n, len(self.docs)), dtype=np.float32)
        for i, side in enumerate(self.projects.sides):
            out[i] = self.c.registry.closeness(side.when, self.docs)
        return out

    def row_max(self, per_doc: Vector) -> Vector:
        """Per project, the largest of a (projects, documents) value (0 without documents)."""
        if not per_doc.shape[1]:
            return np.zeros(self.n, dtype=np.float32)
        out: Vector = per_doc.max(axis=1).astype(np.float32)
        return out

    @cached_property
    def group_members(self) -> npt.NDArray[np.int64]:
        """The entities of this one's programme (none where it has no programme)."""
        c = self.c
        if not c.grouped[self.position]:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(c.group == c.group[self.position])
