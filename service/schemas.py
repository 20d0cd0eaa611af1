"""What the HTTP API reads and writes. Request bodies reject unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from matcher import Match, Modality, OrgKind, Stage, Visibility
from matcher.settings import MAX_K

MAX_TEXT = 20_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    status: int
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No project with id 'P-999'. List the stored ids with ..."])
    details: list[Any] = []


class ErrorOut(BaseModel):
    error: ErrorDetail


class SentencePair(BaseModel):
    query: str
    candidate: str
    similarity: float


class DeadlineOut(BaseModel):
    status: str
    next_deadline: dt.date | None
    label: str
    days_left: int | None
    opening_date: dt.date | None


class VerdictOut(BaseModel):
    outcome: str = Field(examples=["eligible"])
    rule: str


class ReasonsOut(BaseModel):
    summary: str
    score_parts: dict[str, float] = Field(
        description="The score split by evidence (dense, lexical, facets, profile, programme, "
        "bias); the parts add up to the score."
    )
    features: dict[str, float] = Field(description="The feature values the score comes from.")
    sentences: SentencePair | None
    shared_facets: list[str]
    shared_terms: list[str]
    deadline: DeadlineOut | None
    eligibility: VerdictOut | None


class MatchOut(BaseModel):
    id: str
    name: str
    kind: str
    category: str
    score: float
    rank: int
    reasons: ReasonsOut

    @classmethod
    def of(cls, match: Match) -> MatchOut:
        r = match.reasons
        assert r is not None, "matches served over the API always carry reasons"
        d = r.deadline
        return cls(
            id=match.id,
            name=match.name,
            kind=match.kind,
            category=match.category,
            score=match.score,
            rank=match.rank,
            reasons=ReasonsOut(
                summary=r.summary,
                score_parts=r.score_parts,
                features=r.features,
                sentences=(
                    SentencePair(
                        query=r.sentences.query,
                        candidate=r.sentences.candidate,
                        similarity=r.sentences.similarity,
                    )
                    if r.sentences
                    else None
                ),
                shared_facets=list(r.shared_facets),
                shared_terms=list(r.shared_terms),
                deadline=(
                    DeadlineOut(
                        status=d.status,
                        next_deadline=d.next_deadline,
                        label=d.label,
                        days_left=d.days_left,
                        opening_date=d.opening_date,
                    )
                    if d
                    else None
                ),
                eligibility=(
                    VerdictOut(outcome=r.eligibility.outcome.value, rule=r.eligibility.rule)
                    if r.eligibility
                    else None
                ),
            ),
        )


class MatchList(BaseModel):
    query: str = Field(description="The id or the text the matches are for.")
    direction: str = Field(examples=["project->partners"])
    matches: list[MatchOut]

    @classmethod
    def of(cls, query: str, direction: str, matches: list[Match]) -> MatchList:
        return cls(query=query, direction=direction, matches=[MatchOut.of(m) for m in matches])


class SearchPartners(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="An abstract or a few lines.")
    k: int = Field(10, ge=1, le=MAX_K)
    kinds: list[OrgKind] = Field(default_factory=list, max_length=len(OrgKind))


class SearchCalls(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    k: int = Field(10, ge=1, le=MAX_K)
    include_forthcoming: bool = False


class DocumentOut(BaseModel):
    title: str
    text: str


class ProjectOut(BaseModel):
    id: str
    title: str
    abstract: str
    modality: Modality
    indications: list[str]
    stage: Stage
    needs: list[str]
    owner: str
    team: list[str]
    visibility: Visibility
    updated_at: dt.datetime


class OrganisationOut(BaseModel):
    id: str
    name: str
    kind: OrgKind
    country: str
    website: str | None
    capabilities: list[str]
    modalities: list[str]
    indications: list[str]
    documents: list[DocumentOut]


class CallOut(BaseModel):
    id: str
    title: str
    funder: str
    programme: str
    text: str
    opening_date: dt.date | None
    deadlines: list[dict[str, str]]
    status: str = Field(description="Status today: open, forthcoming or closed.")
    budget: dict[str, Any] | None
    eligibility: dict[str, Any]
    url: str | None


class Page(BaseModel):
    total: int
    offset: int
    limit: int


class ProjectList(Page):
    items: list[ProjectOut]


class OrganisationList(Page):
    items: list[OrganisationOut]


class CallList(Page):
    items: list[CallOut]


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    counts: dict[str, int]


class IndexInfo(BaseModel):
    model: str
    dim: int
    count: int
    data_hash: str
    built_at: str


class Version(BaseModel):
    version: str
    model: str
    indexes: dict[str, IndexInfo]
