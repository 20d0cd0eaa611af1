"""Projects, organisations and calls, their documents, and who may read which."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from .. import clock
from ..domain import Entity, EntityKind, Facts, Project, kind_of
from ..errors import InvalidRecord, InvalidRecords, NotFound
from ..records import parse_call, parse_organisation, parse_project, to_record
from ..roles import Scope
from ..text import content_hash
from .engine import Database
from .schema import documents, entities, members, meta

MAX_CONFLICTS = 50
"""The most id conflicts one upsert lists; the rest are counted."""

_PARSERS: dict[EntityKind, Callable[[Any], Entity]] = {
    EntityKind.PROJECT: parse_project,
    EntityKind.ORGANISATION: parse_organisation,
    EntityKind.CALL: parse_call,
}
_NAME = {EntityKind.PROJECT: "title", EntityKind.ORGANISATION: "name", EntityKind.CALL: "title"}
_SUBKIND = {EntityKind.PROJECT: "modality", EntityKind.ORGANISATION: "kind"}
_IN_MEMBERS = ("owner", "team")
_CHUNK = 500
"""Ids per IN list: well under every database's limit on bound parameters."""


@dataclass(frozen=True)
class StoredDocument:
    """A document row: its store id is what the vector index uses as the vector's id."""

    rowid: int
    entity_rowid: int
    entity_id: str
    text: str
    title: str = ""
    facts: Facts | None = None
    """The document's registry facts; the store does not fill them in (they live in the
    entity's record): `ranking.collection.with_facts` does."""


@dataclass(frozen=True)
class UpsertReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    actions: Mapping[str, str] = field(default_factory=dict, compare=False)
    """What happened to each id: added, updated or unchanged."""


def visible(kind: EntityKind, scope: Scope | None) -> ColumnElement[bool]:
    """The condition on `entities` that lets through what the scope may read: the one place
    where visibility becomes SQL, put in the WHERE clause of every query that reads entities."""
    e = entities.c
    if scope is None:
        return true()
    if kind is EntityKind.PROJECT:
        shown = sorted(v.value for v in scope.visibilities)
        condition = e.visibility.in_(shown) if shown else false()
        if scope.member is None:
            return condition
        held = members.alias("membership")  # apart from members a query may join itself
        membership = (
            exists()
            .where(
                held.c.entity_rowid == e.rowid,
                held.c.user == scope.member,
                held.c.ended_by.is_(None),
            )
            .correlate(entities)
        )
        return or_(condition, membership)
    if kind is EntityKind.ORGANISATION:
        if scope.organisations is None:
            return true()
        ids = sorted(scope.organisations)
        return e.id.in_(ids) if ids else false()
    return true() if scope.calls else false()


