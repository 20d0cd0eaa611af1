"""Vectors: the embedding model and the saved FAISS indexes of document vectors."""

from .adapter import LinearAdapter, adapter_path, load_adapter
from .embedding import (
    DocumentEncoder,
    Embedder,
    Matrix,
    SentenceTransformerEmbedder,
    normalise,
    resolve_model,
)
from .index import Manifest, VectorIndex, new_manifest, read_manifest
from .ray_engine import RayEngine

__all__ = [
    "DocumentEncoder",
    "Embedder",
    "LinearAdapter",
    "Manifest",
    "Matrix",
    "RayEngine",
    "SentenceTransformerEmbedder",
    "VectorIndex",
    "adapter_path",
    "load_adapter",
    "new_manifest",
    "normalise",
    "read_manifest",
    "resolve_model",
]
