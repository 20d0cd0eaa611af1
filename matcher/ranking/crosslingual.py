"""Matching a text that is not in English (a Swedish abstract) against the English collection.

The default model reads English only, and lexical evidence (BM25, TF-IDF, shared phrases) cannot
cross languages. For a text detected as not English, the dense features are computed with a
multilingual encoder instead: the query side of the text against the passage side of every
document (whose vectors `matcher build` caches in the store under the model's name), then put
on the default model's scale, so that the scorer, its calibration and the off-topic threshold
read them as they read MiniLM's. Lexical features stay as computed: across languages they see
only the words both share (gene, marker, vector and product names: CD19, AAV9, CAR-T), which on
the bilingual set kept the two languages' top 10s closer than setting them to 0 did (see
docs/quality.md, "Swedish"). The recommender scores such a pair with the default scorer, not
the trained ranker (which leans on shared wording), and the ranking's notice says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..language import ENGLISH, UNDETERMINED, detect
from ..vectors.embedding import DocumentEncoder, Matrix, normalise
from .collection import Loaded
from .features import FAMILIES, FEATURES

DENSE = ("dense_max", "dense_mean", "dense_top3", "group_dense")
LEXICAL = (*(f for f in FEATURES if FAMILIES[f] == "lexical"), "group_lexical")
"""The features that compare words."""

TO_DEFAULT_SCALE = (3.61, -2.653)
"""(a, b): a multilingual cosine x reads as a * x + b on the default model's scale. Fitted by
`python -m bench.bilingual` ("scale ... fitted"): least squares of MiniLM's cosines between the
40 demo projects' English texts and every organisation and call document, on e5's cosines
between their Swedish versions (data/bilingual/) and the same documents. e5's cosines spread
far less than MiniLM's: unmapped, the trained and default scorers misread them."""

LANGUAGE_NAMES = {"sv": "Swedish", "da": "Danish", "no": "Norwegian", "de": "German",
                  "fr": "French", "es": "Spanish", "nl": "Dutch", "it": "Italian"}  # fmt: skip


class CrossLingual:
    """Dense features through a multilingual encoder for texts not in English.

    `queries` and `passages` are the two sides of the multilingual model; `passages` caches the
    documents' vectors in the store, so a built store embeds nothing at query time. With
    `always`, every text goes this way (to measure the multilingual model alone); without
    `lexical`, the lexical features of a pair across languages are set to 0 (measured worse)."""

    def __init__(
        self,
        queries: DocumentEncoder,
        passages: DocumentEncoder,
        *,
        detector: Callable[[str], str] = detect,
        always: bool = False,
        scale: tuple[float, float] = TO_DEFAULT_SCALE,
        lexical: bool = True,
    ) -> None:
        self.queries = queries
        self.passages = passages
        self.detector = detector
        self.always = always
        self.scale = scale
        self.lexical = lexical
        self._documents: dict[int, tuple[Loaded, Matrix]] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.passages.embedder.name.rsplit(":", 1)[0]

    def language(self, text: str) -> str | None:
        """The text's language when it is to be matched across languages; None for English (or
        a text too short to tell), which the default model reads."""
        language = self.detector(text)
        if language in (ENGLISH, UNDETERMINED):
            return "und" if self.always else None
        return language

    def warm(self, texts: list[str]) -> int:
        """Embed and cache the passage vectors of these documents that are not cached yet (for
        `matcher build`). Returns how many chunks were embedded."""
        missing = self.passages.count_missing(texts, sentences=False)
        if missing:
            self.passages.encode(texts)
        return missing

    def document_vectors(self, target: Loaded) -> Matrix:
        """The passage vectors of the collection's documents, in its document order."""
        with self._lock:
            found = self._documents.get(id(target))
            if found is not None and found[0] is target:
                return found[1]
        vectors = (
            self.passages.encode(target.doc_texts)
            if target.doc_texts
            else np.zeros((0, self.passages.embedder.dim), dtype=np.float32)
        )
        with self._lock:
            self._documents = {id(target): (target, vectors), **{
                k: v for k, v in self._documents.items() if v[0].kind is not target.kind
            }}  # fmt: skip
        return vectors

    def features(self, target: Loaded, text: str, features: Matrix) -> Matrix:
        """The pair features of a text not in English against every entity of the collection:
        `features` (as computed for the text) with the dense features replaced by the
        multilingual ones on the default model's scale (and, without `lexical`, the lexical
        ones set to 0)."""
        query = self.queries.encode([text], persist=False)
        dense = dense_features(target, self.document_vectors(target), query)
        a, b = self.scale
        out = features.copy()
        for name, values in dense.items():
            # Entities without documents (or calls outside a programme) keep their fixed value.
            held = target.grouped if name == "group_dense" else target.doc_counts > 0
            out[:, _F[name]] = np.where(held, np.clip(a * values + b, -1.0, 1.0), values)
        if not self.lexical:
            for name in LEXICAL:
                out[:, _F[name]] = 0.0
        return out

    def notice(self, language: str) -> str:
        """What a ranking across languages says first."""
        read = LANGUAGE_NAMES.get(language, "not English")
        return (
            f"This text reads as {read}: it was matched across languages by the multilingual "
            f"model ({self.name}). Only the words both languages share (gene, marker and product "
            "names) count as shared wording, so each match rests mostly on similarity of meaning, "
            "and scores run lower than for the same text in English."
        )


def dense_features(target: Loaded, documents: Matrix, query: Matrix) -> dict[str, Matrix]:
    """dense_max, dense_mean, dense_top3 and group_dense (as `Loaded.features` defines them) of
    a query's vectors against the collection, with `documents` as its documents' vectors."""
    n = len(target.entities)
    doc_scores = (documents @ query.T).max(axis=1) if len(documents) else np.zeros(0, np.float32)
    dense_max = np.full(n, -1.0, dtype=np.float32)
    np.maximum.at(dense_max, target.doc_owner, doc_scores)
    top3 = np.full(n, -1.0, dtype=np.float32)
    for position, docs in enumerate(target.docs_of):
        if docs:
            top3[position] = float(np.sort(doc_scores[docs])[::-1][:3].mean())
    sums = np.zeros((n, documents.shape[1]), dtype=np.float32)
    np.add.at(sums, target.doc_owner, documents)
    mean_query = normalise(query.mean(axis=0, keepdims=True))[0]
    dense_mean = (normalise(sums) @ mean_query).astype(np.float32)
    group = np.zeros(n, dtype=np.float32)
    if target.grouped.any():
        totals = np.bincount(target.group, weights=dense_max, minlength=len(target.group_sizes))
        mean = (totals / np.maximum(target.group_sizes, 1))[target.group]
        group = np.where(target.grouped, mean, 0.0).astype(np.float32)
    return {
        "dense_max": dense_max,
        "dense_mean": dense_mean,
        "dense_top3": top3,
        "group_dense": group,
    }


_F = {name: i for i, name in enumerate(FEATURES)}
