"""BM25 lexical scores (bm25s), normalised so they compare across queries and directions.

A pair's lexical score is the BM25 score of the query text against the document, divided by the
best BM25 score any indexed document reaches on each query term, summed over the query's terms.
It lies in [0, 1], depends only on the pair and the indexed collection, and so is the same whether
the pair is reached from the query side or from the document side.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import Stemmer

from ..text import words
from .terms import TermIndex
from .vectorizers import NgramCounter, NgramHasher

Rows = npt.NDArray[np.int64]
"""Positions of indexed rows, for scores of a shortlist only."""

_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)
_STEMMER = Stemmer.Stemmer("english")
_SPLIT = re.compile(r"[-']")


def _words(text: str) -> list[str]:
    out: list[str] = []
    for word in words(text):
        parts = [p for p in _SPLIT.split(word) if len(p) > 1] if "-" in word else []
        for token in [word, *parts] if parts else [word]:
            if token not in _STOPWORDS and (len(token) > 1 or token.isdigit()):
                out.append(token)
    return out


@functools.lru_cache(maxsize=512)
def _cached_tokens(text: str) -> tuple[str, ...]:
    return tuple(_STEMMER.stemWords(_words(text)))


def tokens(text: str) -> list[str]:
    """Stemmed tokens without stop words; hyphenated terms count whole and as their parts."""
    return list(_cached_tokens(text))


class LexicalIndex:
    """BM25 over a fixed list of texts; row i of every result is text i."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, terms: bool = True) -> None:
        self.k1 = k1
        self.b = b
        self.terms = terms

    def fit(self, texts: Sequence[str]) -> LexicalIndex:
        # bm25s sets its own logger to DEBUG on import; keep its chatter out of our logs.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        corpus = [list(_STEMMER.stemWords(_words(text))) or ["\x00"] for text in texts]
        model: Any = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        model.index(corpus, show_progress=False)
        scores = model.scores
        vocab: dict[str, int] = model.vocab_dict
        # bm25s keeps the weights as one sparse row per term: (terms x documents).
        weights = sp.csr_matrix(
            (scores["data"], scores["indices"], scores["indptr"]),
            shape=(len(scores["indptr"]) - 1, scores["num_docs"]),
            dtype=np.float32,
        )
        self.vocab_ = vocab
        # The terms shown as reasons; an index only used for scores does without.
        self.shown_ = TermIndex().fit(texts if self.terms else [])
        self.weights_ = weights
        self.by_doc_ = weights.T.tocsr()
        self.term_max_ = np.asarray(weights.max(axis=1).todense(), dtype=np.float32).ravel()
        self.n_docs_ = int(scores["num_docs"])
        # Raw counts, kept to score a document with some of its text left out (leave-one-out).
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for row, stems in enumerate(corpus):
            for stem, n in Counter(stems).items():
                rows.append(row)
                cols.append(vocab[stem])
                values.append(n)
        counts = sp.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(corpus), len(vocab)),
            dtype=np.float32,
        )
        self.counts_ = counts
        self.counts_by_term_ = counts.tocsc()
        self.stems_ = {i: t for t, i in vocab.items()}
        self.lengths_ = np.array([len(c) for c in corpus], dtype=np.float32)
        self.mean_length_ = float(self.lengths_.mean()) if len(corpus) else 1.0
        df = np.asarray((self.counts_ > 0).sum(axis=0), dtype=np.float64).ravel()
        self.idf_ = np.log(1 + (len(corpus) - df + 0.5) / (df + 0.5)).astype(np.float32)
        return self

    def __len__(self) -> int:
        return self.n_docs_

    def top(self, text: str, k: int, common: float, rare: int) -> Rows:
        """The rows (at most k) with the best BM25 over the text's words that at most a
        `common` share of rows use (at least its `rare` rarest words): a shortlist's lexical
        candidates, reading short posting lists only."""
        ids = self.term_ids(text)
        if not len(ids):
            return np.zeros(0, dtype=np.int64)
        df = np.diff(self.weights_.indptr)[ids]
        keep = ids[df <= common * self.n_docs_]
        if len(keep) < rare:
            keep = ids[np.argsort(df, kind="stable")[:rare]]
        postings = self.weights_[keep]
        scores = np.bincount(postings.indices, weights=postings.data, minlength=self.n_docs_)
        hit = np.flatnonzero(scores > 0)
        if len(hit) > k:
            hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
        return hit.astype(np.int64)

    def term_ids(self, text: str) -> npt.NDArray[np.int64]:
        ids = {self.vocab_[t] for t in tokens(text) if t in self.vocab_}
        return np.array(sorted(ids), dtype=np.int64)

    def _norm(self, ids: npt.NDArray[np.int64]) -> float:
        return float(self.term_max_[ids].sum()) if len(ids) else 0.0

    def scores(self, text: str, rows: Rows | None = None) -> npt.NDArray[np.float32]:
        """Normalised scores of the text against every indexed document (or only those at
        `rows`, in their order), in [0, 1]."""
        ids = self.term_ids(text)
        norm = self._norm(ids)
        if norm <= 0:
            return np.zeros(self.n_docs_ if rows is None else len(rows), dtype=np.float32)
        if rows is None:
            raw = np.asarray(self.weights_[ids].sum(axis=0), dtype=np.float32).ravel()
        else:
            raw = row_dots(self.by_doc_, rows, ids, np.ones(len(ids), dtype=np.float32))
        return raw / np.float32(norm)

    def scores_against(self, texts: Sequence[str], row: int) -> npt.NDArray[np.float32]:
        """Normalised scores of many query texts against one indexed document (the reverse
        direction), equal to `scores(text)[row]` for each text."""
        doc = self.by_doc_[row]
        weight = dict(zip(doc.indices.tolist(), doc.data.tolist(), strict=True))
        out = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = self.term_ids(text)
            norm = self._norm(ids)
            if norm > 0:
                out[i] = sum(weight.get(int(t), 0.0) for t in ids) / norm
        return out

    def rarest_shared(self, text: str, rows: Rows | None = None) -> npt.NDArray[np.float32]:
        """Per document (or per document at `rows`), the IDF of the rarest query term it
        contains, over the highest IDF the collection has: near 1 when they share a name almost
        no other document uses (a product, a cell line, an acronym), 0 when they share nothing."""
        ids = self.term_ids(text)
        out = np.zeros(self.n_docs_ if rows is None else len(rows), dtype=np.float32)
        if not len(ids):
            return out
        top = float(np.log(1 + (self.n_docs_ - 0.5) / 1.5))
        if rows is not None:
            return row_dots(self.counts_, rows, ids, self.idf_[ids] / np.float32(top), "max")
        present = self.counts_by_term_[:, ids]
        for column, term in enumerate(ids):
            rows = present.indices[present.indptr[column] : present.indptr[column + 1]]
            np.maximum.at(out, rows, self.idf_[term] / top)
        return out

    def rarest_shared_against(self, texts: Sequence[str], row: int) -> npt.NDArray[np.float32]:
        """`rarest_shared(text)[row]` for many texts (the reverse direction)."""
        have = set(self.counts_[row].indices.tolist())
        top = float(np.log(1 + (self.n_docs_ - 0.5) / 1.5))
        out = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            shared = [int(t) for t in self.term_ids(text) if int(t) in have]
            out[i] = max((float(self.idf_[t]) / top for t in shared), default=0.0)
        return out

    def score_without(self, text: str, row: int, removed: Sequence[str]) -> float:
        """The normalised score of the text against document `row` with the `removed` texts taken
        out of it (same collection statistics), as BM25 would score the shortened document."""
        ids = self.term_ids(text)
        norm = self._norm(ids)
        if norm <= 0:
            return 0.0
        gone: Counter[str] = Counter(t for r in removed for t in tokens(r))
        tf = self.counts_[row].toarray().ravel()[ids].astype(np.float64)
        for i, term in enumerate(ids):
            tf[i] -= gone.get(self.stems_[int(term)], 0)
        tf = np.maximum(tf, 0.0)
        length = max(1.0, float(self.lengths_[row]) - sum(gone.values()))
        saturation = self.k1 * (1 - self.b + self.b * length / self.mean_length_)
        raw = float((self.idf_[ids] * tf / (tf + saturation)).sum())
        return raw / norm

    def shared_terms(self, text: str, row: int, limit: int = 6) -> list[str]:
        """The terms the text shares with document `row`, as a reason to show: multi-word terms
        first, then single words, rarest first; never stop words, numbers, units or generic
        words (see `matcher.ranking.terms`). Not used for scoring."""
        return self.shown_.shared(text, row, limit)


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
        self.docs_by_term_ = docs.tocsc()
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

    def scores(
        self, text: str, exclude: Sequence[int] = (), rows: Rows | None = None
    ) -> npt.NDArray[np.float32]:
        """Cosine of the text with every entity (or with those at `rows`, in their order);
        documents at the positions in `exclude` are left out of their entities."""
        query = self.query([text])
        if rows is not None:
            return self._scores_of(query, exclude, np.asarray(rows, dtype=np.int64))
        by_doc = np.asarray(
            self.docs_by_term_[:, query.indices] @ query.data, dtype=np.float64
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


def row_dots(
    matrix: sp.csr_matrix,
    rows: Rows,
    columns: npt.NDArray[np.int64] | npt.NDArray[np.int32],
    weights: npt.NDArray[np.float32],
    reduce: str = "sum",
) -> npt.NDArray[np.float32]:
    """Per row of `matrix` at `rows`: the sum of its values times the weights of `columns`
    (a sparse query's dot product), or with `reduce="max"` the largest weight among the
    columns it has. Reads only those rows, however wide the matrix is (a product with a
    sparse query allocates per column: 4 million for the hashed runs of words)."""
    sub = matrix[np.asarray(rows, dtype=np.int64)]
    out = np.zeros(len(rows), dtype=np.float32)
    if not sub.nnz or not len(columns):
        return out
    order = np.argsort(columns)
    wanted, weight = np.asarray(columns)[order], np.asarray(weights, dtype=np.float32)[order]
    at = np.minimum(np.searchsorted(wanted, sub.indices), len(wanted) - 1)
    hit = wanted[at] == sub.indices
    row = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))[hit]
    if reduce == "max":
        np.maximum.at(out, row, weight[at[hit]])
        return out
    values = sub.data[hit] * weight[at[hit]]
    return np.bincount(row, weights=values, minlength=len(rows)).astype(np.float32)


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


