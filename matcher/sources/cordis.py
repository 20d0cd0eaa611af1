"""CORDIS: the EU's projects (`project` table) and their participants (`organization` table), as
the portal exports them: ';'-separated CSV quoted with '"', or JSON arrays with the same keys.

Each participant (keyed on its `organisationID`) becomes one organisation `CORDIS:<id>` whose
profile holds one document per project it took part in: its title, objective, the participant's
role, the dates, the funding scheme and the EC contribution, so that past collaborations and
coordination count as evidence.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain import Document, Organisation, OrgKind
from ..errors import InvalidRecord
from .common import Progress, SourceItem, clean_text
from .countries import ISO_ALPHA2
from .kinds import CDMO, CONSULTANCY, CRO, HOSPITAL, PHARMA

NAME = "cordis"

TABLES = ("project", "organization")
COUNTRY_ALIASES = {"EL": "GR", "UK": "GB"}
"""CORDIS writes the EU's own codes for Greece and the United Kingdom."""
ACTIVITY_TYPES = {
    "HES": "higher or secondary education",
    "REC": "research organisation",
    "PRC": "private for-profit company",
    "PUB": "public body",
    "OTH": "other",
}
_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_WORD = re.compile(r"(?<=[a-z])(?=[A-Z])")

Row = dict[str, str]


@dataclass(frozen=True)
class _Project:
    id: str
    acronym: str
    title: str
    objective: str
    start: dt.date | None
    end: dt.date | None
    status: str
    scheme: str
    programme: str
    topics: str
    ec_max: float | None
    total_cost: float | None


@dataclass(frozen=True)
class _Participation:
    project_id: str
    role: str
    contribution: float | None
    row: Row
    record: str


@dataclass
class _Participant:
    participations: list[_Participation] = field(default_factory=list)
    problems: list[InvalidRecord] = field(default_factory=list)


def read(path: Path, progress: Progress | None = None) -> Iterator[SourceItem | InvalidRecord]:
    """One item per participant (or the problems of its rows: none of it is stored then)."""
    files = tables(path)
    counter = _Counter(progress)
    projects: dict[str, _Project] = {}
    bad_projects: dict[str, InvalidRecord] = {}
    project_file = files["project"]
    for record, row in _rows(project_file):
        counter.tick()
        pid = row.get("id", "").strip()
        try:
            project = _project(row)
        except InvalidRecord as error:
            where = f"{record} (projectID {pid})" if pid else record
            problem = InvalidRecord(error.reason, file=str(project_file), record=where,
                                    field=error.field)  # fmt: skip
            if not pid:
                yield problem
            else:
                bad_projects[pid] = problem
            continue
        projects[project.id] = project
        bad_projects.pop(project.id, None)

    participants: dict[str, _Participant] = {}
    org_file = files["organization"]
    involved: set[str] = set()
    for record, row in _rows(org_file):
        counter.tick()
        oid = row.get("organisationID", "").strip()
        pid = row.get("projectID", "").strip()
        where = f"{record} (projectID {pid or '?'} / organisationID {oid or '?'})"
        if not oid:
            yield InvalidRecord("is required", file=str(org_file), record=where,
                                field="organisationID")  # fmt: skip
            continue
        involved.add(pid)
        participant = participants.setdefault(oid, _Participant())
        if pid in bad_projects:
            cause = bad_projects[pid]
            participant.problems.append(
                InvalidRecord(
                    f"{cause.reason} (organisationID {oid} takes part in this project, so it is "
                    "not stored)",
                    file=cause.file, record=f"{cause.record[:-1]} / organisationID {oid})",
                    field=cause.field,
                )
            )  # fmt: skip
        try:
            participation = _participation(row, projects.keys() | bad_projects.keys(), where)
        except InvalidRecord as error:
            participant.problems.append(
                InvalidRecord(error.reason, file=str(org_file), record=where, field=error.field)
            )
            continue
        if pid not in bad_projects:
            participant.participations.append(participation)
    for pid, problem in sorted(bad_projects.items()):
        if pid not in involved:
            yield problem
    for oid in sorted(participants):
        participant = participants[oid]
        if participant.problems:
            yield from participant.problems
            continue
        yield _item(oid, participant.participations, projects)


def tables(path: Path) -> dict[str, Path]:
    """Each table's file: PATH is the folder, or one of its files (whose format is then
    preferred). Raises InvalidRecord naming the folder when a table is missing."""
    folder = path.parent if path.is_file() else path
    suffixes = [".csv", ".json"]
    if path.is_file() and path.suffix.lower() == ".json":
        suffixes.reverse()
    found: dict[str, Path] = {}
    for table in TABLES:
        candidates = [folder / f"{table}{suffix}" for suffix in suffixes]
        file = next((c for c in candidates if c.is_file()), None)
        if file is None:
            raise InvalidRecord(
                f"no {table}.csv or {table}.json in {folder}: export both the project and the "
                "organization tables from CORDIS into one folder",
                file=str(folder),
            )
        found[table] = file
    return found


