"""The SQLite store: entities, their documents and the embedding cache. The only module with SQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .domain import Entity, EntityKind, Organisation, Project, kind_of
from .errors import InvalidRecord, NotFound, StoreError
from .records import parse_call, parse_organisation, parse_project, to_record
from .text import content_hash

MIGRATIONS: tuple[str, ...] = (
    # 1: entities, their documents, the embedding cache
    """
    CREATE TABLE entities (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('project', 'organisation', 'call')),
        name TEXT NOT NULL,
        subkind TEXT,
        visibility TEXT,
        owner TEXT,
        record TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        stored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX entities_kind ON entities (kind, rowid);
    CREATE TABLE documents (
        rowid INTEGER PRIMARY KEY,
        entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (entity_rowid, position)
    );
    CREATE TABLE embeddings (
        model TEXT NOT NULL,
        hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, hash)
    ) WITHOUT ROWID;
    """,
)

_PARSERS: dict[EntityKind, Callable[[Any], Entity]] = {
    EntityKind.PROJECT: parse_project,
    EntityKind.ORGANISATION: parse_organisation,
    EntityKind.CALL: parse_call,
}


@dataclass(frozen=True)
class StoredDocument:
    """A document row: its store id is what the vector index uses as the vector's id."""

    rowid: int
    entity_rowid: int
    entity_id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class UpsertReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class Store:
    """One SQLite file in WAL mode with foreign keys on. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as error:
            raise StoreError(
                f"Cannot open the database {self.path}: {error}. Check MATCHER_DB_PATH."
            ) from error
        self._lock = threading.RLock()
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this release "
                    f"({len(MIGRATIONS)}). Upgrade cgt-matcher."
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self._transaction():
                    for statement in script.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ entities

    def upsert(self, entities: Sequence[Entity]) -> UpsertReport:
        """Add or replace entities, all or none: any error leaves the store as it was."""
        added = updated = unchanged = 0
        with self._transaction() as db:
            for entity in entities:
                kind = kind_of(entity)
                record = json.dumps(to_record(entity), sort_keys=True, ensure_ascii=False)
                digest = content_hash(record)
                row = db.execute(
                    "SELECT rowid, kind, content_hash FROM entities WHERE id = ?", (entity.id,)
                ).fetchone()
                if row is not None and row[1] != kind.value:
                    raise InvalidRecord(
                        f"id {entity.id!r} is already used by a stored {row[1]}; ids are unique "
                        "across projects, organisations and calls",
                        record=entity.id,
                        field="id",
                    )
                if row is not None and row[2] == digest:
                    unchanged += 1
                    continue
                values = (
                    entity.name,
                    _subkind(entity),
                    entity.visibility.value if isinstance(entity, Project) else None,
                    entity.owner if isinstance(entity, Project) else None,
                    record,
                    digest,
                )
                if row is None:
                    cursor = db.execute(
                        "INSERT INTO entities (id, kind, name, subkind, visibility, owner, record,"
                        " content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (entity.id, kind.value, *values),
                    )
                    rowid = int(cursor.lastrowid or 0)
                    added += 1
                else:
                    rowid = int(row[0])
                    db.execute(
                        "UPDATE entities SET name = ?, subkind = ?, visibility = ?, owner = ?,"
                        " record = ?, content_hash = ?,"
                        " stored_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE rowid = ?",
                        (*values, rowid),
                    )
                    updated += 1
                    stored = db.execute(
                        "SELECT title, text FROM documents WHERE entity_rowid = ?"
                        " ORDER BY position",
                        (rowid,),
                    ).fetchall()
                    if stored == [(d.title, d.text) for d in entity.documents()]:
                        continue  # same texts: the index stays valid
                    db.execute("DELETE FROM documents WHERE entity_rowid = ?", (rowid,))
                db.executemany(
                    "INSERT INTO documents (entity_rowid, position, title, text)"
                    " VALUES (?, ?, ?, ?)",
                    [(rowid, i, d.title, d.text) for i, d in enumerate(entity.documents())],
                )
        return UpsertReport(added, updated, unchanged)

    def delete(self, id: str) -> EntityKind:
        """Remove an entity and its documents. Raises NotFound."""
        with self._transaction() as db:
            row = db.execute("SELECT kind FROM entities WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NotFound("entity", id)
            db.execute("DELETE FROM entities WHERE id = ?", (id,))
        return EntityKind(row[0])

    def get(self, id: str, kind: EntityKind | None = None) -> Entity:
        """The stored entity with this id (of this kind, when given). Raises NotFound."""
        with self._lock:
            row = self._db.execute(
                "SELECT kind, record FROM entities WHERE id = ?", (id,)
            ).fetchone()
        if row is None or (kind is not None and row[0] != kind.value):
            raise NotFound(kind.value if kind else "entity", id)
        return _PARSERS[EntityKind(row[0])](json.loads(row[1]))

    def entities(self, kind: EntityKind) -> list[Entity]:
        """Every entity of a kind, in the order they were first stored."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM entities WHERE kind = ? ORDER BY rowid", (kind.value,)
            ).fetchall()
        parse = _PARSERS[kind]
        return [parse(json.loads(r[0])) for r in rows]

    def rowids(self, kind: EntityKind) -> dict[str, int]:
        """Entity id to store rowid, for every entity of a kind."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, rowid FROM entities WHERE kind = ? ORDER BY rowid", (kind.value,)
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def count(self, kind: EntityKind) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM entities WHERE kind = ?", (kind.value,))
            return int(row.fetchone()[0])

    def documents(self, kind: EntityKind) -> list[StoredDocument]:
        """Every document of every entity of a kind, ordered by entity then position."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.rowid, e.rowid, e.id, d.text, d.title FROM documents d"
                " JOIN entities e ON e.rowid = d.entity_rowid WHERE e.kind = ?"
                " ORDER BY e.rowid, d.position",
                (kind.value,),
            ).fetchall()
        return [StoredDocument(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows]

    def data_hash(self, kind: EntityKind, documents: list[StoredDocument] | None = None) -> str:
        """A digest of what an index of this kind is built from: document ids and texts."""
        digest = hashlib.sha256(kind.value.encode())
        for doc in self.documents(kind) if documents is None else documents:
            digest.update(
                f"{doc.rowid}\x1f{doc.entity_id}\x1f{content_hash(doc.text)}\x1e".encode()
            )
        return digest.hexdigest()

    # ------------------------------------------------------------------ embedding cache

    def cached_vectors(
        self, model: str, hashes: Iterable[str]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Cached embeddings for the given content hashes; missing ones are left out."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                    (model, *chunk),
                ).fetchall()
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cache_vectors(self, model: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )


def _subkind(entity: Entity) -> str | None:
    if isinstance(entity, Organisation):
        return entity.kind.value
    if isinstance(entity, Project):
        return entity.modality.value
    return None
