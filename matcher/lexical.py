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

from .text import words

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

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b

    def fit(self, texts: Sequence[str]) -> LexicalIndex:
        # bm25s sets its own logger to DEBUG on import; keep its chatter out of our logs.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        corpus: list[list[str]] = []
        surface: dict[str, Counter[str]] = {}
        for text in texts:
            plain = _words(text)
            stems = list(_STEMMER.stemWords(plain))
            for stem, word in zip(stems, plain, strict=True):
                surface.setdefault(stem, Counter())[word] += 1
            corpus.append(stems or ["\x00"])
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
        self.terms_ = {
            i: surface[t].most_common(1)[0][0] if t in surface else t for t, i in vocab.items()
        }
        self.weights_ = weights
        self.by_doc_ = weights.T.tocsr()
        self.term_max_ = np.asarray(weights.max(axis=1).todense(), dtype=np.float32).ravel()
        self.n_docs_ = int(scores["num_docs"])
        # Raw counts, kept to score a document with some of its text left out (leave-one-out).
        counts = sp.lil_matrix((len(corpus), len(vocab)), dtype=np.float32)
        for row, stems in enumerate(corpus):
            for stem, n in Counter(stems).items():
                counts[row, vocab[stem]] = n
        self.counts_ = counts.tocsr()
        self.counts_by_term_ = counts.tocsc()
        self.stems_ = {i: t for t, i in vocab.items()}
        self.lengths_ = np.array([len(c) for c in corpus], dtype=np.float32)
        self.mean_length_ = float(self.lengths_.mean()) if len(corpus) else 1.0
        df = np.asarray((self.counts_ > 0).sum(axis=0), dtype=np.float64).ravel()
        self.idf_ = np.log(1 + (len(corpus) - df + 0.5) / (df + 0.5)).astype(np.float32)
        return self

    def __len__(self) -> int:
        return self.n_docs_

    def term_ids(self, text: str) -> npt.NDArray[np.int64]:
        ids = {self.vocab_[t] for t in tokens(text) if t in self.vocab_}
        return np.array(sorted(ids), dtype=np.int64)

    def _norm(self, ids: npt.NDArray[np.int64]) -> float:
        return float(self.term_max_[ids].sum()) if len(ids) else 0.0

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        """Normalised scores of the text against every indexed document, in [0, 1]."""
        ids = self.term_ids(text)
        norm = self._norm(ids)
        if norm <= 0:
            return np.zeros(self.n_docs_, dtype=np.float32)
        raw = np.asarray(self.weights_[ids].sum(axis=0), dtype=np.float32).ravel()
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

    def rarest_shared(self, text: str) -> npt.NDArray[np.float32]:
        """Per document, the IDF of the rarest query term it contains, over the highest IDF the
        collection has: near 1 when they share a name almost no other document uses (a product,
        a cell line, an acronym), 0 when they share nothing."""
        ids = self.term_ids(text)
        out = np.zeros(self.n_docs_, dtype=np.float32)
        if not len(ids):
            return out
        present = self.counts_by_term_[:, ids]
        top = float(np.log(1 + (self.n_docs_ - 0.5) / 1.5))
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
        """The query's terms that weigh most in the document's score, heaviest first."""
        doc = self.by_doc_[row]
        weight = dict(zip(doc.indices.tolist(), doc.data.tolist(), strict=True))
        ids = [int(t) for t in self.term_ids(text) if int(t) in weight]
        ids.sort(key=lambda t: -weight[t])
        return [self.terms_[t] for t in ids[:limit]]


class TfidfIndex:
    """TF-IDF cosine (words and word pairs, sublinear term frequency) between a text and each
    entity's documents taken together; an entity can be scored with some documents left out."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.ngram_range = ngram_range

    def fit(self, documents: Sequence[str], owner: npt.NDArray[np.int64], n: int) -> TfidfIndex:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vectorizer_ = CountVectorizer(
            tokenizer=tokens, lowercase=False, token_pattern=None, ngram_range=self.ngram_range
        )
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

    def scores(self, text: str) -> npt.NDArray[np.float32]:
        """Cosine of the text with every entity."""
        query = self.query([text]).toarray().ravel()
        return np.asarray(self.vectors_ @ query, dtype=np.float32)

    def scores_against(self, texts: Sequence[str], row: int) -> npt.NDArray[np.float32]:
        """Cosine of many texts with one entity: the reverse direction."""
        return np.asarray((self.query(texts) @ self.vectors_[row].T).toarray(), np.float32).ravel()

    def score_without(self, text: str, row: int, documents: Sequence[int]) -> float:
        """Cosine with entity `row` as if the given documents (positions) were not in it."""
        counts = self.entity_counts_[row] - self.doc_counts_[list(documents)].sum(axis=0)
        vector = self._weigh(sp.csr_matrix(np.maximum(counts, 0), dtype=np.float32))
        return float((self.query([text]) @ vector.T).toarray()[0, 0])