def _rows(file: Path) -> Iterator[tuple[str, Row]]:
    """The rows of a table, each with where it is: 'line N' in CSV (the line it starts on),
    'item N' in JSON."""
    if file.suffix.lower() == ".json":
        return _json_rows(file)
    return _csv_rows(file)


def _csv_rows(file: Path) -> Iterator[tuple[str, Row]]:
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=";", quotechar='"')
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                yield f"line {start}", dict(zip(names, values, strict=False))
            start = reader.line_num + 1


def _json_rows(file: Path) -> Iterator[tuple[str, Row]]:
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRecord(f"is not JSON: {error}", file=str(file)) from None
    if not isinstance(data, list):
        raise InvalidRecord(
            "expected a JSON array of objects (CORDIS's JSON export)", file=str(file)
        )
    for number, item in enumerate(data, start=1):
        if isinstance(item, Mapping):
            yield f"item {number}", {str(k): _text(v) for k, v in item.items()}
        else:
            yield f"item {number}", {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_text(v) for v in value)
    return str(value)


class _Counter:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.progress is not None and self.count % 100 == 0:
            self.progress(self.count)


def _project(row: Row) -> _Project:
    pid = _required(row, "id")
    title = clean_text(row.get("title"))
    if not title:
        raise InvalidRecord("is required", field="title")
    return _Project(
        id=pid,
        acronym=clean_text(row.get("acronym")) or pid,
        title=title,
        objective=clean_text(row.get("objective")),
        start=_date(row, "startDate"),
        end=_date(row, "endDate"),
        status=row.get("status", "").strip(),
        scheme=row.get("fundingScheme", "").strip(),
        programme=row.get("frameworkProgramme", "").strip(),
        topics=row.get("topics", "").strip(),
        ec_max=_number(row, "ecMaxContribution"),
        total_cost=_number(row, "totalCost"),
    )


def _participation(row: Row, projects: Collection[str], where: str) -> _Participation:
    oid = _required(row, "organisationID")
    if not _ORG_ID.match(oid):
        raise InvalidRecord(f"{oid!r} is not a participant id", field="organisationID")
    pid = _required(row, "projectID")
    if pid not in projects:
        raise InvalidRecord(f"no project {pid} in the project table", field="projectID")
    if not clean_text(row.get("name")):
        raise InvalidRecord("is required", field="name")
    _country(row)
    activity = row.get("activityType", "").strip().upper()
    if activity and activity not in ACTIVITY_TYPES:
        known = ", ".join(ACTIVITY_TYPES)
        raise InvalidRecord(f"{activity!r} is not one of {known}", field="activityType")
    _date(row, "contentUpdateDate")
    return _Participation(
        project_id=pid,
        role=_role(row.get("role", "")),
        contribution=_number(row, "ecContribution"),
        row=row,
        record=where,
    )


def _required(row: Row, name: str) -> str:
    value = row.get(name, "").strip()
    if not value:
        raise InvalidRecord("is required", field=name)
    return value


def _country(row: Row) -> str:
    raw = row.get("country", "").strip().upper()
    if not raw:
        raise InvalidRecord("is required", field="country")
    code = COUNTRY_ALIASES.get(raw, raw)
    if code not in ISO_ALPHA2:
        raise InvalidRecord(f"{raw!r} is not a country code", field="country")
    return code


def _date(row: Row, name: str) -> dt.date | None:
    raw = row.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise InvalidRecord(f"{raw!r} is not a date (YYYY-MM-DD)", field=name) from None


def _number(row: Row, name: str) -> float | None:
    """A euro amount: '1234567.5', '1234567,5' (the CSV's decimal comma) or '1.234.567,50'."""
    raw = row.get(name, "").strip().replace(" ", "").replace("\u00a0", "")
    if not raw:
        return None
    commas, dots = raw.count(","), raw.count(".")
    if commas and dots:
        point = "," if raw.rfind(",") > raw.rfind(".") else "."
        raw = raw.replace("." if point == "," else ",", "").replace(point, ".")
    elif commas == 1:
        raw = raw.replace(",", ".")
    elif commas > 1 or dots > 1:
        raw = raw.replace(",", "").replace(".", "")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRecord(f"{row.get(name)!r} is not an amount", field=name) from None
    if value < 0:
        raise InvalidRecord(f"{row.get(name)!r} is negative", field=name)
    return value


def _role(raw: str) -> str:
    """'thirdParty' -> 'third party'; an empty role is a participant's."""
    words = _WORD.sub(" ", raw.strip()).lower()
    return words or "participant"


