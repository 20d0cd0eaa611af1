"""The SQLite store: entities, their documents and the embedding cache. The only module with SQL."""

from __future__ import annotations

import datetime as dt
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
from .errors import Conflict, InvalidRecord, InvalidRecords, NotFound, StoreError
from .records import parse_call, parse_organisation, parse_project, to_record
from .roles import ApiKey, AuditEntry, Erasure, Role, Scope, User
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
    # 2: project members for visibility in queries; users, keys, sessions; audit; erasure ledger
    """
    CREATE TABLE members (
        entity_rowid INTEGER NOT NULL REFERENCES entities (rowid) ON DELETE CASCADE,
        user TEXT NOT NULL,
        PRIMARY KEY (entity_rowid, user)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members (user);
    INSERT OR IGNORE INTO members (entity_rowid, user)
        SELECT rowid, owner FROM entities WHERE kind = 'project' AND owner IS NOT NULL;
    INSERT OR IGNORE INTO members (entity_rowid, user)
        SELECT e.rowid, j.value FROM entities e, json_each(e.record, '$.team') j
        WHERE e.kind = 'project';
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'bizdev', 'researcher', 'guest')),
        organisation TEXT,
        display_name TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        secret_hash TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        expires_at TEXT,
        revoked_at TEXT
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        kind TEXT NOT NULL,
        object_id TEXT NOT NULL
    );
    CREATE INDEX audit_object ON audit (object_id, at);
    CREATE TABLE erasures (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        by TEXT NOT NULL,
        kind TEXT NOT NULL,
        object_id TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('generation', 0)
    """,
    # 3: the database's identity, a random id that every index built from it records (index.py)
    """
    CREATE TABLE identity (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL);
    INSERT INTO identity (one, id) VALUES (1, lower(hex(randomblob(16))))
    """,
    # 4: a membership belongs to the account that held the username when it was written: the
    # erasure of a user ends theirs (ended_by names the ledger entry), and a later account of
    # the same name starts with nothing. Users erased before this version end theirs now.
    """
    ALTER TABLE members ADD COLUMN ended_by INTEGER REFERENCES erasures (id);
    UPDATE members SET ended_by = (SELECT max(x.id) FROM erasures x
        WHERE x.kind = 'user' AND x.object_id = members.user)
        WHERE user IN (SELECT object_id FROM erasures WHERE kind = 'user')
    """,
)

ERASED_USER = "erased-user-"
"""What an erased user's audit entries name instead of them, followed by the ledger entry."""

