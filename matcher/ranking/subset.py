"""A loaded collection restricted to a shortlist of its entities, for the second stage of a
ranking: the features of a query against the shortlist only (or, in the reverse direction, of
the shortlisted projects against one entity).

A `Slice` answers what `pairs.Forward` and the features read from a `Loaded` collection, for the
shortlisted entities and their documents alone, while every statistic (IDF, BM25's lengths, the
registry vocabulary, programme means) stays the whole collection's. So a shortlisted entity's
features equal its row of the features over the whole collection exactly: a shortlist changes
which entities are scored, never their scores (tests/test_retrieval.py checks every feature).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..domain import Entity
from ..vectors.embedding import Matrix
from .facets import Facet, FacetSource
from .features import MAX_FACETS
from .registry import QuerySide, RegistryIndex, Vocabulary

if TYPE_CHECKING:
    from .collection import Adapter, Loaded, Space
    from .lexical import LexicalIndex
    from .phrases import PhraseIndex
    from .tfidf import DocumentTfidfIndex, TfidfIndex

Vector = npt.NDArray[np.float32]
Positions = npt.NDArray[np.int64]


class Slice:
    """The entities of `c` at `rows` (global positions, expanded to whole programmes so that
    programme means stay exact), with their documents; positions in it are local (0..len-1),
    `rows[i]` is local entity i's position in `c` and `docs[j]` local document j's."""

    def __init__(self, c: Loaded, rows: npt.ArrayLike) -> None:
        wanted = np.unique(np.asarray(rows, dtype=np.int64))
        if c.grouped.any():
            groups = np.unique(c.group[wanted][c.grouped[wanted]])
            wanted = np.union1d(wanted, np.flatnonzero(c.grouped & np.isin(c.group, groups)))
        self.c = c
        self.kind = c.kind
        self.rows: Positions = wanted
        members = [c.docs_of[r] for r in wanted.tolist()]
        counts = [len(m) for m in members]
        self.docs: Positions = np.array([d for m in members for d in m], dtype=np.int64)
        self.doc_owner = np.repeat(np.arange(len(wanted), dtype=np.int64), counts)
        self.docs_of: list[list[int]] = []
        start = 0
        for n in counts:
            self.docs_of.append(list(range(start, start + n)))
            start += n
        self.doc_rowids = c.doc_rowids[self.docs]
        self.doc_vectors: Matrix = c.doc_vectors[self.docs]
        self.sum_norms = c.sum_norms[wanted]
        self.log_documents = c.log_documents[wanted]
        self.adapter: Adapter | None = c.adapter
        self.adapted = _SpaceRows(c.adapted, self.docs, wanted)
        self.phrases = _PhraseRows(c.phrases, self.docs)
        self.registry = _RegistryRows(c.registry, self.docs)
        self.group = c.group[wanted]
        self.grouped = c.grouped[wanted]

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def entities(self) -> list[Entity]:
        return [self.c.entities[r] for r in self.rows.tolist()]

    @cached_property
    def texts(self) -> list[str]:
        return [self.c.texts[r] for r in self.rows.tolist()]

    @cached_property
    def sides(self) -> list[QuerySide]:
        return [self.c.sides[r] for r in self.rows.tolist()]

    @cached_property
    def doc_sums(self) -> Matrix:
        return self.c.doc_sums[self.rows]

    @cached_property
    def doc_texts(self) -> list[str]:
        return [self.c.doc_texts[d] for d in self.docs.tolist()]

    @cached_property
    def facet_sources(self) -> list[FacetSource]:
        return [self.c.facet_sources[r] for r in self.rows.tolist()]

    def adapt(self, vectors: Matrix) -> Matrix:
        return self.c.adapt(vectors)

    def lexical_indexes(self) -> tuple[_EntityRows, _DocumentRows, _TfidfRows, _PhrasesRows]:
        lexical, doc_lexical, tfidf, doc_tfidf = self.c.lexical_indexes()
        return (
            _EntityRows(lexical, self.rows),
            _DocumentRows(doc_lexical, self.docs),
            _TfidfRows(tfidf, self.rows, self.docs),
            _PhrasesRows(doc_tfidf, self.rows, self.docs),
        )

    def top_mean(self, doc_scores: Vector, k: int) -> Vector:
        from .collection import _top_mean

        return _top_mean(doc_scores, self.doc_owner, len(self.rows), k)

    def shared_facet_counts(self, facets: set[Facet]) -> Vector:
        cols = [self.c.facet_ids[f] for f in facets if f in self.c.facet_ids]
        if not cols:
            return np.zeros(len(self.rows), dtype=np.float32)
        counts = np.asarray(self.c.facet_matrix[self.rows][:, cols].sum(axis=1), np.float32)
        return np.minimum(counts.ravel(), MAX_FACETS)

    def group_mean(self, values: Vector) -> Vector:
        """As `Loaded.group_mean`: whole programmes are in the slice, so the means are exact."""
        if not self.grouped.any():
            return np.zeros(len(self.rows), dtype=np.float32)
        sums = np.bincount(self.group, weights=values, minlength=len(self.c.group_sizes))
        mean = (sums / np.maximum(self.c.group_sizes, 1))[self.group]
        return np.where(self.grouped, mean, 0.0).astype(np.float32)


class _SpaceRows:
    def __init__(self, space: Space, docs: Positions, rows: Positions) -> None:
        self.vectors: Matrix = space.vectors[docs]
        self.sum_norms = space.sum_norms[rows]
        self.centroids: Matrix = space.centroids[rows]


class _EntityRows:
    """BM25 over whole entities, read at the slice's rows."""

    def __init__(self, index: LexicalIndex, rows: Positions) -> None:
        self.index = index
        self.rows = rows

    def scores(self, text: str) -> Vector:
        return self.index.scores(text, self.rows)

    def score_without(self, text: str, position: int, removed: Sequence[str]) -> float:
        return self.index.score_without(text, int(self.rows[position]), removed)


