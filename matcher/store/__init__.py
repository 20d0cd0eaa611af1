"""The store: the only place with SQL. SQLAlchemy Core over one SQLite file by default, or a
PostgreSQL server named by MATCHER_DATABASE_URL; Alembic keeps the schema (`alembic/`)."""

from __future__ import annotations

from pathlib import Path

from .audit import ERASED_USER, Ledgers
from .cache import Cache
from .digest import Digests
from .engine import database_url
from .entities import MAX_CONFLICTS, StoredDocument, UpsertReport, visible
from .migrate import revision
from .orgs import Orgs
from .schema import HEAD
from .sources import SourceRecord, Sources
from .users import Users
from .workflow import Workflow


class Store(Sources, Cache, Users, Ledgers, Workflow, Digests, Orgs):
    """Entities and their documents, the embedding cache, accounts, the audit log, the erasure
    ledger, counted requests, feedback, the pipeline and the weekly digest's records, in one
    database. Safe to share between
    threads; several processes may use one database at once (their writes queue)."""

    def __init__(self, target: Path | str, *, upgrade: bool = True) -> None:
        """Open (and create, or upgrade) the database: a path is a SQLite file, a URL names a
        server. Without `upgrade`, the schema is left as it is (for tools that manage it).
        Raises StoreError."""
        super().__init__(target, upgrade=upgrade)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> str:
        """The Alembic revision the database is at."""
        return revision(self) or ""


__all__ = [
    "ERASED_USER",
    "HEAD",
    "MAX_CONFLICTS",
    "SourceRecord",
    "Store",
    "StoredDocument",
    "UpsertReport",
    "database_url",
    "visible",
]
