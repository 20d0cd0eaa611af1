"""Strict parsing of input records (JSON objects) into domain objects.

Every problem raises `InvalidRecord` naming the field; the caller adds the file and the record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from . import facts as registry
from .domain import (
    Budget,
    CallStatus,
    Deadline,
    Document,
    Eligibility,
    Facts,
    FundingCall,
    Modality,
    Need,
    Organisation,
    OrgKind,
    Project,
    Stage,
    Visibility,
)
from .errors import InvalidRecord

E = TypeVar("E", bound=StrEnum)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
COUNTRY_GROUPS = ("ANY", "EU")


class _Fields:
    """Reads fields from one record, remembering which ones were used."""

    def __init__(self, record: Any, allowed: set[str]) -> None:
        if not isinstance(record, Mapping):
            raise InvalidRecord(f"expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - allowed)
        if unknown:
            raise InvalidRecord(
                f"unknown field (allowed: {', '.join(sorted(allowed))})", field=unknown[0]
            )
        self.record = record

    def has(self, name: str) -> bool:
        return self.record.get(name) is not None

    def text(self, name: str, *, required: bool = True, default: str = "") -> str:
        value = self.record.get(name)
        if value is None:
            if required:
                raise InvalidRecord("is required", field=name)
            return default
        if not isinstance(value, str):
            raise InvalidRecord(f"must be a string, got {type(value).__name__}", field=name)
        if required and not value.strip():
            raise InvalidRecord("must not be empty", field=name)
        return value.strip()

    def id(self, name: str = "id") -> str:
        value = self.text(name)
        if not _ID.match(value):
            raise InvalidRecord(
                f"{value!r} is not a valid id (letters, digits, '.', '_', ':', '-'; at most 128)",
                field=name,
            )
        return value

    def enum(self, name: str, enum: type[E]) -> E:
        return _enum(self.text(name), enum, name)

    def texts(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        value = self.record.get(name)
        if value is None:
            if required:
                raise InvalidRecord("is required", field=name)
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidRecord("must be a list of strings", field=name)
        items = tuple(v.strip() for v in value if v.strip())
        if required and not items:
            raise InvalidRecord("must hold at least one value", field=name)
        return items

    def enums(self, name: str, enum: type[E]) -> tuple[E, ...]:
        return tuple(_enum(v, enum, name) for v in self.texts(name))

    def list_of(self, name: str, parse: Callable[[Any, str], Any], *, required: bool) -> list[Any]:
        value = self.record.get(name)
        if value is None:
            if required:
                raise InvalidRecord("is required", field=name)
            return []
        if not isinstance(value, list):
            raise InvalidRecord("must be a list", field=name)
        if required and not value:
            raise InvalidRecord("must hold at least one item", field=name)
        return [parse(item, f"{name}[{i}]") for i, item in enumerate(value)]

    def object(self, name: str) -> Mapping[str, Any] | None:
        value = self.record.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidRecord("must be an object", field=name)
        return value

    def number(self, name: str) -> float | None:
        value = self.record.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidRecord("must be a non-negative number", field=name)
        return float(value)

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        raw = self.text(name, required=required)
        return _date(raw, name) if raw else None


def _enum(value: str, enum: type[E], name: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidRecord(f"{value!r} is not one of: {allowed}", field=name) from None


def _date(raw: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidRecord(f"{raw!r} is not a date (YYYY-MM-DD)", field=name) from None


def _datetime(raw: str, name: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRecord(
            f"{raw!r} is not an ISO 8601 date-time (e.g. 2026-10-02T09:15:00Z)", field=name
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _nested(field_name: str, parse: Callable[[_Fields], Any], allowed: set[str], item: Any) -> Any:
    try:
        return parse(_Fields(item, allowed))
    except InvalidRecord as error:
        inner = f".{error.field}" if error.field else ""
        raise InvalidRecord(error.reason, field=f"{field_name}{inner}") from None


def parse_project(record: Any) -> Project:
    f = _Fields(
        record,
        {
            "id",
            "title",
            "abstract",
            "modality",
            "indications",
            "stage",
            "needs",
            "owner",
            "team",
            "visibility",
            "updated_at",
            "facts",
        },
    )
    return Project(
        id=f.id(),
        title=f.text("title"),
        abstract=f.text("abstract"),
        modality=f.enum("modality", Modality),
        indications=f.texts("indications", required=True),
        stage=f.enum("stage", Stage),
        needs=f.enums("needs", Need),
        owner=f.text("owner"),
        team=f.texts("team"),
        visibility=f.enum("visibility", Visibility),
        updated_at=_datetime(f.text("updated_at"), "updated_at"),
        facts=_facts(f.record.get("facts"), "facts"),
    )


def _document(item: Any, name: str) -> Document:
    def parse(f: _Fields) -> Document:
        return Document(f.text("title"), f.text("text"), _facts(f.record.get("facts"), "facts"))

    return _nested(name, parse, {"title", "text", "facts"}, item)  # type: ignore[no-any-return]


def _facts(item: Any, name: str) -> Facts | None:
    try:
        return registry.from_record(item)
    except InvalidRecord as error:
        inner = f".{error.field}" if error.field else ""
        raise InvalidRecord(error.reason, field=f"{name}{inner}") from None


def _document_record(d: Document) -> dict[str, Any]:
    record: dict[str, Any] = {"title": d.title, "text": d.text}
    if d.facts:
        record["facts"] = registry.to_record(d.facts)
    return record


def parse_organisation(record: Any) -> Organisation:
    f = _Fields(
        record,
        {
            "id",
            "name",
            "kind",
            "country",
            "website",
            "capabilities",
            "modalities",
            "indications",
            "documents",
        },
    )
    country = f.text("country").upper()
    if not _COUNTRY.match(country):
        raise InvalidRecord(f"{country!r} is not an ISO 3166-1 alpha-2 code", field="country")
    capabilities = f.texts("capabilities")
    for tag in capabilities:
        if not re.match(r"^[a-z0-9_]+$", tag):
            raise InvalidRecord(f"{tag!r} is not a tag (lower_snake_case)", field="capabilities")
    return Organisation(
        id=f.id(),
        name=f.text("name"),
        kind=f.enum("kind", OrgKind),
        country=country,
        website=f.text("website", required=False) or None,
        capabilities=capabilities,
        modalities=f.enums("modalities", Modality),
        indications=f.texts("indications"),
        profile=tuple(f.list_of("documents", _document, required=True)),
    )


def _deadline(item: Any, name: str) -> Deadline:
    def parse(f: _Fields) -> Deadline:
        return Deadline(_date(f.text("date"), "date"), f.text("label", required=False))

    return _nested(name, parse, {"date", "label"}, item)  # type: ignore[no-any-return]


def _budget(f: _Fields) -> Budget:
    return Budget(
        total=f.number("total"),
        per_project_max=f.number("per_project_max"),
        currency=f.text("currency", required=False, default="EUR"),
    )


def _eligibility(f: _Fields) -> Eligibility:
    countries = tuple(c.upper() for c in f.texts("countries"))
    for i, code in enumerate(countries):
        if code not in COUNTRY_GROUPS and not _COUNTRY.match(code):
            raise InvalidRecord(
                f"{code!r} is not an ISO 3166-1 alpha-2 code or one of {', '.join(COUNTRY_GROUPS)}",
                field=f"countries[{i}]",
            )
    min_consortium = f.record.get("min_consortium", 1)
    if (
        isinstance(min_consortium, bool)
        or not isinstance(min_consortium, int)
        or min_consortium < 1
    ):
        raise InvalidRecord("must be a whole number of at least 1", field="min_consortium")
    industry = f.record.get("industry_partner_required", False)
    if not isinstance(industry, bool):
        raise InvalidRecord("must be true or false", field="industry_partner_required")
    min_stage = f.enum("min_stage", Stage) if f.has("min_stage") else None
    max_stage = f.enum("max_stage", Stage) if f.has("max_stage") else None
    if min_stage and max_stage and min_stage.order > max_stage.order:
        raise InvalidRecord(f"{min_stage} comes after max_stage {max_stage}", field="min_stage")
    return Eligibility(
        applicant_kinds=f.enums("applicant_kinds", OrgKind),
        countries=countries,
        min_consortium=min_consortium,
        industry_partner_required=industry,
        min_stage=min_stage,
        max_stage=max_stage,
    )


def parse_call(record: Any) -> FundingCall:
    f = _Fields(
        record,
        {
            "id",
            "title",
            "funder",
            "programme",
            "text",
            "opening_date",
            "deadlines",
            "status",
            "budget",
            "eligibility",
            "url",
        },
    )
    budget = f.object("budget")
    eligibility = f.object("eligibility")
    eligibility_fields = {
        "applicant_kinds",
        "countries",
        "min_consortium",
        "industry_partner_required",
        "min_stage",
        "max_stage",
    }
    return FundingCall(
        id=f.id(),
        title=f.text("title"),
        funder=f.text("funder"),
        programme=f.text("programme", required=False),
        text=f.text("text"),
        opening_date=f.date("opening_date"),
        deadlines=tuple(
            sorted(f.list_of("deadlines", _deadline, required=False), key=lambda d: d.date)
        ),
        status=f.enum("status", CallStatus) if f.has("status") else None,
        budget=(
            _nested("budget", _budget, {"total", "per_project_max", "currency"}, budget)
            if budget is not None
            else None
        ),
        eligibility=(
            _nested("eligibility", _eligibility, eligibility_fields, eligibility)
            if eligibility is not None
            else Eligibility()
        ),
        url=f.text("url", required=False) or None,
    )


def to_record(entity: Project | Organisation | FundingCall) -> dict[str, Any]:
    """The JSON object that `parse_*` reads back into an equal entity."""
    if isinstance(entity, Project):
        return {
            "id": entity.id,
            "title": entity.title,
            "abstract": entity.abstract,
            "modality": entity.modality.value,
            "indications": list(entity.indications),
            "stage": entity.stage.value,
            "needs": [n.value for n in entity.needs],
            "owner": entity.owner,
            "team": list(entity.team),
            "visibility": entity.visibility.value,
            "updated_at": entity.updated_at.isoformat(),
            **({"facts": registry.to_record(entity.facts)} if entity.facts else {}),
        }
    if isinstance(entity, Organisation):
        return {
            "id": entity.id,
            "name": entity.name,
            "kind": entity.kind.value,
            "country": entity.country,
            "website": entity.website,
            "capabilities": list(entity.capabilities),
            "modalities": [m.value for m in entity.modalities],
            "indications": list(entity.indications),
            "documents": [_document_record(d) for d in entity.profile],
        }
    e = entity.eligibility
    return {
        "id": entity.id,
        "title": entity.title,
        "funder": entity.funder,
        "programme": entity.programme,
        "text": entity.text,
        "opening_date": entity.opening_date.isoformat() if entity.opening_date else None,
        "deadlines": [{"date": d.date.isoformat(), "label": d.label} for d in entity.deadlines],
        "status": entity.status.value if entity.status else None,
        "budget": (
            {
                "total": entity.budget.total,
                "per_project_max": entity.budget.per_project_max,
                "currency": entity.budget.currency,
            }
            if entity.budget
            else None
        ),
        "eligibility": {
            "applicant_kinds": [k.value for k in e.applicant_kinds],
            "countries": list(e.countries),
            "min_consortium": e.min_consortium,
            "industry_partner_required": e.industry_partner_required,
            "min_stage": e.min_stage.value if e.min_stage else None,
            "max_stage": e.max_stage.value if e.max_stage else None,
        },
        "url": entity.url,
    }
