"""ClinicalTrials.gov's study files (API v2 JSON): one study per file, a folder of them, an API
page (`{"studies": [...]}`) or JSON lines (one study per line, optionally gzipped), and each
study read as a trial: its identification, description, conditions, interventions, design,
status, sponsors and sites, every field checked (an InvalidRecord names the bad one by its path).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord
from .common import clean_text as _repair
from .countries import country_code

CLASSES = ("INDUSTRY", "NIH", "FED", "OTHER_GOV", "INDIV", "NETWORK", "OTHER", "UNKNOWN")
"""The agency classes of sponsors and collaborators."""
_NCT = re.compile(r"^NCT\d{8}$")
_PARTIAL_DATE = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?$")
_DESCRIPTION_MAX = 2000
_INTERVENTION_MAX = 300
_LINES_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_NEEDS_REPAIR = re.compile(r"[^\n\t\x20-\x25\x27-\x3b\x3d-\x7e]")
"""Anything but printable ASCII without '&' and '<': what ftfy or the HTML pass could change."""


def clean_text(raw: str | None) -> str:
    """`common.clean_text`, without its costly repairs (ftfy) for plain ASCII, which they leave
    as it is: most of a study's fields, and most of the time of an import."""
    if raw and not _NEEDS_REPAIR.search(raw):
        lines = (" ".join(line.split()) for line in raw.splitlines())
        return "\n".join(line for line in lines if line)
    return _repair(raw)


@dataclass(frozen=True)
class Party:
    name: str
    cls: str


@dataclass(frozen=True)
class Site:
    facility: str
    city: str
    country: str
    status: str


@dataclass(frozen=True)
class Trial:
    nct: str
    record: str
    title: str
    official_title: str
    summary: str
    description: str
    conditions: tuple[str, ...]
    keywords: tuple[str, ...]
    interventions: tuple[str, ...]
    phase: str
    study_type: str
    status: str
    start: str
    completion: str
    lead: Party
    collaborators: tuple[Party, ...]
    sites: tuple[Site, ...]

    @property
    def countries(self) -> set[str]:
        return {s.country for s in self.sites}


def study_files(path: Path) -> list[Path]:
    """The files PATH names: itself, or a folder's .json and JSON-lines files. Raises
    InvalidRecord when the folder holds none."""
    if path.is_file():
        return [path]
    found = sorted(
        p for p in path.iterdir() if p.is_file() and p.name.endswith((".json", *_LINES_SUFFIXES))
    )
    if not found:
        raise InvalidRecord(
            "no .json or .jsonl files here: download studies from ClinicalTrials.gov's API v2 "
            "(format=json) into this folder",
            file=str(path),
        )
    return found


def studies(file: Path) -> Iterator[tuple[str, Any]]:
    """Each study of a file with where it is ('line 3', 'study 2', or the file's only one)."""
    opener = gzip.open if file.name.endswith(".gz") else open
    with opener(file, "rt", encoding="utf-8-sig") as handle:
        text = handle.read()
    if not file.name.endswith(_LINES_SUFFIXES):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            if not _looks_like_lines(text):
                raise InvalidRecord(f"is not JSON: {error}", file=str(file)) from None
        else:
            if isinstance(data, Mapping) and isinstance(data.get("studies"), list):
                data = data["studies"]
            if isinstance(data, list):
                yield from ((f"study {i}", s) for i, s in enumerate(data, start=1))
            else:
                yield "study", data
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as error:
            yield f"line {number}", InvalidRecord(f"is not JSON: {error}")


