"""The first stage of a ranking: a shortlist of candidates, so that features and the scorer run
on a few hundred entities instead of every one of a large collection.

Three sources add candidates, each cheap at 100,000 entities: the documents nearest the query's
vectors (`vectors.index.Neighbours`: exact below a size, IVF above), with the model's vectors
and through the collection's adapter (whose features the trained rankers weigh most); the
documents with the best BM25 over the query's rarer words (the common ones add little to any
score and read long posting lists); and, where the collection holds registry facts, the
documents that name the query's interventions or conditions. A collection no larger than
`exhaustive_below` is scored whole, as is every candidate of a mask that leaves that few;
`bench.quality --compare-exhaustive` measures what the shortlist loses against scoring
everything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .collection import Loaded, Query

Positions = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Retrieval:
    """How many candidates each source adds, and from what size a collection is shortlisted."""

    dense: int = 200
    """The documents nearest the query's vectors (as many again through the adapter)."""
    lexical: int = 200
    """The documents with the best BM25 over the query's rarer words."""
    registry: int = 100
    """Documents that name the query's interventions or conditions, best first."""
    exhaustive_below: int = 500
    """A collection (or a mask) with at most this many entities is scored whole."""
    common: float = 0.05
    """Query words in more than this share of entities are left out of the lexical source,
    unless fewer than `rare_words` words would remain."""
    rare_words: int = 8

    def shortlist(
        self,
        c: Loaded,
        query: Query,
        mask: Mask | None = None,
        exclude: Collection[int] = (),
    ) -> Positions | None:
        """The positions to score, sorted: the shortlist, or every candidate a mask leaves
        where they are few; None: score every entity (the collection is small). Documents in
        `exclude` (store ids) bring no candidate, as they bring no evidence."""
        if len(c) <= self.exhaustive_below:
            return None
        if mask is not None and int(mask.sum()) <= self.exhaustive_below:
            return np.flatnonzero(mask).astype(np.int64)  # every candidate the mask leaves
        docs = [
            c.neighbours.search(query.vectors, self.dense),
            c.nearest_adapted(query.vectors, self.dense),
            self.words(c, query.text),
        ]
        if query.side is not None and c.registry.any:
            side = query.side
            docs.append(c.registry.interventions.top(side.interventions, self.registry))
            docs.append(c.registry.conditions.top(side.conditions, self.registry))
        found = np.unique(np.concatenate(docs))
        if exclude:
            gone = np.isin(c.doc_rowids[found], np.fromiter(exclude, dtype=np.int64))
            found = found[~gone]
        rows = np.unique(c.doc_owner[found])
        if mask is not None:
            rows = rows[mask[rows]]
        return rows

    def words(self, c: Loaded, text: str) -> Positions:
        """The documents with the best BM25 over the text's rarer words."""
        if c.doc_lexical is None:
            return np.zeros(0, dtype=np.int64)
        return c.doc_lexical.top(text, self.lexical, self.common, self.rare_words)


SHORTLIST = Retrieval()
"""The product's shortlist."""

EXHAUSTIVE = Retrieval(exhaustive_below=2**62)
"""Every entity scored: the reference the shortlist is measured against."""
