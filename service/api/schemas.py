"""What the HTTP API reads and writes. Request bodies reject unknown fields."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from matcher import (
    GOOD,
    STRONG,
    CallStatus,
    EntityKind,
    Feedback,
    Match,
    Modality,
    Need,
    Organisation,
    OrgKind,
    Outcome,
    PipelineStage,
    Profile,
    Ranking,
    Reasons,
    Role,
    Stage,
    Strength,
    Visibility,
)
from matcher.settings import MAX_K

MAX_TEXT = 20_000


class Strict(BaseModel):
    """A request body: unknown fields refused, and no value coerced (`"5"`, `5.0` or `true`
    is not the integer 5; `1` is not `true`). Enum fields are declared `Choice[...]`."""

    model_config = ConfigDict(extra="forbid", strict=True)


E = TypeVar("E", bound=Enum)
Choice = Annotated[E, pydantic.Strict(False)]
"""An enum field of a Strict body. FastAPI validates the parsed JSON in Python mode, where a
strict enum wants an instance; lax, it still takes only the enum's own values, nothing coerced."""


class SentencePair(BaseModel):
    query: str
    candidate: str
    similarity: float


class DeadlineOut(BaseModel):
    status: CallStatus = Field(description="The call's status today.")
    next_deadline: dt.date | None = Field(
        description="Null for a rolling call, and for a call that can no longer be applied to."
    )
    label: str
    days_left: int | None
    opening_date: dt.date | None
    timing: float = Field(
        description="How far the time left lets the hub apply: 1 with a month or more (or a "
        "rolling call), falling to 0 a week before the deadline. The score includes it."
    )


class RuleOut(BaseModel):
    outcome: Outcome
    text: str


class VerdictOut(BaseModel):
    outcome: Outcome = Field(examples=["eligible"])
    rule: str = Field(description="The rules that decide the outcome, in one line.")
    rules: list[RuleOut] = Field(description="Every rule of the call that applies, worst first.")


class ReasonsOut(BaseModel):
    summary: str = Field(description="One plain sentence made of the evidence below.")
    score_parts: dict[str, float] = Field(
        description="The score shared among the kinds of evidence that raised it (dense, "
        "lexical, facets, profile, programme, registry): each part is at least 0, and they add "
        "up to the "
        "score."
    )
    raw_score: float = Field(
        description="The ranker's raw score before calibration; comparable within one scorer."
    )
    features: dict[str, float] = Field(description="The feature values the score comes from.")
    sentences: SentencePair | None
    shared_facets: list[str]
    shared_terms: list[str]
    deadline: DeadlineOut | None
    eligibility: VerdictOut | None
    track_record: str = Field(
        description="The organisation's registered work on what the project is about, from "
        "registry facts (trials, EU projects); empty without such facts."
    )


class MatchOut(BaseModel):
    id: str
    name: str
    entity: EntityKind = Field(description="What the candidate is: organisation, call, project.")
    kind: OrgKind | None = Field(description="An organisation's kind; null for calls, projects.")
    country: str | None = Field(description="An organisation's country.")
    funder: str | None = Field(description="A call's funder.")
    modality: Modality | None = Field(description="A project's modality.")
    score: float = Field(
        ge=0,
        le=1,
        description="The estimated probability that the pair is a relevant match (for calls, "
        "times the timing), calibrated on the benchmarks: comparable across partners, calls and "
        "projects.",
    )
    strength: Strength = Field(
        description=f"strong: score >= {STRONG}; good: >= {GOOD}; weak: below."
    )
    rank: int
    also: list[str] = Field(
        description="Other stored records of the same organisation (entity resolution), "
        "merged into this candidate: their documents count as its evidence."
    )
    reasons: ReasonsOut | None

    @classmethod
    def of(cls, match: Match) -> MatchOut:
        return cls(
            id=match.id,
            name=match.name,
            entity=match.entity,
            kind=match.kind,
            country=match.country,
            funder=match.funder,
            modality=match.modality,
            score=match.score,
            strength=match.strength,
            rank=match.rank,
            also=list(match.also),
            reasons=_reasons(match.reasons) if match.reasons is not None else None,
        )


def _reasons(r: Reasons) -> ReasonsOut:
    d, v, s = r.deadline, r.eligibility, r.sentences
    return ReasonsOut(
        summary=r.summary,
        score_parts=r.score_parts,
        raw_score=r.raw_score,
        features=r.features,
        sentences=SentencePair(query=s.query, candidate=s.candidate, similarity=s.similarity)
        if s
        else None,
        shared_facets=list(r.shared_facets),
        shared_terms=list(r.shared_terms),
        track_record=r.track_record,
        deadline=DeadlineOut(
            status=CallStatus(d.status),
            next_deadline=d.next_deadline,
            label=d.label,
            days_left=d.days_left,
            opening_date=d.opening_date,
            timing=d.timing,
        )
        if d
        else None,
        eligibility=VerdictOut(
            outcome=v.outcome,
            rule=v.rule,
            rules=[RuleOut(outcome=x.outcome, text=x.text) for x in v.rules],
        )
        if v
        else None,
    )