def _looks_like_lines(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return isinstance(json.loads(first), Mapping)
    except json.JSONDecodeError:
        return False


class _Study:
    """Reads one study's nested modules, naming the field of any problem by its path."""

    def __init__(self, study: Any, record: str) -> None:
        if isinstance(study, InvalidRecord):
            raise study
        if not isinstance(study, Mapping):
            raise InvalidRecord(f"expected a JSON object, got {type(study).__name__}")
        section = study.get("protocolSection")
        if not isinstance(section, Mapping):
            raise InvalidRecord("is required (a study of the API v2)", field="protocolSection")
        self.section = section
        self.record = record

    def get(self, dotted: str) -> Any:
        value: Any = self.section
        for key in dotted.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    def text(self, dotted: str, *, required: bool = False) -> str:
        value = self.get(dotted)
        if value is not None and not isinstance(value, str):
            raise InvalidRecord("must be a string", field=f"protocolSection.{dotted}")
        cleaned = clean_text(value)
        if required and not cleaned:
            raise InvalidRecord("is required", field=f"protocolSection.{dotted}")
        return cleaned

    def texts(self, dotted: str) -> tuple[str, ...]:
        value = self.get(dotted)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidRecord("must be a list of strings", field=f"protocolSection.{dotted}")
        return tuple(dict.fromkeys(c for c in (clean_text(v) for v in value) if c))

    def objects(self, dotted: str) -> list[Mapping[str, Any]]:
        value = self.get(dotted)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise InvalidRecord("must be a list of objects", field=f"protocolSection.{dotted}")
        return value

    def date(self, dotted: str) -> str:
        raw = self.text(dotted)
        if not raw:
            return ""
        try:
            if not _PARTIAL_DATE.match(raw):
                raise ValueError(raw)
            dt.date.fromisoformat(raw if len(raw) == 10 else f"{raw}-01")
        except ValueError:
            raise InvalidRecord(
                f"{raw!r} is not a date (YYYY-MM or YYYY-MM-DD)", field=f"protocolSection.{dotted}"
            ) from None
        return raw


def _party(item: Mapping[str, Any], where: str) -> Party:
    name = item.get("name")
    if not isinstance(name, str) or not clean_text(name):
        raise InvalidRecord("is required", field=f"{where}.name")
    cls = item.get("class") or "UNKNOWN"
    if cls not in CLASSES:
        raise InvalidRecord(f"{cls!r} is not one of {', '.join(CLASSES)}", field=f"{where}.class")
    return Party(clean_text(name), str(cls))


def parse_trial(raw: Any, record: str) -> Trial:
    """A study (as `studies` yields it) read as a trial. Raises InvalidRecord naming the field
    by its path, and the study by its NCT number once that is known."""
    study = _Study(raw, record)
    nct = study.text("identificationModule.nctId", required=True)
    if not _NCT.match(nct):
        raise InvalidRecord(
            f"{nct!r} is not an NCT number (NCT and 8 digits)",
            field="protocolSection.identificationModule.nctId",
        )
    record = f"study {nct}" + (f" ({record})" if record != "study" else "")
    try:
        return _trial_fields(study, nct, record)
    except InvalidRecord as error:
        raise InvalidRecord(error.reason, record=record, field=error.field) from None


def _trial_fields(study: _Study, nct: str, record: str) -> Trial:
    sponsors = "protocolSection.sponsorCollaboratorsModule"
    lead = study.get("sponsorCollaboratorsModule.leadSponsor")
    if not isinstance(lead, Mapping):
        raise InvalidRecord("is required", field=f"{sponsors}.leadSponsor")
    collaborators = tuple(
        _party(c, f"{sponsors}.collaborators[{i}]")
        for i, c in enumerate(study.objects("sponsorCollaboratorsModule.collaborators"))
    )
    interventions = []
    for i, item in enumerate(study.objects("armsInterventionsModule.interventions")):
        name = clean_text(str(item.get("name") or ""))
        if not name:
            raise InvalidRecord(
                "is required",
                field=f"protocolSection.armsInterventionsModule.interventions[{i}].name",
            )
        kind = str(item.get("type") or "").replace("_", " ").lower()
        description = _clip(clean_text(str(item.get("description") or "")), _INTERVENTION_MAX)
        interventions.append(
            (f"{kind.capitalize()}: " if kind else "")
            + name
            + (f" ({description})" if description else "")
        )
    sites = []
    for i, item in enumerate(study.objects("contactsLocationsModule.locations")):
        facility = clean_text(str(item.get("facility") or ""))
        raw_country = clean_text(str(item.get("country") or ""))
        where = f"protocolSection.contactsLocationsModule.locations[{i}].country"
        if not raw_country:
            continue
        code = country_code(raw_country)
        if code is None:
            raise InvalidRecord(f"{raw_country!r} is not a country we know", field=where)
        sites.append(
            Site(
                facility,
                clean_text(str(item.get("city") or "")),
                code,
                str(item.get("status") or "").replace("_", " ").lower(),
            )
        )
    phases = study.texts("designModule.phases")
    return Trial(
        nct=nct,
        record=record,
        title=study.text("identificationModule.briefTitle", required=True),
        official_title=study.text("identificationModule.officialTitle"),
        summary=study.text("descriptionModule.briefSummary"),
        description=_clip(study.text("descriptionModule.detailedDescription"), _DESCRIPTION_MAX),
        conditions=study.texts("conditionsModule.conditions"),
        keywords=study.texts("conditionsModule.keywords"),
        interventions=tuple(interventions),
        phase=_phase(phases),
        study_type=study.text("designModule.studyType").lower(),
        status=study.text("statusModule.overallStatus").replace("_", " ").lower(),
        start=study.date("statusModule.startDateStruct.date"),
        completion=study.date("statusModule.completionDateStruct.date"),
        lead=_party(lead, f"{sponsors}.leadSponsor"),
        collaborators=collaborators,
        sites=tuple(sites),
    )


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def _phase(phases: tuple[str, ...]) -> str:
    """['PHASE1', 'PHASE2'] -> 'phase 1/2'; ['EARLY_PHASE1'] -> 'early phase 1'; ['NA'] -> ''."""
    if "EARLY_PHASE1" in phases:
        return "early phase 1"
    numbers = [p.removeprefix("PHASE") for p in phases if re.match(r"^PHASE\d$", p)]
    return f"phase {'/'.join(numbers)}" if numbers else ""
