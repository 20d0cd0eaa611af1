"""What the HTTP API reads and writes. Request bodies reject unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from matcher import Match, Modality, OrgKind, Role, Stage, Visibility
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


class SearchProjects(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="A company's or call's text.")
    k: int = Field(10, ge=1, le=MAX_K)


class DocumentOut(BaseModel):
    title: str
    text: str


class ProjectOut(BaseModel):
    """A project. Partners and guests get the public summary: needs, owner, team and updated_at
    are then null."""

    id: str
    title: str
    abstract: str
    modality: Modality
    indications: list[str]
    stage: Stage
    visibility: Visibility
    needs: list[str] | None = None
    owner: str | None = None
    team: list[str] | None = None
    updated_at: dt.datetime | None = None


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


# ---------------------------------------------------------------------- people and access

Username = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class LoginIn(Strict):
    username: str = Username
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    username: str
    role: Role
    organisation: str | None


class SessionOut(Me):
    expires_at: dt.datetime


class UserIn(Strict):
    username: str = Username
    role: Role
    organisation: str | None = Field(
        None, max_length=128, description="Guests only: the id of their organisation."
    )
    display_name: str = Field("", max_length=200)


class UserPatch(Strict):
    role: Role | None = None
    organisation: str | None = Field(None, max_length=128)
    display_name: str | None = Field(None, max_length=200)
    disabled: bool | None = Field(None, description="A disabled user's keys and sessions fail.")


class UserOut(Me):
    """Read from a matcher.User."""

    model_config = ConfigDict(from_attributes=True)

    display_name: str
    created_at: dt.datetime
    disabled: bool


class KeyIn(Strict):
    label: str = Field("", max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class KeyOut(BaseModel):
    """Read from a matcher.ApiKey: never the key itself."""

    model_config = ConfigDict(from_attributes=True)

    key_id: str
    username: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once and never stored.")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str = Field(examples=["read"], description="read, list, match, match_result, export")
    kind: str
    object_id: str


class ReindexOut(BaseModel):
    kinds: dict[str, int] = Field(description="Documents indexed per kind.")
    embedded: int
    seconds: float