MAX_CONFLICTS = 50
"""The most id conflicts one upsert lists; the rest are counted."""

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
            # Deleted rows are overwritten, not left in free pages: erasure means gone.
            self._db.execute("PRAGMA secure_delete = ON")
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
    def database_id(self) -> str:
        """A random id given to this database when it was created (copies and backups keep it);
        an index records it, so that it is never used with another database."""
        with self._lock:
            row = self._db.execute("SELECT id FROM identity").fetchone()
        return str(row[0])

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
        """Add or replace entities, all or none: any error leaves the store as it was. Raises
        InvalidRecords listing every id already used by a stored entity of another kind."""
        added = updated = unchanged = 0
        conflicts: list[InvalidRecord] = []
        with self._transaction() as db:
            for entity in entities:
                kind = kind_of(entity)
                record = json.dumps(to_record(entity), sort_keys=True, ensure_ascii=False)
                digest = content_hash(record)
                row = db.execute(
                    "SELECT rowid, kind, content_hash FROM entities WHERE id = ?", (entity.id,)
                ).fetchone()
                if row is not None and row[1] != kind.value:
                    conflicts.append(
                        InvalidRecord(
                            f"id {entity.id!r} is already used by a stored {row[1]}; ids are "
                            "unique across projects, organisations and calls",
                            record=entity.id,
                            field="id",
                        )
                    )
                    continue
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
                    _set_members(db, rowid, entity)
                else:
                    rowid = int(row[0])
                    db.execute(
                        "UPDATE entities SET name = ?, subkind = ?, visibility = ?, owner = ?,"
                        " record = ?, content_hash = ?,"
                        " stored_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE rowid = ?",
                        (*values, rowid),
                    )
                    updated += 1
                    _set_members(db, rowid, entity)
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
            if conflicts:  # rolls the whole upsert back
                raise InvalidRecords(
                    conflicts[:MAX_CONFLICTS], omitted=len(conflicts[MAX_CONFLICTS:])
                )
            if added or updated:
                _bump(db)
        return UpsertReport(added, updated, unchanged)

    def delete(self, id: str) -> EntityKind:
        """Remove an entity and its documents. Raises NotFound."""
        with self._transaction() as db:
            row = db.execute("SELECT kind FROM entities WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise NotFound("entity", id)
            db.execute("DELETE FROM entities WHERE id = ?", (id,))
            _bump(db)
        return EntityKind(row[0])

    def generation(self) -> int:
        """A counter that every change to the entities moves on; caches compare it."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def get(self, id: str, kind: EntityKind | None = None, scope: Scope | None = None) -> Entity:
        """The stored entity with this id (of this kind, when given) that the scope may read.
        An entity outside the scope is not found, exactly like a missing one. Raises NotFound."""
        # One query, whether the id is missing, of another kind or outside the scope: the
        # store does the same work in each case, so no timing tells them apart.
        kinds = list(EntityKind) if kind is None else [kind]
        conditions, params = [], []
        for each in kinds:
            where, values = _scope_sql(each, scope)
            conditions.append(f"(e.kind = ? AND {where})")
            params += [each.value, *values]
        with self._lock:
            row = self._db.execute(
                f"SELECT kind, record FROM entities e WHERE id = ? AND ({' OR '.join(conditions)})",
                (id, *params),
            ).fetchone()
        if row is None:
            raise NotFound(kind.value if kind else "entity", id)
        return _PARSERS[EntityKind(row[0])](json.loads(row[1]))

    def entities(
        self,
        kind: EntityKind,
        scope: Scope | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Entity]:
        """The entities of a kind that the scope may read, in the order they were first stored."""
        where, params = _scope_sql(kind, scope)
        with self._lock:
            rows = self._db.execute(
                f"SELECT record FROM entities e WHERE kind = ? AND {where} ORDER BY rowid"
                " LIMIT ? OFFSET ?",
                (kind.value, *params, -1 if limit is None else limit, offset),
            ).fetchall()
        parse = _PARSERS[kind]
        return [parse(json.loads(r[0])) for r in rows]

    def ids(self, kind: EntityKind, scope: Scope | None = None) -> set[str]:
        """The ids of the entities of a kind that the scope may read."""
        where, params = _scope_sql(kind, scope)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id FROM entities e WHERE kind = ? AND {where}", (kind.value, *params)
            ).fetchall()
        return {r[0] for r in rows}

    def rowids(self, kind: EntityKind) -> dict[str, int]:
        """Entity id to store rowid, for every entity of a kind."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, rowid FROM entities WHERE kind = ? ORDER BY rowid", (kind.value,)
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def count(self, kind: EntityKind, scope: Scope | None = None) -> int:
        where, params = _scope_sql(kind, scope)
        with self._lock:
            row = self._db.execute(
                f"SELECT count(*) FROM entities e WHERE kind = ? AND {where}", (kind.value, *params)
            )
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

    # ------------------------------------------------------------------ users and credentials

    def add_user(
        self,
        username: str,
        role: Role,
        organisation: str | None = None,
        display_name: str = "",
        password_hash: str | None = None,
    ) -> User:
        """Raises Conflict when the username is taken."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise Conflict(f"A user named {username!r} exists already.")
            # To the millisecond: `matcher erase --replay` tells a later account of the same
            # name from the one a ledger entry erased by this time (erasure.py).
            db.execute(
                "INSERT INTO users (username, role, organisation, display_name, password_hash,"
                " created_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                (username, role.value, organisation, display_name, password_hash),
            )
        return self.user(username)

    def user(self, username: str) -> User:
        """Raises NotFound."""
        with self._lock:
            row = self._db.execute(f"{_USER} WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise NotFound("user", username)
        return _user(row)

    def users(self) -> list[User]:
        with self._lock:
            return [_user(r) for r in self._db.execute(f"{_USER} ORDER BY id").fetchall()]

    def password_hash(self, username: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash FROM users WHERE username = ? AND disabled = 0", (username,)
            ).fetchone()
        return None if row is None else row[0]

    def set_password(self, username: str, password_hash: str) -> None:
        with self._transaction() as db:
            self._user_id(db, username)
            db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username)
            )
            db.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?)",
                (username,),
            )

    def update_user(
        self,
        username: str,
        role: Role,
        organisation: str | None,
        display_name: str,
        disabled: bool,
    ) -> User:
        """Replace a user's role, organisation, name and state. Disabling (or changing the role)
        closes their sessions; their keys stop working while they are disabled."""
        with self._transaction() as db:
            user_id = self._user_id(db, username)
            db.execute(
                "UPDATE users SET role = ?, organisation = ?, display_name = ?, disabled = ?"
                " WHERE id = ?",
                (role.value, organisation, display_name, int(disabled), user_id),
            )
            db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return self.user(username)

    def add_key(
        self, username: str, key_id: str, secret_hash: str, label: str, expires_at: str | None
    ) -> ApiKey:
        with self._transaction() as db:
            user_id = self._user_id(db, username)
            db.execute(
                "INSERT INTO api_keys (key_id, user_id, secret_hash, label, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key_id, user_id, secret_hash, label, expires_at),
            )
        return next(k for k in self.keys(username) if k.key_id == key_id)

    def keys(self, username: str) -> list[ApiKey]:
        """A user's keys, revoked and expired ones included. Raises NotFound."""
        with self._lock:
            self._user_id(self._db, username)
            rows = self._db.execute(
                f"{_KEY} WHERE u.username = ? ORDER BY k.created_at, k.key_id", (username,)
            ).fetchall()
        return [_key(r) for r in rows]

    def revoke_key(self, username: str, key_id: str) -> ApiKey:
        """Raises NotFound when the user has no key with this id."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at,"
                " strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) WHERE key_id = ?"
                " AND user_id = (SELECT id FROM users WHERE username = ?)",
                (key_id, username),
            ).rowcount
        if not changed:
            raise NotFound("key", key_id)
        return next(k for k in self.keys(username) if k.key_id == key_id)

    def key_holder(self, key_id: str) -> tuple[ApiKey, str, User] | None:
        """The key with this id, its secret's digest and its enabled user; None when unknown."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_KEY_COLUMNS}, k.secret_hash, u.id FROM api_keys k"
                " JOIN users u ON u.id = k.user_id WHERE k.key_id = ? AND u.disabled = 0",
                (key_id,),
            ).fetchone()
            if row is None:
                return None
            user = self._db.execute(f"{_USER} WHERE id = ?", (row[-1],)).fetchone()
        return _key(row[:6]), row[6], _user(user)

    def add_session(self, username: str, token_hash: str, expires_at: str) -> None:
        with self._transaction() as db:
            user_id = self._user_id(db, username)
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", (_now(),))
            db.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)",
                (token_hash, user_id, expires_at),
            )

    def session_user(self, token_hash: str) -> User | None:
        """The enabled user of an unexpired session."""
        with self._lock:
            row = self._db.execute(
                f"{_USER} WHERE disabled = 0 AND id = (SELECT user_id FROM sessions"
                " WHERE token_hash = ? AND expires_at > ?)",
                (token_hash, _now()),
            ).fetchone()
        return None if row is None else _user(row)

    def drop_session(self, token_hash: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def _user_id(self, db: sqlite3.Connection, username: str) -> int:
        row = db.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise NotFound("user", username)
        return int(row[0])

    # ------------------------------------------------------------------ audit and erasure

    def record_audit(self, entries: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Append (actor, role, action, kind, object id) rows to the audit log."""
        if not entries:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO audit (actor, role, action, kind, object_id) VALUES (?, ?, ?, ?, ?)",
                entries,
            )

    def audit(
        self,
        object_id: str | None = None,
        actor: str | None = None,
        since: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered by object, actor and time (ISO 8601)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, actor, role, action, kind, object_id FROM audit"
                " WHERE (? IS NULL OR object_id = ?) AND (? IS NULL OR actor = ?)"
                " AND (? IS NULL OR at >= ?) ORDER BY id DESC LIMIT ?",
                (object_id, object_id, actor, actor, since, since, limit),
            ).fetchall()
        return [AuditEntry(r[0], _time(r[1]), *r[2:]) for r in rows]

    def erase(self, kind: str, id: str, by: str, vector_hashes: Iterable[str] = ()) -> Erasure:
        """Remove a project, an organisation or a user and write the erasure ledger entry, in one
        transaction. For an entity, `vector_hashes` name the cached embeddings of its texts; for
        a user, their keys and sessions go and their audit entries are pseudonymised."""
        with self._transaction() as db:
            if kind == "user":
                self._user_id(db, id)
            else:
                row = db.execute("SELECT kind FROM entities WHERE id = ?", (id,)).fetchone()
                if row is None or row[0] != kind:
                    raise NotFound(kind, id)
            cursor = db.execute(
                "INSERT INTO erasures (by, kind, object_id) VALUES (?, ?, ?)", (by, kind, id)
            )
            number = int(cursor.lastrowid or 0)
            if kind == "user":
                db.execute("DELETE FROM users WHERE username = ?", (id,))
                db.execute(
                    "UPDATE audit SET actor = ? WHERE actor = ?", (f"{ERASED_USER}{number}", id)
                )
                # Their memberships end with the account; the rows stay (ended) while a project
                # still names the username, so that rewriting it gives nothing back.
                ended = db.execute(
                    "UPDATE members SET ended_by = ? WHERE user = ? AND ended_by IS NULL",
                    (number, id),
                ).rowcount
                if ended:
                    _bump(db)  # what each scope lets through has changed: caches start again
            else:
                db.execute("DELETE FROM entities WHERE id = ?", (id,))
                db.executemany(
                    "DELETE FROM embeddings WHERE hash = ?", [(h,) for h in set(vector_hashes)]
                )
                _bump(db)
        with self._lock:  # old page images in the write-ahead log go too
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return next(e for e in self.erasures() if e.id == number)

    def erasures(self) -> list[Erasure]:
        """The erasure ledger, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, by, kind, object_id FROM erasures ORDER BY id"
            ).fetchall()
        return [Erasure(r[0], _time(r[1]), r[2], r[3], r[4]) for r in rows]


_USER = "SELECT id, username, role, organisation, display_name, created_at, disabled FROM users"
_KEY_COLUMNS = "k.key_id, u.username, k.label, k.created_at, k.expires_at, k.revoked_at"
_KEY = f"SELECT {_KEY_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id"


def _user(row: Sequence[Any]) -> User:
    return User(row[0], row[1], Role(row[2]), row[3], row[4], _time(row[5]), bool(row[6]))


def _key(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        row[0],
        row[1],
        row[2],
        _time(row[3]),
        _time(row[4]) if row[4] else None,
        _time(row[5]) if row[5] else None,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bump(db: sqlite3.Connection) -> None:
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")


def _set_members(db: sqlite3.Connection, rowid: int, entity: Entity) -> None:
    """Make the project's members its owner and team. A membership the project keeps stays as
    it is, ended included: an ended one is never renewed by rewriting the project (an old data
    file loaded again), only by taking the username off the project and putting it back."""
    named = {entity.owner, *entity.team} if isinstance(entity, Project) else set()
    stored = {r[0] for r in db.execute("SELECT user FROM members WHERE entity_rowid = ?", (rowid,))}
    db.executemany(
        "DELETE FROM members WHERE entity_rowid = ? AND user = ?",
        [(rowid, user) for user in sorted(stored - named)],
    )
    db.executemany(
        "INSERT INTO members (entity_rowid, user) VALUES (?, ?)",
        [(rowid, user) for user in sorted(named - stored)],
    )


def _scope_sql(kind: EntityKind, scope: Scope | None) -> tuple[str, list[Any]]:
    """The condition on `entities e` that lets through what the scope may read."""
    if scope is None:
        return "1", []
    if kind is EntityKind.PROJECT:
        visibilities = sorted(v.value for v in scope.visibilities)
        where = f"e.visibility IN ({','.join('?' * len(visibilities))})" if visibilities else "0"
        params: list[Any] = list(visibilities)
        if scope.member is not None:
            where = (
                f"({where} OR EXISTS (SELECT 1 FROM members m"
                " WHERE m.entity_rowid = e.rowid AND m.user = ? AND m.ended_by IS NULL))"
            )
            params.append(scope.member)
        return where, params
    if kind is EntityKind.ORGANISATION:
        if scope.organisations is None:
            return "1", []
        ids = sorted(scope.organisations)
        return (f"e.id IN ({','.join('?' * len(ids))})" if ids else "0"), ids
    return ("1" if scope.calls else "0"), []


def _subkind(entity: Entity) -> str | None:
    if isinstance(entity, Organisation):
        return entity.kind.value
    if isinstance(entity, Project):
        return entity.modality.value
    return None
