"""Bringing a database to this release's schema with Alembic, one process at a time, never
under a running server."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, column, func, inspect, select, table

from ..errors import StoreError
from .schema import HEAD, REVISIONS

if TYPE_CHECKING:
    from .engine import Database

RELEASE_0_2_0 = 4
"""The hand-numbered schema (`PRAGMA user_version`) of release 0.2.0, the last before Alembic:
its databases are stamped with revision 0001, which is that schema."""

_version = table("alembic_version", column("version_num"))


def revision(db: Database) -> str | None:
    """The database's schema revision; None when it holds no tables yet."""
    with db.read() as connection:
        return _revision(connection, db)


def bring_up_to_date(db: Database) -> None:
    """Create the tables of an empty database, or upgrade an older one in place. Raises
    StoreError when the database is newer than this release, when it was made by a release
    before 0.2.0, or when a server is running on it (an upgrade would change its tables)."""
    if _check(revision(db), db):
        return
    with _upgrading(db), db.write() as connection:
        current = _revision(connection, db)
        if _check(current, db):
            return  # another process upgraded it while this one waited
        _run_alembic(connection, stamp=current == REVISIONS[0] and not _stamped(connection))


def _check(current: str | None, db: Database) -> bool:
    """Whether the database is up to date; raises StoreError when no upgrade can help."""
    if current == HEAD:
        return True
    if current is not None and current not in REVISIONS:
        raise StoreError(
            f"{db.location} has schema revision {current}, newer than this release ({HEAD}). "
            "Upgrade cgt-matcher."
        )
    return False


def _revision(connection: Connection, db: Database) -> str | None:
    if _stamped(connection):
        return str(connection.execute(select(_version.c.version_num)).scalar_one())
    if "entities" not in inspect(connection).get_table_names():
        return None
    number = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one()) if db.sqlite else 0
    if number != RELEASE_0_2_0:
        raise StoreError(
            f"{db.location} was made by a release before 0.2.0 (schema version {number}). "
            "Open it once with cgt-matcher 0.2.0 (`matcher init`), then with this release."
        )
    return REVISIONS[0]


def _stamped(connection: Connection) -> bool:
    return "alembic_version" in inspect(connection).get_table_names()


def _run_alembic(connection: Connection, stamp: bool) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("alembic")))
    config.attributes["connection"] = connection
    if stamp:
        command.stamp(config, REVISIONS[0])
    command.upgrade(config, HEAD)


@contextlib.contextmanager
def _upgrading(db: Database) -> Iterator[None]:
    """Hold the upgrade lock (waiting for another upgrade to finish), and make sure no server
    is running on the database."""
    refused = StoreError(
        f"A server is running on {db.location}, and this release must upgrade its schema "
        f"(to revision {HEAD}). Stop the servers (`matcher serve`), run `matcher init`, then "
        "start them again with this release."
    )
    if db.path is not None:
        from .engine import lock_file

        with open(lock_file(db.path, "migrating"), "a") as migrating:
            fcntl.flock(migrating, fcntl.LOCK_EX)
            with open(lock_file(db.path, "serving"), "a") as serving:
                try:
                    fcntl.flock(serving, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise refused from None
                yield
        return
    from .engine import MIGRATING_LOCK, SERVING_LOCK

    with db.read() as connection:
        connection.execute(select(func.pg_advisory_lock(MIGRATING_LOCK)))
        try:
            if not connection.execute(select(func.pg_try_advisory_lock(SERVING_LOCK))).scalar():
                raise refused
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock_all()))
