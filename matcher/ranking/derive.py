"""What a loaded collection derives from its entities, documents and vectors (document vectors
and their sums, BM25, TF-IDF, phrases, registry facts, facets, the neighbour index), and the
state that `saved.SavedState` keeps on disk so that the next process reads it instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..vectors.embedding import Matrix, normalise
from ..vectors.index import Neighbours
from .lexical import LexicalIndex
from .phrases import PhraseIndex
from .registry import RegistryIndex
from .tfidf import DocumentTfidfIndex, TfidfIndex

if TYPE_CHECKING:
    from .collection import Loaded


def derive(c: Loaded) -> dict[str, Any]:
    """What the collection derives from its entities, documents and vectors (see
    `saved.SavedState`, which keeps it on disk)."""
    index, n = c.index, len(c.entities)
    vectors = (
        index.vectors(c.doc_rowids)
        if len(c.doc_rowids)
        else np.zeros((0, index.dim), dtype=np.float32)
    )
    sums = owner_sums(vectors, c.doc_owner, n)
    texts = c.doc_texts
    facets = [
        source.from_documents([texts[i] for i in c.docs_of[position]])
        for position, source in enumerate(c.facet_sources)
    ]
    vocabulary = sorted({f for fs in facets for f in fs}, key=str)
    facet_ids = {f: i for i, f in enumerate(vocabulary)}
    rows = [i for i, fs in enumerate(facets) for _ in fs]
    cols = [facet_ids[f] for fs in facets for f in fs]
    return {
        "doc_vectors": vectors,
        "doc_sums": sums,
        "sum_norms": np.linalg.norm(sums, axis=1),
        "centroids": normalise(sums) if len(sums) else sums,
        "lexical": LexicalIndex().fit(c.texts) if n else None,
        "doc_lexical": LexicalIndex(terms=False).fit(texts) if texts else None,
        "tfidf": TfidfIndex().fit(texts, c.doc_owner, n) if texts else None,
        "doc_tfidf": DocumentTfidfIndex().fit(texts, c.doc_owner, n) if texts else None,
        "phrases": PhraseIndex().fit(texts),
        "registry": RegistryIndex(c.doc_facts),
        "facets": facets,
        "facet_ids": facet_ids,
        "facet_matrix": sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(n, max(1, len(vocabulary))),
        ),
    } | _neighbours(Neighbours.build(vectors))


def fits(c: Loaded, state: Mapping[str, Any]) -> bool:
    """Whether a saved state has the shape of this collection (its key said it should)."""
    try:
        return bool(
            state["doc_vectors"].shape[0] == len(c.doc_rowids)
            and len(state["facets"]) == len(c.entities)
            and state["facet_matrix"].shape[0] == len(c.entities)
        )
    except (KeyError, AttributeError):
        return False


def state_of(c: Loaded) -> dict[str, Any]:
    """A collection's derived state, to save."""
    return {name: getattr(c, name) for name in DERIVED} | _neighbours(c.neighbours)


DERIVED = (
    "doc_vectors", "doc_sums", "sum_norms", "centroids", "lexical", "doc_lexical", "tfidf",
    "doc_tfidf", "phrases", "registry", "facets", "facet_ids", "facet_matrix",
)  # fmt: skip
"""What a collection derives and a saved state holds, besides its neighbour index."""


def _neighbours(neighbours: Neighbours) -> dict[str, Any]:
    params = asdict(neighbours.params)
    blob = np.frombuffer(neighbours.to_bytes(), dtype=np.uint8)
    return {"neighbours": {"params": params, "blob": blob}, "manifest": {"neighbours": params}}


def owner_sums(vectors: Matrix, owner: npt.NDArray[np.int64], n: int) -> Matrix:
    """Per owner, the sum of its rows of `vectors` (one sparse product: `np.add.at` takes
    seconds over 250,000 documents)."""
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    if not len(owner):
        return np.zeros((n, dim), dtype=np.float32)
    membership = sp.csr_matrix(
        (np.ones(len(owner), dtype=np.float32), (owner, np.arange(len(owner)))),
        shape=(n, len(owner)),
    )
    return np.asarray(membership @ vectors, dtype=np.float32)
