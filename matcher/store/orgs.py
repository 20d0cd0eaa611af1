"""Which stored organisations are one (entity resolution): the latest clusters, and people's
decisions on pairs (the same organisation, or different ones)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update

from .. import clock
from ..errors import NotFound
from .engine import Database
from .entities import bump
from .schema import entities, org_clusters, org_decisions

_a = entities.alias("a")
_b = entities.alias("b")


class Orgs(Database):
    """The entity-resolution part of the store."""

    def decide_orgs(self, a: str, b: str, same: bool, by: str) -> None:
        """Record that two organisations are the same one (or different ones); the latest
        word on a pair counts. Raises NotFound."""
        first, second = sorted((a, b))
        with self.write() as db:
            rowids = dict(
                db.execute(
                    select(entities.c.id, entities.c.rowid).where(
                        entities.c.id.in_([first, second]), entities.c.kind == "organisation"
                    )
                ).all()
            )
            for id in (first, second):
                if id not in rowids:
                    raise NotFound("organisation", id)
            d = org_decisions.c
            pair = (d.a_rowid == rowids[first], d.b_rowid == rowids[second])
            values = {"same": same, "by": by, "at": clock.now()}
            if not db.execute(update(org_decisions).where(*pair).values(**values)).rowcount:
                db.execute(
                    insert(org_decisions).values(
                        a_rowid=rowids[first], b_rowid=rowids[second], **values
                    )
                )

    def org_decisions(self) -> list[tuple[str, str, bool]]:
        """Every decision: (organisation, organisation, the same one?)."""
        d = org_decisions.c
        query = (
            select(_a.c.id, _b.c.id, d.same)
            .join_from(org_decisions, _a, _a.c.rowid == d.a_rowid)
            .join(_b, _b.c.rowid == d.b_rowid)
            .order_by(_a.c.id, _b.c.id)
        )
        with self.read() as db:
            return [(a, b, bool(same)) for a, b, same in db.execute(query).all()]

    def set_org_clusters(self, members: Sequence[tuple[str, str, float, str]]) -> None:
        """Replace the clusters with these (member, canonical, confidence, why) rows, in one
        transaction; ids no longer stored are left out."""
        with self.write() as db:
            ids = {m for m, *_ in members} | {c for _, c, *_ in members}
            rowids = dict(
                db.execute(
                    select(entities.c.id, entities.c.rowid).where(entities.c.id.in_(sorted(ids)))
                ).all()
            ) if ids else {}  # fmt: skip
            db.execute(delete(org_clusters))
            now = clock.now()
            rows = [
                {
                    "member_rowid": rowids[member],
                    "canonical_rowid": rowids[canonical],
                    "confidence": confidence,
                    "why": why,
                    "at": now,
                }
                for member, canonical, confidence, why in members
                if member in rowids and canonical in rowids
            ]
            if rows:
                db.execute(insert(org_clusters), rows)
            bump(db)  # candidates are merged or split: servers reload, caches start again

    def org_clusters(self) -> dict[str, tuple[str, float, str]]:
        """member id -> (canonical id, confidence, why), for organisations that are one with
        others (the canonical one included)."""
        c = org_clusters.c
        query = (
            select(_a.c.id, _b.c.id, c.confidence, c.why)
            .join_from(org_clusters, _a, _a.c.rowid == c.member_rowid)
            .join(_b, _b.c.rowid == c.canonical_rowid)
        )
        with self.read() as db:
            return {m: (k, float(conf), why) for m, k, conf, why in db.execute(query).all()}