def _true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def kind_of(activity: str, name: str, sme: bool) -> tuple[OrgKind, str]:
    """The kind an activity type and a name say, and a note saying why."""
    said = f"activityType {activity or '(none)'}"
    if activity in ("HES", "REC"):
        return (
            OrgKind.ACADEMIC_GROUP,
            f"kind=academic_group from {said} ({ACTIVITY_TYPES[activity]})",
        )
    if activity == "PRC":
        size = "an SME" if sme else "not an SME"
        for pattern, kind, what in ((CDMO, OrgKind.CDMO, "manufacturing"), (CRO, OrgKind.CRO,
                                     "contract research")):  # fmt: skip
            if match := pattern.search(name):
                return kind, f"kind={kind} from {said} and {what} in the name ({match.group(0)!r})"
        if not sme and (match := PHARMA.search(name)):
            return OrgKind.PHARMA, (
                f"kind=pharma from {said}, {size}, and the name ({match.group(0)!r})"
            )
        if match := CONSULTANCY.search(name):
            return (
                OrgKind.OTHER,
                f"kind=other from {said} and a consultancy's name ({match.group(0)!r})",
            )
        return OrgKind.BIOTECH, f"kind=biotech from {said} (private for-profit, {size})"
    if activity == "PUB":
        if match := HOSPITAL.search(name):
            return OrgKind.HOSPITAL_UNIT, (
                f"kind=hospital_unit from {said} and the name ({match.group(0)!r})"
            )
        return OrgKind.OTHER, f"kind=other from {said} (a public body, not named a hospital)"
    return OrgKind.OTHER, f"kind=other from {said}"


def _item(
    oid: str, participations: list[_Participation], projects: Mapping[str, _Project]
) -> SourceItem:
    def recency(p: _Participation) -> tuple[str, dt.date, str]:
        start = projects[p.project_id].start or dt.date.min
        return (p.row.get("contentUpdateDate", "").strip(), start, p.project_id)

    latest = max(participations, key=recency).row
    notes: list[str] = []
    name = clean_text(latest.get("name"))
    short = clean_text(latest.get("shortName"))
    others = sorted({clean_text(p.row.get("name")) for p in participations} - {name})
    if others:
        notes.append(f"name from the latest row; also written {'; '.join(others)}")
    raw_country = latest.get("country", "").strip().upper()
    country = _country(latest)
    if raw_country != country:
        notes.append(f"country={country} from CORDIS's {raw_country}")
    activity = latest.get("activityType", "").strip().upper()
    sme = any(_true(p.row.get("SME", "")) for p in participations)
    kind, why = kind_of(activity, f"{name} {short}", sme)
    notes.append(why)
    website = _website(latest) or next(
        filter(None, (_website(p.row) for p in participations)), None
    )
    label = f"{name} ({short})" if short and short.lower() != name.lower() else name
    documents = _documents(label, participations, projects)
    notes.append(f"{len(documents)} EU project{'s' if len(documents) != 1 else ''}")
    organisation = Organisation(
        id=f"CORDIS:{oid}",
        name=name,
        kind=kind,
        country=country,
        profile=documents,
        website=website,
    )
    records = list(dict.fromkeys(p.record.split(" (")[0] for p in participations))
    record = f"organisationID {oid} ({', '.join(records[:3])}{', ...' if len(records) > 3 else ''})"
    return SourceItem(organisation, oid, record, tuple(notes))


def _website(row: Row) -> str | None:
    url = row.get("organizationURL", "").strip()
    if not url:
        return None
    return url if re.match(r"^[a-z]+://", url, re.I) else f"http://{url}"


def _documents(
    label: str, participations: list[_Participation], projects: Mapping[str, _Project]
) -> tuple[Document, ...]:
    by_project: dict[str, list[_Participation]] = {}
    for p in participations:
        by_project.setdefault(p.project_id, []).append(p)
    ordered = sorted(
        by_project,
        key=lambda pid: (projects[pid].start or dt.date.min, pid),
        reverse=True,
    )
    return tuple(_document(label, projects[pid], by_project[pid]) for pid in ordered)


def _document(label: str, project: _Project, rows: list[_Participation]) -> Document:
    roles = ", ".join(dict.fromkeys(p.role for p in rows))
    years = ""
    if project.start or project.end:
        first = str(project.start.year) if project.start else "?"
        last = str(project.end.year) if project.end else "?"
        years = f" ({first}-{last})"
    title = f"EU project {project.acronym}{years}, {roles}"
    dates = " to ".join(d.isoformat() for d in (project.start, project.end) if d)
    scheme = " ".join(
        part for part in (project.scheme, f"({project.programme})" if project.programme else "")
        if part
    )  # fmt: skip
    facts = [f"{label} took part as {roles}" + (f", {dates}" if dates else "") + "."]
    if scheme:
        facts.append(f"Funding scheme: {scheme}" + (f", topic {project.topics}" if project.topics
                                                    else "") + ".")  # fmt: skip
    contributions = [p.contribution for p in rows if p.contribution is not None]
    if contributions:
        money = f"EC contribution to this participant: EUR {sum(contributions):,.0f}"
        if project.ec_max is not None:
            money += f" of EUR {project.ec_max:,.0f} to the project"
        facts.append(money + ".")
    if project.status:
        facts.append(f"Project status: {project.status.lower()}.")
    parts = [f"{project.acronym}: {project.title}", project.objective, " ".join(facts)]
    return Document(title, "\n".join(p for p in parts if p))