class MatchList(BaseModel):
    query: str = Field(description="The id or the text the matches are for.")
    direction: str = Field(examples=["project->partners"])
    nothing_fits: bool = Field(
        description="True when no match is good or strong, or the text cannot be matched (too "
        "short, gibberish, or a language the model does not read); then every match is weak."
    )
    notice: str = Field(
        description="What to know before reading the matches: why nothing fits, or that the "
        "call asked about is closed, withdrawn or not open yet. Empty when there is nothing."
    )
    matches: list[MatchOut]

    @classmethod
    def of(cls, query: str, direction: str, ranking: Ranking) -> MatchList:
        return cls(
            query=query,
            direction=direction,
            nothing_fits=ranking.nothing_fits,
            notice=ranking.notice,
            matches=[MatchOut.of(m) for m in ranking],
        )


Statuses = Field(
    default_factory=lambda: [CallStatus.OPEN, CallStatus.FORTHCOMING],
    max_length=2,
    description="Only calls with these statuses: open, forthcoming (both by default). Closed "
    "and withdrawn calls are never proposed.",
)


class TextProfile(Strict):
    """What a pasted text may say of itself, so that call verdicts can be decided."""

    stage: Choice[Stage] | None = Field(None, description="The project's stage, if known.")
    modality: Choice[Modality] | None = None
    needs: list[Choice[Need]] = Field(default_factory=list, max_length=len(Need))

    def profile(self) -> Profile:
        return Profile(self.stage, self.modality, tuple(self.needs))


class SearchPartners(TextProfile):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="An abstract or a few lines.")
    k: int = Field(10, ge=1, le=MAX_K)
    kind: list[Choice[OrgKind]] = Field(
        default_factory=list, max_length=len(OrgKind), description="Only these kinds."
    )


class SearchCalls(TextProfile):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    k: int = Field(10, ge=1, le=MAX_K)
    status: list[Choice[CallStatus]] = Statuses
    include_ineligible: bool = Field(
        False, description="Also calls the hub may not apply to, with their verdict."
    )


class SearchProjects(Strict):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="A company's or call's text.")
    k: int = Field(10, ge=1, le=MAX_K)


class DocumentOut(BaseModel):
    title: str
    text: str


class ProjectOut(BaseModel):
    """A project. Partners and guests get the public summary: needs, owner, team and updated_at
    are then null. Read from a matcher.ProjectRecord."""

    model_config = ConfigDict(from_attributes=True)

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

    @classmethod
    def of(cls, o: Organisation) -> OrganisationOut:
        return cls(
            id=o.id,
            name=o.name,
            kind=o.kind,
            country=o.country,
            website=o.website,
            capabilities=list(o.capabilities),
            modalities=[m.value for m in o.modalities],
            indications=list(o.indications),
            documents=[DocumentOut(title=d.title, text=d.text) for d in o.profile],
        )


class CallOut(BaseModel):
    id: str
    title: str
    funder: str
    programme: str
    text: str
    opening_date: dt.date | None
    deadlines: list[dict[str, str]]
    status: CallStatus = Field(description="Status today: open, forthcoming, closed, withdrawn.")
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
    counts: dict[str, int] | None = Field(
        default=None,
        description="Loaded entities (projects, organisations, calls) by kind, not documents; "
        "for signed-in callers only.",
        examples=[{"project": 40, "organisation": 147, "call": 25}],
    )


class IndexInfo(BaseModel):
    model: str
    dim: int
    count: int = Field(description="Vectors in the index: one per document, several per entity.")
    entities: int = Field(description="Entities of this kind that the index covers.")
    data_hash: str
    built_at: str


class Version(BaseModel):
    version: str
    model: str | None = Field(
        default=None, description="The embedding model; for signed-in callers only."
    )
    indexes: dict[str, IndexInfo] | None = Field(
        default=None,
        description="The manifest of each loaded index; for signed-in callers only.",
    )


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
    role: Choice[Role]
    organisation: str | None = Field(
        None, max_length=128, description="Guests only: the id of their organisation."
    )
    display_name: str = Field("", max_length=200)


class UserPatch(Strict):
    role: Choice[Role] | None = None
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


class ErasureOut(BaseModel):
    """One entry of the erasure ledger: what was erased, when and by whom; never its content."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The entry's number; an erased user's audit entries name it.")
    at: dt.datetime
    by: str
    kind: str = Field(examples=["project"], description="project, organisation or user")
    object_id: str


# ---------------------------------------------------------------------- feedback and pipeline


class FeedbackIn(Strict):
    verdict: Choice[Feedback] = Field(
        description="relevant; not_relevant or already_known keep the pair out of your rankings."
    )


class FeedbackOut(BaseModel):
    project_id: str
    candidate_id: str
    verdict: Feedback


class FeedbackCountOut(BaseModel):
    project_id: str
    candidate_id: str
    relevant: int
    not_relevant: int
    already_known: int


class ShortlistIn(Strict):
    project_id: str = Field(min_length=1, max_length=128)
    candidate_id: str = Field(
        min_length=1, max_length=128, description="The organisation or call to pursue."
    )
    note: str = Field("", max_length=2000)


class MoveIn(Strict):
    stage: Choice[PipelineStage]
    note: str = Field("", max_length=2000)


class PipelineEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stage: PipelineStage
    note: str
    by: str
    at: dt.datetime


class PipelineEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: str
    candidate_id: str
    candidate_kind: str
    stage: PipelineStage
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    history: list[PipelineEventOut]
