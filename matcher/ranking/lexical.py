"""BM25 lexical scores (bm25s), normalised so they compare across queries and directions (TF-IDF
and shared phrases are in tfidf.py and phrases.py).

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


@functools.lru_cache(maxsize=8192)
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