class _DocumentRows:
    """BM25 over single documents, read at the slice's documents."""

    def __init__(self, index: LexicalIndex, docs: Positions) -> None:
        self.index = index
        self.docs = docs

    def scores(self, text: str) -> Vector:
        return self.index.scores(text, self.docs)

    def rarest_shared(self, text: str) -> Vector:
        return self.index.rarest_shared(text, self.docs)


class _TfidfRows:
    def __init__(self, index: TfidfIndex, rows: Positions, docs: Positions) -> None:
        self.index = index
        self.rows = rows
        self.docs = docs

    def scores(self, text: str) -> Vector:
        return self.index.scores(text, self.rows)

    def score_without(self, text: str, position: int, documents: Sequence[int]) -> float:
        gone = [int(self.docs[d]) for d in documents]
        return self.index.score_without(text, int(self.rows[position]), gone)


class _PhrasesRows:
    """TF-IDF of runs of words over each entity's documents, read at the slice's rows."""

    def __init__(self, index: DocumentTfidfIndex, rows: Positions, docs: Positions) -> None:
        self.index = index
        self.rows = rows
        self.docs = docs

    def scores(self, text: str, exclude: Sequence[int] = ()) -> Vector:
        gone = [int(self.docs[d]) for d in exclude]
        return self.index.scores(text, gone, self.rows)


class _PhraseRows:
    def __init__(self, index: PhraseIndex, docs: Positions) -> None:
        self.index = index
        self.docs = docs

    def scores(self, text: str) -> Vector:
        return self.index.scores(text)[self.docs]


class _VocabularyRows:
    def __init__(self, vocabulary: Vocabulary, docs: Positions) -> None:
        self.vocabulary = vocabulary
        self.docs = docs

    def scores(self, query: set[str]) -> Vector:
        return self.vocabulary.scores(query, self.docs)


class _RegistryRows:
    """The registry facts of the slice's documents (the vocabulary stays the collection's)."""

    def __init__(self, registry: RegistryIndex, docs: Positions) -> None:
        self.registry = registry
        self.docs = docs
        self.interventions = _VocabularyRows(registry.interventions, docs)
        self.conditions = _VocabularyRows(registry.conditions, docs)
        self.leading = registry.leading[docs]

    def phase_hits(self, phases: Sequence[int]) -> tuple[Vector, Vector]:
        has, hits = self.registry.phase_hits(phases, self.docs)
        return has, hits

    def closeness(self, when: dt.date | None) -> Vector:
        return self.registry.closeness(when, self.docs)
