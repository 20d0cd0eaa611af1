"""The hub's own judgement of matches: feedback on a pair, and the pipeline of shortlisted
matches a business developer works through. Plain data; the store keeps it, the View checks who
may see and change it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Feedback(StrEnum):
    """What a user says about one suggested pair (a project and a partner or a call)."""

    RELEVANT = "relevant"
    NOT_RELEVANT = "not_relevant"
    ALREADY_KNOWN = "already_known"

    @property
    def dismisses(self) -> bool:
        """Whether the pair is no longer suggested to that user."""
        return self is not Feedback.RELEVANT


class PipelineStage(StrEnum):
    """Where a shortlisted match stands, in the order a match usually moves."""

    TO_CONTACT = "to_contact"
    CONTACTED = "contacted"
    CDA_SIGNED = "cda_signed"
    PROPOSAL_SUBMITTED = "proposal_submitted"
    WON = "won"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    PipelineStage.TO_CONTACT: "To contact",
    PipelineStage.CONTACTED: "Contacted",
    PipelineStage.CDA_SIGNED: "CDA signed",
    PipelineStage.PROPOSAL_SUBMITTED: "Proposal submitted",
    PipelineStage.WON: "Won",
    PipelineStage.DROPPED: "Dropped",
}


@dataclass(frozen=True)
class PipelineEvent:
    """One move of an entry: the stage it reached, the note that went with it, who and when."""

    stage: PipelineStage
    note: str
    by: str
    at: dt.datetime


@dataclass(frozen=True)
class PipelineEntry:
    """A shortlisted match: one per pair across the hub, with its history, oldest first."""

    id: int
    project_id: str
    candidate_id: str
    candidate_kind: str
    """organisation or call."""
    stage: PipelineStage
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    history: tuple[PipelineEvent, ...]


@dataclass(frozen=True)
class FeedbackCount:
    """How many users gave each verdict on one pair."""

    project_id: str
    candidate_id: str
    relevant: int
    not_relevant: int
    already_known: int
