"""The audit log, the erasure ledger, and the counted requests that limits are computed from:
each kept once, in the database, so every server process writes and reads the same."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, func, insert, select, update

from .. import clock
from ..errors import NotFound
from ..roles import AuditEntry, Erasure
from .digest import forget_address
from .engine import Database
from .entities import bump
from .schema import (
    audit,
    embeddings,
    entities,
    erasures,
    hits,
    members,
    pipeline,
    pipeline_events,
    users,
)
from .users import user_id_of

ERASED_USER = "erased-user-"
"""What an erased user's audit entries name instead of them, followed by the ledger entry."""
PRUNE_EVERY = 1000
"""Every this many counted hits, the ones older than KEEP_HITS (of any bucket) are deleted."""
KEEP_HITS = 3600.0


class Ledgers(Database):
    """The audit, erasure and counting part of the store."""

    def record_audit(self, entries: Sequence[tuple[str, str, str, str, str]]) -> None:
        """Append (actor, role, action, kind, object id) rows to the audit log."""
        if not entries:
            return
        at = clock.now()
        rows = [
            {"at": at, "actor": a, "role": r, "action": x, "kind": k, "object_id": o}
            for a, r, x, k, o in entries
        ]
        with self.write() as db:
            db.execute(insert(audit), rows)

    def audit(
        self,
        object_id: str | None = None,
        actor: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered by object, actor and time."""
        a = audit.c
        query = select(a.id, a.at, a.actor, a.role, a.action, a.kind, a.object_id)
        if object_id is not None:
            query = query.where(a.object_id == object_id)
        if actor is not None:
            query = query.where(a.actor == actor)
        if since is not None:
            query = query.where(a.at >= since)
        with self.read() as db:
            rows = db.execute(query.order_by(a.id.desc()).limit(limit)).all()
        return [AuditEntry(*r) for r in rows]

    def erase(self, kind: str, id: str, by: str, vector_hashes: Iterable[str] = ()) -> Erasure:
        """Remove a project, an organisation or a user and write the erasure ledger entry, in one
        transaction. For an entity, `vector_hashes` name the cached embeddings of its texts; for
        a user, their keys and sessions go and their audit entries are pseudonymised."""
        with self.write() as db:
            if kind == "user":
                user_id_of(db, id)
            else:
                stored = db.execute(select(entities.c.kind).where(entities.c.id == id)).scalar()
                if stored != kind:
                    raise NotFound(kind, id)
            number = int(
                db.execute(
                    insert(erasures)
                    .values(at=clock.now(), by=by, kind=kind, object_id=id)
                    .returning(erasures.c.id)
                ).scalar_one()
            )
            if kind == "user":
                address = db.execute(select(users.c.email).where(users.c.username == id)).scalar()
                forget_address(db, address)  # their subscription and sends go with the row
                db.execute(delete(users).where(users.c.username == id))
                pseudonym = f"{ERASED_USER}{number}"
                db.execute(update(audit).where(audit.c.actor == id).values(actor=pseudonym))
                # The pipeline is the hub's and stays; who moved it is no longer said.
                db.execute(
                    update(pipeline).where(pipeline.c.created_by == id).values(created_by=pseudonym)
                )
                db.execute(
                    update(pipeline_events).where(pipeline_events.c.by == id).values(by=pseudonym)
                )
                # Their memberships end with the account; the rows stay (ended) while a project
                # still names the username, so that rewriting it gives nothing back.
                ended = db.execute(
                    update(members)
                    .where(members.c.user == id, members.c.ended_by.is_(None))
                    .values(ended_by=number)
                ).rowcount
                if ended:
                    bump(db)  # what each scope lets through has changed: caches start again
            else:
                db.execute(delete(entities).where(entities.c.id == id))
                hashes = sorted(set(vector_hashes))
                for start in range(0, len(hashes), 500):
                    db.execute(
                        delete(embeddings).where(embeddings.c.hash.in_(hashes[start : start + 500]))
                    )
                bump(db)
        if self.sqlite:  # old page images in the write-ahead log go too
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return next(e for e in self.erasures() if e.id == number)

    def erasures(self) -> list[Erasure]:
        """The erasure ledger, oldest first."""
        e = erasures.c
        with self.read() as db:
            rows = db.execute(select(e.id, e.at, e.by, e.kind, e.object_id).order_by(e.id)).all()
        return [Erasure(*r) for r in rows]

    # ------------------------------------------------------------------ counted requests

    def take(self, bucket: str, limit: int, window: float, now: float) -> float | None:
        """Count one hit in the bucket unless it already holds `limit` in the `window` of
        seconds before `now` (Unix time); then count nothing and return the seconds until the
        oldest of them leaves the window. Atomic across processes."""
        with self.write() as db:
            oldest, held = self._held(db, bucket, now - window)
            if held >= limit:
                return oldest + window - now
            self._count(db, bucket, now, window)
        return None

    def wait_for(self, bucket: str, limit: int, window: float, now: float) -> float | None:
        """The seconds until the bucket is under its limit again; None when it is already."""
        with self.read() as db:
            oldest, held = self._held(db, bucket, now - window)
        return oldest + window - now if held >= limit else None

    def count_hit(self, bucket: str, window: float, now: float) -> None:
        """Count one hit in the bucket, whatever it holds."""
        with self.write() as db:
            self._count(db, bucket, now, window)

    @staticmethod
    def _held(db: Connection, bucket: str, since: float) -> tuple[float, int]:
        h = hits.c
        oldest, held = db.execute(
            select(func.min(h.at), func.count()).where(h.bucket == bucket, h.at > since)
        ).one()
        return float(oldest or 0.0), int(held)

    @staticmethod
    def _count(db: Connection, bucket: str, now: float, window: float) -> None:
        h = hits.c
        number = db.execute(insert(hits).values(bucket=bucket, at=now).returning(h.id)).scalar_one()
        if number % PRUNE_EVERY == 0:
            db.execute(delete(hits).where(h.at <= now - max(window, KEEP_HITS)))
