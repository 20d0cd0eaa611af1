"""The embedding cache: a vector per model and content hash, so a text is embedded once."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Insert, select

from .engine import Database
from .schema import embeddings

_CHUNK = 500


class Cache(Database):
    """The embedding cache's part of the store."""

    def cached_vectors(
        self, model: str, hashes: Iterable[str]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Cached embeddings for the given content hashes; missing ones are left out."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, npt.NDArray[np.float32]] = {}
        c = embeddings.c
        with self.read() as db:
            for start in range(0, len(wanted), _CHUNK):
                query = select(c.hash, c.vector).where(
                    c.model == model, c.hash.in_(wanted[start : start + _CHUNK])
                )
                for hash, blob in db.execute(query).all():
                    found[hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, model: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        """Add vectors; one already cached is kept (a content hash names one text, so one
        vector per model)."""
        if not vectors:
            return
        rows = [
            {"model": model, "hash": h, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for h, v in vectors.items()
        ]
        with self.write() as db:
            db.execute(_insert_new(db), rows)


def _insert_new(db: Connection) -> Insert:
    """An insert that leaves rows already there as they are, in the database's own words."""
    # Imported here: the dialects' modules cost a command's start-up a quarter of a second.
    from sqlalchemy.dialects import postgresql, sqlite

    if db.dialect.name == "postgresql":
        return postgresql.insert(embeddings).on_conflict_do_nothing()
    return sqlite.insert(embeddings).on_conflict_do_nothing()
