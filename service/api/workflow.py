"""Feedback on suggested pairs, and the pipeline of shortlisted matches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from matcher import PipelineStage

from ..deps import ViewDep
from ..errors import responses
from .schemas import (
    FeedbackCountOut,
    FeedbackIn,
    FeedbackOut,
    MoveIn,
    PipelineEntryOut,
    ShortlistIn,
)

workflow = APIRouter(prefix="/api/v1", tags=["feedback and pipeline"])

Id = Annotated[str, Path(min_length=1, max_length=128)]
WRITE = responses(401, 403, 404, 409, 413, 422, 429, 503)
READ = responses(401, 403, 404, 422, 429, 503)


@workflow.put("/projects/{project_id}/feedback/{candidate_id}", responses=WRITE)
def give_feedback(project_id: Id, candidate_id: Id, body: FeedbackIn, view: ViewDep) -> FeedbackOut:
    """Say whether a suggested partner or call fits the project. "not_relevant" and
    "already_known" keep the pair out of your own rankings (pages, API, CLI) from now on;
    giving "relevant" brings it back."""
    view.give_feedback(project_id, candidate_id, body.verdict)
    return FeedbackOut(project_id=project_id, candidate_id=candidate_id, verdict=body.verdict)


@workflow.get("/projects/{project_id}/feedback", responses=READ)
def my_feedback(project_id: Id, view: ViewDep) -> list[FeedbackOut]:
    """Your own feedback on this project's pairs."""
    given = view.feedback_on(project_id)
    return [FeedbackOut(project_id=project_id, candidate_id=c, verdict=v) for c, v in given.items()]


@workflow.get("/admin/feedback", responses=READ)
def feedback_counts(view: ViewDep) -> list[FeedbackCountOut]:
    """How many users gave each verdict on each pair, most judged first (admins only)."""
    return [
        FeedbackCountOut.model_validate(c, from_attributes=True) for c in view.feedback_counts()
    ]


@workflow.get("/pipeline", responses=READ)
def list_pipeline(
    view: ViewDep,
    project: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    stage: PipelineStage | None = None,
) -> list[PipelineEntryOut]:
    """Shortlisted matches with their history, most recently moved first: every entry for
    business developers and admins, those of their own projects for researchers."""
    entries = view.pipeline(project)
    return [
        PipelineEntryOut.model_validate(e) for e in entries if stage is None or e.stage is stage
    ]


@workflow.post("/pipeline", status_code=201, responses=WRITE)
def shortlist(body: ShortlistIn, view: ViewDep) -> PipelineEntryOut:
    """Shortlist a match: the pair enters the pipeline at "to_contact" (business developers and
    admins). 409 when the pair is in the pipeline already."""
    entry = view.shortlist(body.project_id, body.candidate_id, body.note)
    return PipelineEntryOut.model_validate(entry)


@workflow.post("/pipeline/{entry_id}/moves", responses=WRITE)
def move(
    entry_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: MoveIn, view: ViewDep
) -> PipelineEntryOut:
    """Move a shortlisted match to a stage, with a dated note kept in its history."""
    return PipelineEntryOut.model_validate(view.move(entry_id, body.stage, body.note))
