"""CORDIS: the EU's projects (`project` table) and their participants (`organization` table), as
the portal exports them: ';'-separated CSV quoted with '"', or JSON arrays with the same keys
(reading the tables and checking their rows is `cordis_tables`).

Each participant (keyed on its `organisationID`) becomes one organisation `CORDIS:<id>` whose
profile holds one document per project it took part in: its title, objective, the participant's
role, the dates, the funding scheme and the EC contribution, so that past collaborations and
coordination count as evidence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import facts as registry
from ..domain import Document, Organisation, OrgKind
from ..errors import InvalidRecord
from .common import Progress, SourceItem, clean_text
from .cordis_tables import (
    ACTIVITY_TYPES,
    Participation,
    Project,
    Row,
    country_of,
    parse_participation,
    parse_project,
    rows,
    tables,
)
from .kinds import CDMO, CONSULTANCY, CRO, HOSPITAL, PHARMA

NAME = "cordis"


@dataclass
class _Participant:
    participations: list[Participation] = field(default_factory=list)
    problems: list[InvalidRecord] = field(default_factory=list)


def read(path: Path, progress: Progress | None = None) -> Iterator[SourceItem | InvalidRecord]:
    """One item per participant (or the problems of its rows: none of it is stored then)."""
    files = tables(path)
    counter = _Counter(progress)
    projects: dict[str, Project] = {}
    bad_projects: dict[str, InvalidRecord] = {}
    project_file = files["project"]
    for record, row in rows(project_file):
        counter.tick()
        pid = row.get("id", "").strip()
        try:
            project = parse_project(row)
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
    for record, row in rows(org_file):
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
            participation = parse_participation(row, projects.keys() | bad_projects.keys(), where)
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


class _Counter:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.progress is not None and self.count % 100 == 0:
            self.progress(self.count)


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
    oid: str, participations: list[Participation], projects: Mapping[str, Project]
) -> SourceItem:
    def recency(p: Participation) -> tuple[str, dt.date, str]:
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
    country = country_of(latest)
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
    label: str, participations: list[Participation], projects: Mapping[str, Project]
) -> tuple[Document, ...]:
    by_project: dict[str, list[Participation]] = {}
    for p in participations:
        by_project.setdefault(p.project_id, []).append(p)
    ordered = sorted(
        by_project,
        key=lambda pid: (projects[pid].start or dt.date.min, pid),
        reverse=True,
    )
    return tuple(_document(label, projects[pid], by_project[pid]) for pid in ordered)


def _document(label: str, project: Project, participations: list[Participation]) -> Document:
    roles = ", ".join(dict.fromkeys(p.role for p in participations))
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
    contributions = [p.contribution for p in participations if p.contribution is not None]
    if contributions:
        money = f"EC contribution to this participant: EUR {sum(contributions):,.0f}"
        if project.ec_max is not None:
            money += f" of EUR {project.ec_max:,.0f} to the project"
        facts.append(money + ".")
    if project.status:
        facts.append(f"Project status: {project.status.lower()}.")
    parts = [f"{project.acronym}: {project.title}", project.objective, " ".join(facts)]
    role = "coordinator" if any(p.role == "coordinator" for p in participations) else "participant"
    found = registry.facts(start=project.start, end=project.end, role=role)
    return Document(title, "\n".join(p for p in parts if p), found)
