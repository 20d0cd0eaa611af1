"""Connections and transactions: one SQLite file by default, or a server named by a URL."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from ..errors import StoreError
from .schema import identity, meta

log = logging.getLogger(__name__)

WRITE_LOCK = 2_026_120_101
"""PostgreSQL advisory lock held by every writing transaction: writes from several processes
run one after another, as SQLite's BEGIN IMMEDIATE makes them."""
SERVING_LOCK = 2_026_120_102
"""Held shared by every serving process; a schema upgrade needs it exclusively."""
MIGRATING_LOCK = 2_026_120_103
"""Held by the one process upgrading the schema; others wait for it."""


def database_url(target: Path | str) -> URL:
    """A URL for a path (a SQLite file) or for a URL given as text (`postgresql+psycopg://...`;
    `postgresql://` means psycopg 3 too)."""
    text = str(target)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text)))
    try:
        url = make_url(text)
    except SQLAlchemyError as error:
        raise StoreError(f"MATCHER_DATABASE_URL is not a database URL: {error}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"MATCHER_DATABASE_URL names a {url.get_backend_name()} database: use a SQLite file "
            "(MATCHER_DB_PATH) or PostgreSQL (postgresql://user@host/name)."
        )
    return url


class Database:
    """An engine and its transactions. Reads see one consistent snapshot; writes take the
    store-wide write lock, so concurrent writers (several servers, a load, an import) queue."""

    def __init__(self, target: Path | str, *, upgrade: bool = True) -> None:
        self.url = database_url(target)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.path = Path(self.url.database or "") if self.sqlite else None
        self.location = str(self.path) if self.path else self.url.render_as_string()
        """Where the database is, as a person names it (a URL's password is hidden)."""
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = _engine(self.url)
            self._engine.connect().close()  # fails here, with the reason, if unreachable
        except (SQLAlchemyError, OSError) as error:
            self.close()
            raise StoreError(
                f"Cannot open the database {self.location}: {_reason(error)}. Check "
                "MATCHER_DB_PATH or MATCHER_DATABASE_URL."
            ) from error
        self._serving: Any = None
        if not upgrade:
            return
        try:
            from .migrate import bring_up_to_date

            bring_up_to_date(self)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.stop_serving()
        engine = getattr(self, "_engine", None)
        if engine is not None:
            engine.dispose()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a transaction that is rolled back at the end."""
        try:
            with self._engine.connect() as connection:
                yield connection
        except SQLAlchemyError as error:
            raise _store_error(self, error) from error

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction holding the write lock: all of it is committed, or none of it."""
        try:
            connection = self._engine.connect().execution_options(matcher_write=True)
            with connection, connection.begin():
                if not self.sqlite:
                    connection.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK)))
                yield connection
        except SQLAlchemyError as error:
            raise _store_error(self, error) from error

    @property
    def database_id(self) -> str:
        """A random id given to this database when it was created (copies and backups keep it);
        an index records it, so that it is never used with another database."""
        with self.read() as db:
            return str(db.execute(select(identity.c.id)).scalar_one())

    def generation(self) -> int:
        """The data version: every change to what the entities are or who may read them moves
        it on. Caches and serving processes compare it."""
        with self.read() as db:
            return int(
                db.execute(select(meta.c.value).where(meta.c.key == "generation")).scalar_one()
            )

    def serve(self) -> None:
        """Mark this process as serving until `stop_serving` or `close`: a schema upgrade from
        another process is refused meanwhile, rather than changing tables under it."""
        if self._serving is not None:
            return
        if self.path is not None:
            handle = open(lock_file(self.path, "serving"), "a")  # noqa: SIM115 (held open)
            fcntl.flock(handle, fcntl.LOCK_SH)
            self._serving = handle
        else:
            connection = self._engine.connect()
            connection.execute(select(func.pg_advisory_lock_shared(SERVING_LOCK)))
            connection.commit()
            self._serving = connection

    def stop_serving(self) -> None:
        serving, self._serving = getattr(self, "_serving", None), None
        if serving is not None:
            serving.close()


def lock_file(path: Path, name: str) -> Path:
    """A lock file beside a SQLite database, for what SQLite's own locks cannot say."""
    return path.with_name(f"{path.name}.{name}.lock")


def _engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(connection: Any, record: ConnectionPoolEntry) -> None:
        connection.isolation_level = None  # transactions are begun below, as SQLite means them
        for pragma in (
            "journal_mode = WAL",
            "foreign_keys = ON",
            "synchronous = NORMAL",
            # Deleted rows are overwritten, not left in free pages: erasure means gone.
            "secure_delete = ON",
        ):
            connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("matcher_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _store_error(database: Database, error: SQLAlchemyError) -> StoreError:
    return StoreError(f"The database {database.location} failed: {_reason(error)}")


def _reason(error: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's statement and background link."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
