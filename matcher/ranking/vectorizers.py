"""Counting a text's words and runs of words into sparse rows, without scikit-learn.

They give the matrices scikit-learn's CountVectorizer and HashingVectorizer gave the TF-IDF
features (the same runs, the same counts, the same hashed columns: MurmurHash3, 32-bit, seed 0,
the absolute value modulo the width), so features and benchmark figures are unchanged, while a
command that ranks does not pay for importing scikit-learn (about a second).
tests/test_lexical.py checks them against scikit-learn's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import mmh3
import numpy as np
import scipy.sparse as sp

Tokenizer = Callable[[str], list[str]]


def ngrams(words: Sequence[str], low: int, high: int) -> list[str]:
    """The runs of `low` to `high` words, shortest first, each joined by one space."""
    out = list(words) if low == 1 else []
    for n in range(max(low, 2), min(high, len(words)) + 1):
        out += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return out


class NgramCounter:
    """Counts of the runs of words seen when fitted; runs not seen then are left out."""

    def __init__(self, tokenizer: Tokenizer, ngram_range: tuple[int, int]) -> None:
        self.tokenizer = tokenizer
        self.ngram_range = ngram_range

    def _runs(self, text: str) -> list[str]:
        return ngrams(self.tokenizer(text), *self.ngram_range)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        runs = [self._runs(t) for t in texts]
        self.vocabulary_ = {g: i for i, g in enumerate(sorted({g for r in runs for g in r}))}
        return self._count(runs)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._count([self._runs(t) for t in texts])

    def _count(self, runs: list[list[str]]) -> sp.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        values: list[int] = []
        for row, grams in enumerate(runs):
            counts = Counter(self.vocabulary_[g] for g in grams if g in self.vocabulary_)
            for col in sorted(counts):
                rows.append(row)
                cols.append(col)
                values.append(counts[col])
        return sp.csr_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)),
            shape=(len(runs), len(self.vocabulary_)),
            dtype=np.float32,
        )


class NgramHasher:
    """Counts of runs of words in `buckets` hashed columns: no vocabulary is kept."""

    def __init__(self, tokenizer: Tokenizer, ngram_range: tuple[int, int], buckets: int) -> None:
        self.tokenizer = tokenizer
        self.ngram_range = ngram_range
        self.buckets = buckets

    def column(self, gram: str) -> int:
        h = mmh3.hash(gram.encode("utf-8"), 0, signed=True)
        if h == -(2**31):  # |h| overflows 32 bits; scikit-learn's rule for this one value
            return (2**31 - 1 - (self.buckets - 1)) % self.buckets
        return abs(h) % self.buckets

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        known: dict[str, int] = {}  # a corpus repeats its words and runs: hash each once
        for row, text in enumerate(texts):
            for gram in ngrams(self.tokenizer(text), *self.ngram_range):
                col = known.get(gram)
                if col is None:
                    col = known[gram] = self.column(gram)
                rows.append(row)
                cols.append(col)
        out = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(texts), self.buckets),
            dtype=np.float32,
        )
        out.sum_duplicates()
        return out
