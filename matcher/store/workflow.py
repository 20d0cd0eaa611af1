"""Feedback on pairs and the pipeline of shortlisted matches."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, case, func, select, update

from .. import clock
from ..errors import Conflict, NotFound
from ..workflow import Feedback, FeedbackCount, PipelineEntry, PipelineEvent, PipelineStage
from .engine import Database
from .schema import entities, feedback, pipeline, pipeline_events, users
from .users import user_id_of

_project = entities.alias("project")
_candidate = entities.alias("candidate")
_DISMISSING = [f.value for f in Feedback if f.dismisses]


class Workflow(Database):
    """The feedback and pipeline part of the store."""

    # ------------------------------------------------------------------ feedback

    def set_feedback(
        self, username: str, project_id: str, candidate_id: str, verdict: Feedback
    ) -> None:
        """Record (or replace) what a user says about a pair. Raises NotFound."""
        with self.write() as db:
            user_id = user_id_of(db, username)
            project, candidate = _rowid(db, project_id), _rowid(db, candidate_id)
            f = feedback.c
            changed = db.execute(
                update(feedback)
                .where(
                    f.user_id == user_id, f.project_rowid == project, f.candidate_rowid == candidate
                )
                .values(verdict=verdict.value, at=clock.now())
            ).rowcount
            if not changed:
                db.execute(
                    feedback.insert().values(
                        user_id=user_id,
                        project_rowid=project,
                        candidate_rowid=candidate,
                        verdict=verdict.value,
                        at=clock.now(),
                    )
                )

    def feedback_of(self, username: str, project_id: str) -> dict[str, Feedback]:
        """A user's feedback on a project's pairs, by candidate id."""
        return {
            candidate: verdict
            for project, candidate, verdict in self._feedback(username, project_id=project_id)
        }

    def dismissed(
        self, username: str, project_id: str | None = None, candidate_id: str | None = None
    ) -> frozenset[str]:
        """What the user no longer wants suggested: for a project, the candidates they marked
        not relevant or already known; for a candidate, such projects."""
        found = self._feedback(username, project_id, candidate_id, dismissing=True)
        return frozenset(c if project_id is not None else p for p, c, _ in found)

    def _feedback(
        self,
        username: str,
        project_id: str | None = None,
        candidate_id: str | None = None,
        dismissing: bool = False,
    ) -> list[tuple[str, str, Feedback]]:
        f = feedback.c
        query = (
            select(_project.c.id, _candidate.c.id, f.verdict)
            .join_from(feedback, _project, _project.c.rowid == f.project_rowid)
            .join(_candidate, _candidate.c.rowid == f.candidate_rowid)
            .join(users, users.c.id == f.user_id)
            .where(users.c.username == username)
        )
        if project_id is not None:
            query = query.where(_project.c.id == project_id)
        if candidate_id is not None:
            query = query.where(_candidate.c.id == candidate_id)
        if dismissing:
            query = query.where(f.verdict.in_(_DISMISSING))
        with self.read() as db:
            return [(p, c, Feedback(v)) for p, c, v in db.execute(query).all()]

    def feedback_counts(self) -> list[FeedbackCount]:
        """For every pair with feedback: how many users gave each verdict, most judged first."""
        f = feedback.c
        counts = [func.sum(case((f.verdict == v.value, 1), else_=0)) for v in Feedback]
        query = (
            select(_project.c.id, _candidate.c.id, *counts)
            .join_from(feedback, _project, _project.c.rowid == f.project_rowid)
            .join(_candidate, _candidate.c.rowid == f.candidate_rowid)
            .group_by(_project.c.id, _candidate.c.id)
            .order_by(func.count().desc(), _project.c.id, _candidate.c.id)
        )
        with self.read() as db:
            return [
                FeedbackCount(p, c, int(a), int(b), int(k)) for p, c, a, b, k in db.execute(query)
            ]

    def dismissed_pairs(self, username: str) -> frozenset[tuple[str, str]]:
        """Every (project, candidate) pair the user no longer wants suggested."""
        return frozenset((p, c) for p, c, _ in self._feedback(username, dismissing=True))

    def pipeline_version(self) -> tuple[object, ...]:
        """What changes when any pipeline entry is added or moved."""
        p = pipeline.c
        with self.read() as db:
            return tuple(db.execute(select(func.count(), func.max(p.updated_at))).one())

    def workflow_version(self, username: str) -> tuple[object, ...]:
        """What changes when the user's feedback or anyone's pipeline does: for caches of
        rankings that leave dismissed pairs out and show pipeline stages."""
        f, p = feedback.c, pipeline.c
        mine = (
            select(func.count(), func.max(f.at))
            .join_from(feedback, users, users.c.id == f.user_id)
            .where(users.c.username == username)
        )
        with self.read() as db:
            given = tuple(db.execute(mine).one())
            moved = tuple(db.execute(select(func.count(), func.max(p.updated_at))).one())
        return (*given, *moved)

    # ------------------------------------------------------------------ pipeline

    def shortlist(self, project_id: str, candidate_id: str, by: str, note: str) -> PipelineEntry:
        """Put a pair in the pipeline at "to contact". Raises NotFound, or Conflict when the
        pair is in it already (its entry's id is in the message)."""
        with self.write() as db:
            project, candidate = _rowid(db, project_id), _rowid(db, candidate_id)
            p = pipeline.c
            existing = db.execute(
                select(p.id).where(p.project_rowid == project, p.candidate_rowid == candidate)
            ).scalar()
            if existing is not None:
                raise Conflict(
                    f"{project_id} with {candidate_id} is in the pipeline already (entry "
                    f"{existing}): move that entry instead."
                )
            now = clock.now()
            stage = PipelineStage.TO_CONTACT.value
            entry = db.execute(
                pipeline.insert()
                .values(
                    project_rowid=project,
                    candidate_rowid=candidate,
                    stage=stage,
                    created_by=by,
                    created_at=now,
                    updated_at=now,
                )
                .returning(p.id)
            ).scalar_one()
            db.execute(
                pipeline_events.insert().values(
                    entry_id=entry, stage=stage, note=note, by=by, at=now
                )
            )
        return self.pipeline_entry(int(entry))

    def move(self, entry_id: int, stage: PipelineStage, note: str, by: str) -> PipelineEntry:
        """Move an entry to a stage, with a dated note kept in its history. Raises NotFound."""
        with self.write() as db:
            now = clock.now()
            changed = db.execute(
                update(pipeline)
                .where(pipeline.c.id == entry_id)
                .values(stage=stage.value, updated_at=now)
            ).rowcount
            if not changed:
                raise NotFound("pipeline entry", str(entry_id))
            db.execute(
                pipeline_events.insert().values(
                    entry_id=entry_id, stage=stage.value, note=note, by=by, at=now
                )
            )
        return self.pipeline_entry(entry_id)

    def pipeline_entry(self, entry_id: int) -> PipelineEntry:
        """Raises NotFound."""
        found = self.pipeline_entries(ids=[entry_id])
        if not found:
            raise NotFound("pipeline entry", str(entry_id))
        return found[0]

    def pipeline_entries(
        self,
        project_ids: Collection[str] | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[PipelineEntry]:
        """Pipeline entries (of these projects, or with these ids), most recently moved first."""
        p = pipeline.c
        query = _ENTRIES
        if project_ids is not None:
            query = query.where(_project.c.id.in_(sorted(project_ids)))
        if ids is not None:
            query = query.where(p.id.in_(list(ids)))
        with self.read() as db:
            rows = db.execute(query.order_by(p.updated_at.desc(), p.id.desc())).all()
            history = _history(db, [int(r.id) for r in rows])
        return [_entry(r, history.get(int(r.id), ())) for r in rows]


_ENTRIES = (
    select(
        pipeline.c.id,
        _project.c.id.label("project_id"),
        _candidate.c.id.label("candidate_id"),
        _candidate.c.kind.label("candidate_kind"),
        pipeline.c.stage,
        pipeline.c.created_by,
        pipeline.c.created_at,
        pipeline.c.updated_at,
    )
    .join_from(pipeline, _project, _project.c.rowid == pipeline.c.project_rowid)
    .join(_candidate, _candidate.c.rowid == pipeline.c.candidate_rowid)
)


def _rowid(db: Connection, id: str) -> int:
    found = db.execute(select(entities.c.rowid).where(entities.c.id == id)).scalar()
    if found is None:
        raise NotFound("entity", id)
    return int(found)


def _history(db: Connection, entries: list[int]) -> dict[int, tuple[PipelineEvent, ...]]:
    e = pipeline_events.c
    found: dict[int, list[PipelineEvent]] = {}
    for start in range(0, len(entries), 500):
        query = (
            select(e.entry_id, e.stage, e.note, e.by, e.at)
            .where(e.entry_id.in_(entries[start : start + 500]))
            .order_by(e.id)
        )
        for entry, stage, note, by, at in db.execute(query).all():
            found.setdefault(entry, []).append(PipelineEvent(PipelineStage(stage), note, by, at))
    return {entry: tuple(events) for entry, events in found.items()}


def _entry(row: Row[*tuple[Any, ...]], history: tuple[PipelineEvent, ...]) -> PipelineEntry:
    return PipelineEntry(
        int(row.id),
        row.project_id,
        row.candidate_id,
        row.candidate_kind,
        PipelineStage(row.stage),
        row.created_by,
        row.created_at,
        row.updated_at,
        history,
    )