class PhraseIndex:
    """The longest run of words a text shares verbatim with each document: a sponsor's stock
    sentence, a protocol or product name written out the same way. Runs shorter than SHORTEST
    words count 0 (two words in common are everywhere); the score is
    (min(run, LONGEST) - SHORTEST + 1) / (LONGEST - SHORTEST + 1), in [0, 1]."""

    SHORTEST = 3
    LONGEST = 8

    def fit(self, documents: Sequence[str]) -> PhraseIndex:
        vocab: dict[str, int] = {}
        ids = [
            np.array([vocab.setdefault(w, len(vocab)) for w in words(d)], dtype=np.int64)
            for d in documents
        ]
        self.vocab_ = vocab
        keys, positions, owners = [], [], []
        offset = 0
        for doc, word_ids in enumerate(ids):
            grams = self._keys(word_ids)
            keys.append(grams)
            positions.append(offset + np.arange(len(grams), dtype=np.int64))
            owners.append(np.full(len(grams), doc, dtype=np.int64))
            offset += len(word_ids) + self.SHORTEST  # a gap: no run crosses two documents
        order_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        order = np.argsort(order_keys, kind="stable")
        self.keys_ = order_keys[order]
        self.positions_ = np.concatenate(positions)[order] if keys else order_keys
        self.owners_ = np.concatenate(owners)[order] if keys else order_keys
        self.n_docs_ = len(documents)
        return self

    def _keys(self, word_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """One integer per run of SHORTEST words (-1 where a word is unknown)."""
        k = self.SHORTEST
        if len(word_ids) < k:
            return np.zeros(0, dtype=np.int64)
        size = np.int64(len(self.vocab_) + 1)
        key = np.zeros(len(word_ids) - k + 1, dtype=np.int64)
        for j in range(k):
            key = key * size + word_ids[j : len(word_ids) - k + 1 + j]
        unknown = np.zeros(len(key), dtype=bool)
        for j in range(k):
            unknown |= word_ids[j : len(word_ids) - k + 1 + j] < 0
        return np.where(unknown, -1, key)

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        """Per document, the scaled length of the longest run of words shared with the text."""
        out = np.zeros(self.n_docs_, dtype=np.float32)
        query = self._keys(np.array([self.vocab_.get(w, -1) for w in words(text)], np.int64))
        query_at = np.flatnonzero(query >= 0)
        if not len(query_at) or not len(self.keys_):
            return out
        lo = np.searchsorted(self.keys_, query[query_at], side="left")
        hi = np.searchsorted(self.keys_, query[query_at], side="right")
        counts = hi - lo
        if not counts.sum():
            return out
        at = np.repeat(query_at, counts)
        hits = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True) if b > a])
        # A run is a chain of hits on one diagonal (document position minus query position)
        # whose query positions follow each other.
        diagonal = self.positions_[hits] - at
        order = np.lexsort((at, diagonal))
        diagonal, at, owner = diagonal[order], at[order], self.owners_[hits][order]
        starts = np.ones(len(at), dtype=bool)
        starts[1:] = (diagonal[1:] != diagonal[:-1]) | (at[1:] != at[:-1] + 1)
        run_id = np.cumsum(starts) - 1
        lengths = np.bincount(run_id)
        run_owner = owner[starts]
        longest = np.zeros(self.n_docs_, dtype=np.int64)
        np.maximum.at(longest, run_owner, lengths)
        span = self.LONGEST - self.SHORTEST + 1
        return (np.minimum(longest, span) / span).astype(np.float32)
