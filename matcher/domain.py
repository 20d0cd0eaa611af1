"""The hub's domain: projects, organisations, funding calls and the vocabularies they use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Modality(StrEnum):
    CAR_T = "car_t"
    TCR_T = "tcr_t"
    NK_CELL = "nk_cell"
    TREG = "treg"
    TIL = "til"
    OTHER_IMMUNE_CELL = "other_immune_cell"
    AAV = "aav"
    LENTIVIRAL = "lentiviral"
    CRISPR_EDITED = "crispr_edited"
    IPSC_DERIVED = "ipsc_derived"
    MSC = "msc"
    TISSUE_ENGINEERED = "tissue_engineered"
    OTHER = "other"


class Stage(StrEnum):
    """Development stages, in order."""

    DISCOVERY = "discovery"
    PRECLINICAL = "preclinical"
    GMP_PROCESS_DEVELOPMENT = "gmp_process_development"
    PHASE_1 = "phase_1"
    PHASE_2_PLUS = "phase_2_plus"

    @property
    def order(self) -> int:
        return list(Stage).index(self)


class Need(StrEnum):
    GMP_MANUFACTURING = "gmp_manufacturing"
    VECTOR_SUPPLY = "vector_supply"
    PROCESS_DEVELOPMENT = "process_development"
    ANALYTICS_QC = "analytics_qc"
    CRO_SERVICES = "cro_services"
    CLINICAL_SITES = "clinical_sites"
    REGULATORY_ADVICE = "regulatory_advice"
    CO_FUNDING = "co_funding"
    INDUSTRY_PARTNER = "industry_partner"


class Visibility(StrEnum):
    CONFIDENTIAL = "confidential"
    INTERNAL = "internal"
    PUBLIC = "public"


class OrgKind(StrEnum):
    PHARMA = "pharma"
    BIOTECH = "biotech"
    CDMO = "cdmo"
    CRO = "cro"
    HOSPITAL_UNIT = "hospital_unit"
    ACADEMIC_GROUP = "academic_group"
    FUNDER = "funder"
    OTHER = "other"


class CallStatus(StrEnum):
    OPEN = "open"
    FORTHCOMING = "forthcoming"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    """The funder cancelled the call: never proposed, whatever its dates say."""


class EntityKind(StrEnum):
    PROJECT = "project"
    ORGANISATION = "organisation"
    CALL = "call"


@dataclass(frozen=True)
class Facts:
    """What a registry says about a document besides its text (a trial on ClinicalTrials.gov, a
    project in CORDIS), normalised by `matcher.facts` from the formats real exports use."""

    phases: tuple[int, ...] = ()
    """Trial phases, 0 for early phase 1, then 1 to 4; empty where none applies ('NA')."""
    start: dt.date | None = None
    end: dt.date | None = None
    conditions: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()
    """Products, drugs, devices or procedures as the registry names them."""
    role: str = ""
    """The organisation's part: lead, collaborator, coordinator, participant or site."""

    def __bool__(self) -> bool:
        return bool(
            self.phases or self.start or self.end or self.conditions or self.interventions
            or self.role
        )  # fmt: skip


LEADING_ROLES = frozenset({"lead", "coordinator"})


@dataclass(frozen=True)
class Document:
    """One profile document of an organisation: capabilities, pipeline, past projects."""

    title: str
    text: str
    facts: Facts | None = None


@dataclass(frozen=True)
class Project:
    id: str
    title: str
    abstract: str
    modality: Modality
    indications: tuple[str, ...]
    stage: Stage
    owner: str
    visibility: Visibility
    updated_at: dt.datetime
    needs: tuple[Need, ...] = ()
    team: tuple[str, ...] = ()
    facts: Facts | None = None
    """Where the project is registered (a trial of its own): its phase, dates, conditions and
    interventions."""

    @property
    def name(self) -> str:
        return self.title

    def documents(self) -> tuple[Document, ...]:
        """The texts that are embedded and indexed for this entity."""
        return (Document("abstract", _joined(self.title, self.abstract), self.facts),)


UNKNOWN_COUNTRY = "ZZ"
"""ISO 3166's user-assigned code that CLDR uses for an unknown region: an organisation's country
where its source gives none (ClinicalTrials.gov's sponsors)."""


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    kind: OrgKind
    country: str
    profile: tuple[Document, ...]
    capabilities: tuple[str, ...] = ()
    modalities: tuple[Modality, ...] = ()
    indications: tuple[str, ...] = ()
    website: str | None = None

    def documents(self) -> tuple[Document, ...]:
        return self.profile


@dataclass(frozen=True)
class Deadline:
    date: dt.date
    label: str = ""


@dataclass(frozen=True)
class Budget:
    total: float | None = None
    per_project_max: float | None = None
    currency: str = "EUR"


@dataclass(frozen=True)
class Eligibility:
    """Who may apply. Empty tuples and None mean 'no restriction'."""

    applicant_kinds: tuple[OrgKind, ...] = ()
    countries: tuple[str, ...] = ()
    min_consortium: int = 1
    industry_partner_required: bool = False
    min_stage: Stage | None = None
    max_stage: Stage | None = None


@dataclass(frozen=True)
class FundingCall:
    id: str
    title: str
    funder: str
    text: str
    programme: str = ""
    opening_date: dt.date | None = None
    deadlines: tuple[Deadline, ...] = ()
    status: CallStatus | None = None
    budget: Budget | None = None
    eligibility: Eligibility = field(default_factory=Eligibility)
    url: str | None = None

    @property
    def name(self) -> str:
        return self.title

    @property
    def rolling(self) -> bool:
        """A call without deadlines accepts applications continuously."""
        return not self.deadlines

    def documents(self) -> tuple[Document, ...]:
        return (Document("call text", _joined(self.title, self.text)),)

    def next_deadline(self, today: dt.date) -> Deadline | None:
        """The first deadline on or after today, or None when all have passed or there are none."""
        upcoming = sorted((d for d in self.deadlines if d.date >= today), key=lambda d: d.date)
        return upcoming[0] if upcoming else None

    def status_on(self, today: dt.date) -> CallStatus:
        """The status on a given day: the dates decide, except that a funder's 'withdrawn' or
        'closed' wins, and its 'forthcoming' holds while no opening date is known (exports such
        as EU Funding & Tenders' give none). The one place a call's status is computed."""
        if self.status in (CallStatus.WITHDRAWN, CallStatus.CLOSED):
            return self.status
        if self.deadlines and self.next_deadline(today) is None:
            return CallStatus.CLOSED
        if self.opening_date is not None and self.opening_date > today:
            return CallStatus.FORTHCOMING
        if self.status is CallStatus.FORTHCOMING and self.opening_date is None:
            return CallStatus.FORTHCOMING  # the funder says so, and no date says otherwise
        return CallStatus.OPEN


def _joined(title: str, text: str) -> str:
    return text if text.startswith(title) else f"{title.rstrip('.')}. {text}"


Entity = Project | Organisation | FundingCall


def kind_of(entity: Entity) -> EntityKind:
    if isinstance(entity, Project):
        return EntityKind.PROJECT
    if isinstance(entity, Organisation):
        return EntityKind.ORGANISATION
    return EntityKind.CALL
