"""Runs of words shared verbatim between a text and each document (`PhraseIndex`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..text import words


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