class Entities(Database):
    """The entities' part of the store."""

    def upsert(
        self, items: Sequence[Entity], also: Callable[[Connection], None] | None = None
    ) -> UpsertReport:
        """Add or replace entities, all or none: any error leaves the store as it was; `also`
        writes more in the same transaction (an importer's record of source ids). Raises
        InvalidRecords listing every id already used by a stored entity of another kind."""
        added = updated = unchanged = 0
        actions: dict[str, str] = {}
        conflicts: list[InvalidRecord] = []
        e = entities.c
        with self.write() as db:
            for entity in items:
                kind = kind_of(entity)
                record = to_record(entity)
                digest = content_hash(json.dumps(record, sort_keys=True, ensure_ascii=False))
                row = db.execute(
                    select(e.rowid, e.kind, e.content_hash).where(e.id == entity.id)
                ).first()
                if row is not None and row.kind != kind.value:
                    conflicts.append(_conflict(entity.id, row.kind))
                    continue
                if row is not None and row.content_hash == digest:
                    unchanged += 1
                    actions[entity.id] = "unchanged"
                    continue
                values = _columns(entity, kind, record, digest)
                if row is None:
                    rowid = int(
                        db.execute(
                            insert(entities).values(**values).returning(e.rowid)
                        ).scalar_one()
                    )
                    added += 1
                    actions[entity.id] = "added"
                else:
                    rowid = int(row.rowid)
                    db.execute(update(entities).where(e.rowid == rowid).values(**values))
                    updated += 1
                    actions[entity.id] = "updated"
                _set_members(db, rowid, entity)
                _set_documents(db, rowid, entity, new=row is None)
            if conflicts:  # rolls the whole upsert back
                raise InvalidRecords(
                    conflicts[:MAX_CONFLICTS], omitted=len(conflicts[MAX_CONFLICTS:])
                )
            if also is not None:
                also(db)
            if added or updated:
                bump(db)
        return UpsertReport(added, updated, unchanged, actions)

    def delete(self, id: str) -> EntityKind:
        """Remove an entity and its documents. Raises NotFound."""
        with self.write() as db:
            kind = db.execute(select(entities.c.kind).where(entities.c.id == id)).scalar()
            if kind is None:
                raise NotFound("entity", id)
            db.execute(delete(entities).where(entities.c.id == id))
            bump(db)
        return EntityKind(kind)

    def get(self, id: str, kind: EntityKind | None = None, scope: Scope | None = None) -> Entity:
        """The stored entity with this id (of this kind, when given) that the scope may read.
        An entity outside the scope is not found, exactly like a missing one. Raises NotFound."""
        # One query, whether the id is missing, of another kind or outside the scope: the
        # store does the same work in each case, so no timing tells them apart.
        # A project's members come in the same query, so a readable project costs no more.
        kinds = list(EntityKind) if kind is None else [kind]
        allowed = or_(*(and_(entities.c.kind == k.value, visible(k, scope)) for k in kinds))
        m = members.c
        query = (
            _ENTITY.add_columns(m.user, m.owner, m.team_position)
            .join_from(entities, members, m.entity_rowid == entities.c.rowid, isouter=True)
            .where(entities.c.id == id, allowed)
        )
        with self.read() as db:
            rows = db.execute(query).all()
        if not rows:
            raise NotFound(kind.value if kind else "entity", id)
        team = _team([(r.user, r.owner, r.team_position) for r in rows if r.user is not None])
        return _entity(rows[0], team)

    def entities(
        self,
        kind: EntityKind,
        scope: Scope | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Entity]:
        """The entities of a kind that the scope may read, in the order they were first stored."""
        query = (
            _ENTITY.where(entities.c.kind == kind.value, visible(kind, scope))
            .order_by(entities.c.rowid)
            .offset(offset)
            .limit(limit)
        )
        with self.read() as db:
            return _entities(db, db.execute(query).all())

    def ids(self, kind: EntityKind, scope: Scope | None = None) -> set[str]:
        """The ids of the entities of a kind that the scope may read."""
        query = select(entities.c.id).where(entities.c.kind == kind.value, visible(kind, scope))
        with self.read() as db:
            return set(db.execute(query).scalars())

    def rowids(self, kind: EntityKind) -> dict[str, int]:
        """Entity id to store rowid, for every entity of a kind."""
        e = entities.c
        query = select(e.id, e.rowid).where(e.kind == kind.value).order_by(e.rowid)
        with self.read() as db:
            return {id: int(rowid) for id, rowid in db.execute(query).all()}

    def content_hashes(self, kind: EntityKind) -> list[tuple[str, str]]:
        """Every entity of a kind, in the order stored: its id and its record's content hash
        (what a saved derived state is checked against)."""
        e = entities.c
        query = select(e.id, e.content_hash).where(e.kind == kind.value).order_by(e.rowid)
        with self.read() as db:
            return [(str(id), str(h)) for id, h in db.execute(query).all()]

    def count(self, kind: EntityKind, scope: Scope | None = None) -> int:
        query = (
            select(func.count())
            .select_from(entities)
            .where(entities.c.kind == kind.value, visible(kind, scope))
        )
        with self.read() as db:
            return int(db.execute(query).scalar_one())

    def documents(self, kind: EntityKind) -> list[StoredDocument]:
        """Every document of every entity of a kind, ordered by entity then position."""
        d, e = documents.c, entities.c
        query = (
            select(d.rowid, e.rowid, e.id, d.text, d.title)
            .join_from(documents, entities, e.rowid == d.entity_rowid)
            .where(e.kind == kind.value)
            .order_by(e.rowid, d.position)
        )
        with self.read() as db:
            rows = db.execute(query).all()
        return [StoredDocument(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows]

    def data_hash(self, kind: EntityKind, documents: list[StoredDocument] | None = None) -> str:
        """A digest of what an index of this kind is built from: document ids and texts."""
        digest = hashlib.sha256(kind.value.encode())
        for doc in self.documents(kind) if documents is None else documents:
            digest.update(
                f"{doc.rowid}\x1f{doc.entity_id}\x1f{content_hash(doc.text)}\x1e".encode()
            )
        return digest.hexdigest()


def bump(db: Connection) -> None:
    """Move the data version on (see `Database.generation`)."""
    db.execute(update(meta).where(meta.c.key == "generation").values(value=meta.c.value + 1))


_ENTITY = select(
    entities.c.rowid,
    entities.c.id,
    entities.c.kind,
    entities.c.name,
    entities.c.subkind,
    entities.c.visibility,
    entities.c.record,
)


def _columns(
    entity: Entity, kind: EntityKind, record: dict[str, Any], digest: str
) -> dict[str, Any]:
    """An entity's row: what a column or the members hold is left out of the stored record."""
    held = {"id", _NAME[kind], *([_SUBKIND[kind]] if kind in _SUBKIND else [])}
    if kind is EntityKind.PROJECT:
        held.update(("visibility", *_IN_MEMBERS))
    rest = {k: v for k, v in record.items() if k not in held}
    return {
        "id": entity.id,
        "kind": kind.value,
        "name": record[_NAME[kind]],
        "subkind": record.get(_SUBKIND[kind]) if kind in _SUBKIND else None,
        "visibility": record["visibility"] if kind is EntityKind.PROJECT else None,
        "record": json.dumps(rest, sort_keys=True, ensure_ascii=False),
        "content_hash": digest,
        "stored_at": clock.now(),
    }


Member = tuple[str, bool, int | None]
"""A member row: the username, whether they own the project, their place in its team."""


def _entities(db: Connection, rows: Sequence[Row[*tuple[Any, ...]]]) -> list[Entity]:
    """Entities from their rows, each project with its members."""
    rowids = [int(r.rowid) for r in rows if r.kind == EntityKind.PROJECT.value]
    found: dict[int, list[Member]] = {}
    m = members.c
    for start in range(0, len(rowids), _CHUNK):
        query = select(m.entity_rowid, m.user, m.owner, m.team_position).where(
            m.entity_rowid.in_(rowids[start : start + _CHUNK])
        )
        for rowid, user, owner, position in db.execute(query).all():
            found.setdefault(rowid, []).append((user, owner, position))
    return [_entity(row, _team(found.get(int(row.rowid), []))) for row in rows]


def _team(rows: Sequence[Member]) -> tuple[str, list[str]]:
    """A project's owner and team from its members (ended memberships included: the project
    still names them; only the scope leaves them out)."""
    owner = next((user for user, owns, _ in rows if owns), "")
    team = sorted((position, user) for user, _, position in rows if position is not None)
    return owner, [user for _, user in team]


def _entity(row: Row[*tuple[Any, ...]], team: tuple[str, list[str]]) -> Entity:
    """An entity from its row: the record with its columns and (a project's) members put back."""
    kind = EntityKind(row.kind)
    record: dict[str, Any] = json.loads(row.record)
    record["id"] = row.id
    record[_NAME[kind]] = row.name
    if kind in _SUBKIND:
        record[_SUBKIND[kind]] = row.subkind
    if kind is EntityKind.PROJECT:
        record["visibility"] = row.visibility
        record["owner"], record["team"] = team
    return _PARSERS[kind](record)


def _set_members(db: Connection, rowid: int, entity: Entity) -> None:
    """Make the project's members its owner and team. A membership the project keeps stays as
    it is, ended included: an ended one is never renewed by rewriting the project (an old data
    file loaded again), only by taking the username off the project and putting it back."""
    if not isinstance(entity, Project):
        return
    m = members.c
    named = list(dict.fromkeys([entity.owner, *entity.team]))
    wanted = {
        user: (user == entity.owner, entity.team.index(user) if user in entity.team else None)
        for user in named
    }
    stored = {
        row.user: (bool(row.owner), row.team_position)
        for row in db.execute(
            select(m.user, m.owner, m.team_position).where(m.entity_rowid == rowid)
        ).all()
    }
    gone = sorted(set(stored) - set(wanted))
    if gone:
        db.execute(delete(members).where(m.entity_rowid == rowid, m.user.in_(gone)))
    for user, (owner, position) in wanted.items():
        if user not in stored:
            db.execute(
                insert(members).values(
                    entity_rowid=rowid, user=user, owner=owner, team_position=position
                )
            )
        elif stored[user] != (owner, position):
            db.execute(
                update(members)
                .where(m.entity_rowid == rowid, m.user == user)
                .values(owner=owner, team_position=position)
            )


def _set_documents(db: Connection, rowid: int, entity: Entity, new: bool) -> None:
    """Store the entity's documents; unchanged texts keep their rows, so the index stays valid."""
    d = documents.c
    texts = [(doc.title, doc.text) for doc in entity.documents()]
    if not new:
        stored = db.execute(
            select(d.title, d.text).where(d.entity_rowid == rowid).order_by(d.position)
        ).all()
        if [tuple(r) for r in stored] == texts:
            return
        db.execute(delete(documents).where(d.entity_rowid == rowid))
    if texts:
        db.execute(
            insert(documents),
            [
                {"entity_rowid": rowid, "position": i, "title": title, "text": text}
                for i, (title, text) in enumerate(texts)
            ],
        )


def _conflict(id: str, stored_kind: str) -> InvalidRecord:
    return InvalidRecord(
        f"id {id!r} is already used by a stored {stored_kind}; ids are unique across projects, "
        "organisations and calls",
        record=id,
        field="id",
    )
