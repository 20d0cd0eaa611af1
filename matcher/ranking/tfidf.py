"""TF-IDF cosines between a text and each entity: over words and word pairs (`TfidfIndex`),
and over runs of up to four words with every document counting the same (`DocumentTfidfIndex`).
Both can score an entity with some of its documents left out, and read only a shortlist's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .lexical import Rows, row_dots, tokens
from .vectorizers import NgramCounter, NgramHasher


class TfidfIndex:
    """TF-IDF cosine (words and word pairs, sublinear term frequency) between a text and each
    entity's documents taken together; an entity can be scored with some documents left out."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.ngram_range = ngram_range

    def fit(self, documents: Sequence[str], owner: npt.NDArray[np.int64], n: int) -> TfidfIndex:
        self.vectorizer_ = NgramCounter(tokens, self.ngram_range)
        counts = sp.csr_matrix(self.vectorizer_.fit_transform(documents), dtype=np.float32)
        df = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
        self.idf_ = (np.log((1 + len(documents)) / (1 + df)) + 1).astype(np.float32)
        membership = sp.csr_matrix(
            (np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))),
            shape=(n, len(owner)),
        )
        self.doc_counts_ = counts
        self.entity_counts_ = sp.csr_matrix(membership @ counts)
        self.vectors_ = self._weigh(self.entity_counts_)
        self.vectors_by_term_ = self.vectors_.tocsc()
        return self

    def _weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        weighted = counts.copy()
        weighted.data = (1 + np.log(np.maximum(weighted.data, 1e-12))) * self.idf_[weighted.indices]
        weighted.data[counts.data <= 0] = 0
        weighted.eliminate_zeros()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        scale = sp.diags(1 / np.maximum(norms, 1e-12))
        return sp.csr_matrix(scale @ weighted, dtype=np.float32)

    def query(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._weigh(sp.csr_matrix(self.vectorizer_.transform(texts), dtype=np.float32))

    def scores(self, text: str, rows: Rows | None = None) -> npt.NDArray[np.float32]:
        """Cosine of the text with every entity (or with those at `rows`, in their order)."""
        query = self.query([text])
        if rows is not None:
            return row_dots(self.vectors_, rows, query.indices, query.data)
        # Only the query's terms' columns: a product over every entity's row would read them all.
        return np.asarray(
            self.vectors_by_term_[:, query.indices] @ query.data, dtype=np.float32
        ).ravel()

    def scores_against(self, texts: Sequence[str], row: int) -> npt.NDArray[np.float32]:
        """Cosine of many texts with one entity: the reverse direction."""
        return np.asarray((self.query(texts) @ self.vectors_[row].T).toarray(), np.float32).ravel()

    def score_without(self, text: str, row: int, documents: Sequence[int]) -> float:
        """Cosine with entity `row` as if the given documents (positions) were not in it."""
        counts = self.entity_counts_[row] - self.doc_counts_[list(documents)].sum(axis=0)
        vector = self._weigh(sp.csr_matrix(np.maximum(counts, 0), dtype=np.float32))
        return float((self.query([text]) @ vector.T).toarray()[0, 0])


class DocumentTfidfIndex:
    """TF-IDF cosine over words and runs of up to four words (sublinear term frequency), where
    an entity is the sum of its documents' unit vectors: each document counts the same however
    long it is, and a phrase an organisation repeats across its records (a sponsor's own wording)
    weighs in. Runs are hashed, so no vocabulary is kept. An entity's norm comes from the dot
    products of its documents with each other, so documents can be left out exactly."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), buckets: int = 2**22) -> None:
        self.ngram_range = ngram_range
        self.buckets = buckets

    def fit(
        self, documents: Sequence[str], owner: npt.NDArray[np.int64], n: int
    ) -> DocumentTfidfIndex:
        self.vectorizer_ = NgramHasher(tokens, self.ngram_range, self.buckets)
        counts = sp.csr_matrix(self.vectorizer_.transform(documents), dtype=np.float32)
        df = np.bincount(counts.indices, minlength=self.buckets).astype(np.float64)
        self.idf_ = (np.log((1 + len(documents)) / (1 + df)) + 1).astype(np.float32)
        docs = self._unit(counts)
        self.docs_ = docs
        self.docs_by_term_: sp.csc_matrix | None = docs.tocsc()
        self.owner_ = np.asarray(owner, dtype=np.int64)
        self.n_ = n
        order = np.argsort(self.owner_, kind="stable")
        bounds = np.searchsorted(self.owner_[order], np.arange(n + 1))
        self.members_: list[npt.NDArray[np.int64]] = [
            order[bounds[i] : bounds[i + 1]] for i in range(n)
        ]
        self.grams_ = [_gram(docs[m]) for m in self.members_]
        self.norms2_ = np.array([g.sum() for g in self.grams_], dtype=np.float64)
        return self

    def _unit(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf times idf, each row scaled to unit length (empty rows stay empty)."""
        out = counts.copy()
        out.data = (1 + np.log(np.maximum(out.data, 1e-12))) * self.idf_[out.indices]
        out.data[counts.data <= 0] = 0
        squares = np.zeros(out.shape[0], dtype=np.float64)
        rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        np.add.at(squares, rows, out.data.astype(np.float64) ** 2)
        norms = np.sqrt(squares)
        out.data = (out.data / np.maximum(norms[rows], 1e-12)).astype(np.float32)
        return out

    def query(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._unit(sp.csr_matrix(self.vectorizer_.transform(texts), dtype=np.float32))

    def _by_term(self) -> sp.csc_matrix:
        if self.docs_by_term_ is None:  # dropped when saved: see __getstate__
            self.docs_by_term_ = self.docs_.tocsc()
        return self.docs_by_term_

    def __getstate__(self) -> dict[str, Any]:
        """Saved without what is as wide as the hashed columns (4 million): the column-major
        copy, rebuilt when first needed, and the IDF of columns no document has (one value)."""
        state = dict(self.__dict__)
        state["docs_by_term_"] = None
        used = np.flatnonzero(self.idf_ != self.idf_.max()) if len(self.idf_) else self.idf_
        state["idf_"] = (len(self.idf_), float(self.idf_.max(initial=0.0)), used,
                         self.idf_[used])  # fmt: skip
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        size, unused, used, values = state["idf_"]
        idf = np.full(size, unused, dtype=np.float32)
        idf[used] = values
        self.__dict__.update({**state, "idf_": idf})

    def scores(
        self, text: str, exclude: Sequence[int] = (), rows: Rows | None = None
    ) -> npt.NDArray[np.float32]:
        """Cosine of the text with every entity (or with those at `rows`, in their order);
        documents at the positions in `exclude` are left out of their entities."""
        query = self.query([text])
        if rows is not None:
            return self._scores_of(query, exclude, np.asarray(rows, dtype=np.int64))
        by_doc = np.asarray(
            self._by_term()[:, query.indices] @ query.data, dtype=np.float64
        ).ravel()
        norms2 = self.norms2_.copy()
        if len(exclude):
            gone = np.zeros(len(by_doc), dtype=bool)
            gone[list(exclude)] = True
            by_doc[gone] = 0.0
            for entity in np.unique(self.owner_[gone]):
                kept = ~gone[self.members_[entity]]
                norms2[entity] = self.grams_[entity][np.ix_(kept, kept)].sum()
        dots = np.bincount(self.owner_, weights=by_doc, minlength=self.n_).astype(np.float64)
        return _cosine(dots, norms2)

    def _scores_of(
        self, query: sp.csr_matrix, exclude: Sequence[int], rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """`scores` for the entities at `rows` only, reading only their documents."""
        members = [self.members_[r] for r in rows.tolist()]
        docs = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
        local = np.repeat(np.arange(len(rows)), [len(m) for m in members])
        by_doc = row_dots(self.docs_, docs, query.indices, query.data).astype(np.float64)
        norms2 = self.norms2_[rows].copy()
        if len(exclude):
            gone = np.isin(docs, np.asarray(list(exclude), dtype=np.int64))
            by_doc[gone] = 0.0
            for i in np.unique(local[gone]).tolist():
                kept = ~gone[local == i]
                norms2[i] = self.grams_[int(rows[i])][np.ix_(kept, kept)].sum()
        dots = np.bincount(local, weights=by_doc, minlength=len(rows)).astype(np.float64)
        return _cosine(dots, norms2)

    def scores_against(self, texts: Sequence[str], row: int) -> npt.NDArray[np.float32]:
        """Cosine of many texts with one entity: the reverse direction."""
        members = self.docs_[self.members_[row]]
        dots = np.asarray((self.query(texts) @ members.T).sum(axis=1), np.float64).ravel()
        return _cosine(dots, np.full(len(dots), self.norms2_[row]))


def _gram(rows: sp.csr_matrix) -> npt.NDArray[np.float64]:
    """Dot products of a few sparse rows with each other (columns remapped to the ones used)."""
    if not rows.nnz:
        return np.zeros((rows.shape[0], rows.shape[0]))
    used, inverse = np.unique(rows.indices, return_inverse=True)
    dense = np.zeros((rows.shape[0], len(used)))
    at = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    dense[at, inverse] = rows.data
    return dense @ dense.T


def _cosine(
    dots: npt.NDArray[np.float64], norms2: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    norms = np.sqrt(np.maximum(norms2, 0.0))
    return np.where(norms > 1e-6, dots / np.maximum(norms, 1e-6), 0.0).astype(np.float32)
