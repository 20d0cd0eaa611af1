"""ClinicalTrials.gov studies (API v2 JSON): one study per file, a folder of them, an API page
(`{"studies": [...]}`) or JSON lines (one study per line, optionally gzipped).

The lead sponsor and the collaborators of each study become organisations `CTGOV:<slug of the
name>`; named sites become hospital units `CTGOV:site:<slug of the facility and country>`. Each
gets one profile document per study it took part in (title, summary, conditions, interventions,
phase, start date, status and its role), gathered over every study of the import before any is
yielded, so that an organisation in several studies carries all of them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain import Document, Organisation, OrgKind
from ..errors import InvalidRecord
from .common import Progress, SourceItem
from .common import clean_text as _repair
from .countries import UNKNOWN, country_code
from .kinds import ACADEMIC, CDMO, CRO, FUNDER, HOSPITAL, PHARMA, slug

NAME = "ctgov"

CLASSES = ("INDUSTRY", "NIH", "FED", "OTHER_GOV", "INDIV", "NETWORK", "OTHER", "UNKNOWN")
"""The agency classes of sponsors and collaborators."""
GENERIC_SITE = re.compile(
    r"\b(?:investigative|investigational|research|study|clinical|trial) site\b|local institution"
    r"|^site\b|\bsite (?:number|no\.?|#)?\s*\d+",
    re.I,
)
"""Placeholders sponsors write instead of a facility ('Novartis Investigative Site')."""
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
class _Party:
    name: str
    cls: str


@dataclass(frozen=True)
class _Site:
    facility: str
    city: str
    country: str
    status: str


@dataclass(frozen=True)
class _Trial:
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
    lead: _Party
    collaborators: tuple[_Party, ...]
    sites: tuple[_Site, ...]

    @property
    def countries(self) -> set[str]:
        return {s.country for s in self.sites}


@dataclass
class _Involved:
    """An organisation as the studies of the import name it, and its roles in each."""

    names: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)
    roles: dict[str, list[str]] = field(default_factory=dict)
    country: str = ""
    city: str = ""

    def add(self, name: str, nct: str, role: str) -> None:
        self.names[name] += 1
        roles = self.roles.setdefault(nct, [])
        if role not in roles:
            roles.append(role)


def read(path: Path, progress: Progress | None = None) -> Iterator[SourceItem | InvalidRecord]:
    """One item per organisation named in the studies (a bad study gives an InvalidRecord and
    none of its organisations' documents)."""
    files = _files(path)
    trials: dict[str, _Trial] = {}
    count = 0
    for file in files:
        for record, study in _studies(file):
            count += 1
            if progress is not None and count % 100 == 0:
                progress(count)
            if len(files) > 1:
                record = f"{file.name}, {record}" if record != "study" else file.name
            try:
                trial = _trial(study, record)
            except InvalidRecord as error:
                yield InvalidRecord(error.reason, file=str(file), record=error.record or record,
                                    field=error.field)  # fmt: skip
                continue
            trials[trial.nct] = trial
    yield from _items(trials)


def _files(path: Path) -> list[Path]:
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


def _studies(file: Path) -> Iterator[tuple[str, Any]]:
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


def _party(item: Mapping[str, Any], where: str) -> _Party:
    name = item.get("name")
    if not isinstance(name, str) or not clean_text(name):
        raise InvalidRecord("is required", field=f"{where}.name")
    cls = item.get("class") or "UNKNOWN"
    if cls not in CLASSES:
        raise InvalidRecord(f"{cls!r} is not one of {', '.join(CLASSES)}", field=f"{where}.class")
    return _Party(clean_text(name), str(cls))


def _trial(raw: Any, record: str) -> _Trial:
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


def _trial_fields(study: _Study, nct: str, record: str) -> _Trial:
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
            _Site(
                facility,
                clean_text(str(item.get("city") or "")),
                code,
                str(item.get("status") or "").replace("_", " ").lower(),
            )
        )
    phases = study.texts("designModule.phases")
    return _Trial(
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


def kind_of(cls: str, name: str) -> tuple[OrgKind, str]:
    """The kind a sponsor class and a name say, and a note saying why."""

    def by(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(name)
        return match.group(0) if match else None

    said = f"class {cls}"
    if cls == "INDUSTRY":
        for pattern, kind in ((CDMO, OrgKind.CDMO), (CRO, OrgKind.CRO), (PHARMA, OrgKind.PHARMA)):
            if word := by(pattern):
                return kind, f"kind={kind} from {said} and the name ({word!r})"
        return OrgKind.BIOTECH, f"kind=biotech from {said}"
    if cls == "NIH":
        return OrgKind.FUNDER, f"kind=funder from {said}"
    if cls == "NETWORK":
        return OrgKind.OTHER, f"kind=other from {said}"
    if word := by(HOSPITAL):
        return OrgKind.HOSPITAL_UNIT, f"kind=hospital_unit from {said} and the name ({word!r})"
    if cls == "OTHER" and (word := by(ACADEMIC)):
        return OrgKind.ACADEMIC_GROUP, f"kind=academic_group from {said} and the name ({word!r})"
    if cls in ("OTHER", "FED", "OTHER_GOV") and (word := by(FUNDER)):
        return OrgKind.FUNDER, f"kind=funder from {said} and the name ({word!r})"
    if cls == "OTHER":
        return OrgKind.ACADEMIC_GROUP, f"kind=academic_group from {said}"
    return OrgKind.OTHER, f"kind=other from {said}"


def _items(trials: Mapping[str, _Trial]) -> Iterator[SourceItem]:
    parties: dict[str, _Involved] = {}
    sites: dict[str, _Involved] = {}
    for trial in trials.values():
        for party, role in [(trial.lead, "lead sponsor")] + [
            (c, "collaborator") for c in trial.collaborators
        ]:
            if party.cls == "INDIV":
                continue  # a person, not an organisation
            involved = parties.setdefault(slug(party.name), _Involved())
            involved.add(party.name, trial.nct, role)
            involved.classes[party.cls] += 1
        for site in trial.sites:
            if not site.facility or GENERIC_SITE.search(site.facility):
                continue
            involved = sites.setdefault(slug(site.facility, site.country), _Involved())
            involved.add(site.facility, trial.nct, "site")
            involved.country, involved.city = site.country, involved.city or site.city
    for key in sorted(parties):
        yield _sponsor(key, parties[key], trials)
    for key in sorted(sites):
        yield _site(key, sites[key], trials)


def _most_common(counter: Counter[str]) -> str:
    return min(counter, key=lambda k: (-counter[k], k))


def _sponsor(key: str, involved: _Involved, trials: Mapping[str, _Trial]) -> SourceItem:
    name = _most_common(involved.names)
    cls = _most_common(involved.classes)
    kind, why = kind_of(cls, name)
    notes = [why]
    if len(involved.names) > 1:
        notes.append(f"name as most studies write it; also {'; '.join(sorted(involved.names))}")
    countries = set().union(*(trials[nct].countries for nct in involved.roles))
    if len(countries) == 1:
        country = next(iter(countries))
        notes.append(f"country={country}: every site of its studies is in {country}")
    else:
        country = UNKNOWN
        where = f"in {len(countries)} countries" if countries else "not given"
        notes.append(
            f"country={UNKNOWN} (unknown): ClinicalTrials.gov gives no sponsor country and the "
            f"sites of its studies are {where}"
        )
    return _item(f"CTGOV:{key}", key, name, kind, country, involved, trials, notes)


def _site(key: str, involved: _Involved, trials: Mapping[str, _Trial]) -> SourceItem:
    name = _most_common(involved.names)
    notes = ["kind=hospital_unit: a trial site", f"country={involved.country} from the site"]
    return _item(
        f"CTGOV:site:{key}", f"site:{key}", name, OrgKind.HOSPITAL_UNIT, involved.country,
        involved, trials, notes,
    )  # fmt: skip


def _item(
    id: str,
    source_id: str,
    name: str,
    kind: OrgKind,
    country: str,
    involved: _Involved,
    trials: Mapping[str, _Trial],
    notes: list[str],
) -> SourceItem:
    ordered = sorted(involved.roles, key=lambda nct: (trials[nct].start, nct), reverse=True)
    documents = tuple(
        _document(trials[nct], ", ".join(involved.roles[nct]), name, involved.city)
        for nct in ordered
    )
    notes.append(f"{len(documents)} stud{'ies' if len(documents) != 1 else 'y'}")
    records = [trials[nct].record for nct in ordered]
    record = records[0] + (f" and {len(records) - 1} more" if len(records) > 1 else "")
    organisation = Organisation(id=id, name=name, kind=kind, country=country, profile=documents)
    return SourceItem(organisation, source_id, record, tuple(notes))


def _document(trial: _Trial, roles: str, name: str, city: str) -> Document:
    facts = [trial.phase or trial.study_type, f"started {trial.start}" if trial.start else ""]
    shown = ", ".join(f for f in facts if f)
    title = f"Trial {trial.nct}" + (f" ({shown})" if shown else "") + f", {roles}"
    lines = [trial.title]
    if trial.official_title and trial.official_title != trial.title:
        lines.append(trial.official_title)
    lines += [trial.summary, trial.description]
    if trial.conditions:
        lines.append(f"Conditions: {'; '.join(trial.conditions)}.")
    if trial.keywords:
        lines.append(f"Keywords: {'; '.join(trial.keywords)}.")
    if trial.interventions:
        lines.append(f"Interventions: {'; '.join(trial.interventions)}.")
    design = ", ".join(
        part
        for part in (
            trial.phase.capitalize() or trial.study_type.capitalize(),
            trial.study_type if trial.phase else "",
            f"status {trial.status}" if trial.status else "",
            f"started {trial.start}" if trial.start else "",
            f"completion {trial.completion}" if trial.completion else "",
        )
        if part
    )
    if design:
        lines.append(design + ".")
    sponsors = f"Lead sponsor: {_shown(trial.lead)}."
    if trial.collaborators:
        sponsors += f" Collaborators: {', '.join(_shown(c) for c in trial.collaborators)}."
    lines.append(sponsors)
    where = f"{name}, {city}" if roles == "site" and city else name
    lines.append(f"{where} took part as {roles}.")
    return Document(title, "\n".join(line for line in lines if line))


def _shown(party: _Party) -> str:
    """A party's name, except a person's (class INDIV): no personal names in profiles."""
    return "an individual investigator" if party.cls == "INDIV" else party.name
