"""CORDIS's export tables (`project` and `organization`): the files that hold them, their rows
(';'-separated CSV quoted with '"', or JSON arrays with the same keys), and a row read as a
project or a participation, its fields checked (an InvalidRecord names the bad one).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidRecord
from .common import clean_text
from .countries import ISO_ALPHA2

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
class Project:
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
class Participation:
    project_id: str
    role: str
    contribution: float | None
    row: Row
    record: str


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


def rows(file: Path) -> Iterator[tuple[str, Row]]:
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


def parse_project(row: Row) -> Project:
    """A row of the project table. Raises InvalidRecord naming the bad field."""
    pid = _required(row, "id")
    title = clean_text(row.get("title"))
    if not title:
        raise InvalidRecord("is required", field="title")
    return Project(
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


def parse_participation(row: Row, projects: Collection[str], where: str) -> Participation:
    """A row of the organization table, in one of these projects. Raises InvalidRecord naming
    the bad field."""
    oid = _required(row, "organisationID")
    if not _ORG_ID.match(oid):
        raise InvalidRecord(f"{oid!r} is not a participant id", field="organisationID")
    pid = _required(row, "projectID")
    if pid not in projects:
        raise InvalidRecord(f"no project {pid} in the project table", field="projectID")
    if not clean_text(row.get("name")):
        raise InvalidRecord("is required", field="name")
    country_of(row)
    activity = row.get("activityType", "").strip().upper()
    if activity and activity not in ACTIVITY_TYPES:
        known = ", ".join(ACTIVITY_TYPES)
        raise InvalidRecord(f"{activity!r} is not one of {known}", field="activityType")
    _date(row, "contentUpdateDate")
    return Participation(
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


def country_of(row: Row) -> str:
    """A participant's ISO 3166 alpha-2 country code. Raises InvalidRecord."""
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
