"""The records of imported sources: each source id's entity, when it was last seen, and since
when it is absent from the source's latest snapshot (marked, never deleted)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, select, update

from .. import clock
from ..domain import Entity, EntityKind
from .engine import Database
from .entities import Entities, UpsertReport, bump
from .schema import entities, source_records


@dataclass(frozen=True)
class SourceRecord:
    source: str
    source_id: str
    entity_id: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    absent_since: dt.datetime | None


class Sources(Entities, Database):
    """The imported sources' part of the store."""

    def import_upsert(
        self,
        source: str,
        items: Sequence[Entity],
        source_ids: Mapping[str, str],
        *,
        snapshot: bool,
    ) -> tuple[UpsertReport, tuple[str, ...]]:
        """Store an import's entities and their source ids in one transaction. With `snapshot`
        (the file holds the whole source), entities of this source that are not in it are
        marked absent; returns their ids with the upsert's report."""
        absent: list[str] = []

        def record(db: Connection) -> None:
            absent.extend(_record(db, source, items, source_ids, snapshot, clock.now()))

        report = self.upsert(items, also=record)
        return report, tuple(absent)

    def absent_ids(self, kind: EntityKind) -> frozenset[str]:
        """Ids of this kind whose every source record is marked absent (gone from its source's
        latest snapshot); an entity no source brought is never absent."""
        s = source_records.c
        present = select(s.entity_rowid).where(s.absent_since.is_(None))
        query = (
            select(entities.c.id)
            .join_from(source_records, entities, entities.c.rowid == s.entity_rowid)
            .where(
                entities.c.kind == kind.value,
                s.absent_since.is_not(None),
                s.entity_rowid.not_in(present),
            )
            .distinct()
        )
        with self.read() as db:
            return frozenset(db.execute(query).scalars())

    def source_records(self, source: str | None = None) -> list[SourceRecord]:
        s = source_records.c
        query = select(
            s.source, s.source_id, entities.c.id, s.first_seen, s.last_seen, s.absent_since
        ).join_from(source_records, entities, entities.c.rowid == s.entity_rowid)
        if source is not None:
            query = query.where(s.source == source)
        with self.read() as db:
            rows = db.execute(query.order_by(s.source, s.source_id)).all()
        return [SourceRecord(*row) for row in rows]


def _record(
    db: Connection,
    source: str,
    items: Sequence[Entity],
    source_ids: Mapping[str, str],
    snapshot: bool,
    now: dt.datetime,
) -> list[str]:
    s = source_records.c
    rowids = dict(
        db.execute(
            select(entities.c.id, entities.c.rowid).where(
                entities.c.id.in_([e.id for e in items])
            )
        ).all()
    ) if items else {}  # fmt: skip
    known: dict[str, int] = {}
    was_absent: set[str] = set()
    for source_id, rowid, absent_since in db.execute(
        select(s.source_id, s.entity_rowid, s.absent_since).where(s.source == source)
    ).all():
        known[source_id] = rowid
        if absent_since is not None:
            was_absent.add(source_id)
    seen: set[str] = set()
    for entity in items:
        source_id = source_ids.get(entity.id, entity.id)
        seen.add(source_id)
        rowid = rowids[entity.id]
        if source_id in known:
            db.execute(
                update(source_records)
                .where(s.source == source, s.source_id == source_id)
                .values(entity_rowid=rowid, last_seen=now, absent_since=None)
            )
        else:
            db.execute(
                insert(source_records).values(
                    source=source,
                    source_id=source_id,
                    entity_rowid=rowid,
                    first_seen=now,
                    last_seen=now,
                )
            )
    if seen & was_absent:
        bump(db)  # back in the source: proposed again
    if not snapshot:
        return []
    gone = [source_id for source_id in known if source_id not in seen]
    marked: list[str] = []
    for start in range(0, len(gone), 500):
        chunk = gone[start : start + 500]
        condition = and_(s.source == source, s.source_id.in_(chunk), s.absent_since.is_(None))
        ids = db.execute(
            select(entities.c.id)
            .join_from(source_records, entities, entities.c.rowid == s.entity_rowid)
            .where(condition)
        ).scalars()
        marked.extend(ids)
        db.execute(update(source_records).where(condition).values(absent_since=now))
    if marked:
        bump(db)  # what may be proposed has changed: caches start again
    return marked
