"""EU Funding & Tenders topics (the portal's search export: one JSON object per line, optionally
gzipped) as funding calls.

A topic becomes `FundingCall` `EU-FT:<topicId>` (characters an id may not hold become '-'):

- deadlines: every date in `deadline` (one ISO date, several separated by commas, semicolons or
  spaces, or a list). `deadlineModel` (else `submissionProcedure.abbreviation`) labels them:
  two-stage "first stage" / "second stage", multiple cut-off "cut-off 1", "cut-off 2", ...
  The export's `stage` field is not used: it says two-stage for every topic.
- status: `callStatus`; closed and withdrawn win over the dates, otherwise `status_on` decides.
- opening date: `openingDate` or `startDate` when present (the 2026 export has neither).
- budget: EUR; `budgetMax` (else `budgetMin`) per project, `totalBudget` when present.
- text: description (expected outcome, scope) then objectives (the destination), cleaned and
  cut at a sentence boundary near TEXT_LIMIT characters.
- eligibility: what the topic conditions and the description state (`eu_ft_rules`); each
  derived rule is a note naming its sentence, shown in the import report.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..domain import Budget, CallStatus, Deadline, FundingCall
from ..errors import InvalidRecord
from ..records import parse_call, to_record
from .common import Progress, SourceItem, clean_text
from .eu_ft_rules import derive

NAME = "eu-ft"
ID_PREFIX = "EU-FT:"
FUNDER = "European Commission"
TEXT_LIMIT = 6000
PROGRESS_EVERY = 100
FUNDERS = (
    ("HORIZON-JU-IHI", "Innovative Health Initiative Joint Undertaking"),
    ("HORIZON-JU-GH-EDCTP3", "Global Health EDCTP3 Joint Undertaking"),
    ("HORIZON-ERC", "European Research Council"),
    ("ERC-", "European Research Council"),
    ("HORIZON-EIC", "European Innovation Council"),
)
"""Topics funded by a body other than the Commission, by topic id prefix."""
STATUSES = {
    "open": CallStatus.OPEN,
    "31094502": CallStatus.OPEN,
    "forthcoming": CallStatus.FORTHCOMING,
    "31094501": CallStatus.FORTHCOMING,
    "closed": CallStatus.CLOSED,
    "31094503": CallStatus.CLOSED,
    "withdrawn": CallStatus.WITHDRAWN,
    "cancelled": CallStatus.WITHDRAWN,
}
"""The portal's status words and codes."""

_NOT_ID = re.compile(r"[^A-Za-z0-9._:-]+")
_DATE_SPLIT = re.compile(r"[,;|\s]+")
_CP1252_TAIL = "".join(
    ch for ch in (bytes([b]).decode("cp1252", errors="ignore") for b in range(0x80, 0xC0)) if ch
)
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][{re.escape(_CP1252_TAIL)}]{{1,3}}")
_LOST_QUOTE = re.compile("\u00e2\u20ac(?![\u0080-\u00bf\u2018-\u203a\u0152-\u02dc])")
_GLUED = re.compile(r"(?<=[a-z0-9)\]][.;:!?])(?=[A-Z(\"])")
_FOOTNOTE = re.compile(r"\[\d{1,2}\]")
_NULL = re.compile(r"(?<![A-Za-z])null(?=[A-Z])")
_HEADINGS = re.compile(r"\s*\b(Expected Outcome|Scope|Expected Impact|Objective)\s*:\s*")
_HEADING_GLUE = re.compile(r"(?<=[a-z]{3})(?=[A-Z][a-z]{2})|(?<=[a-z.])(?=\d[a-z]?\. [A-Z])")
"""Where the conditions' headings run into the text ("Eligible CountriesEligible countries")."""
_JUNK_START = re.compile(r'^[\s">]+')


def read(path: Path, progress: Progress | None = None) -> Iterator[SourceItem | InvalidRecord]:
    """One item per topic line, or an InvalidRecord naming the line, the topic and the field."""
    with _open(path) as lines:
        count = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            yield _item(line, number, path)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)


def _open(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return path.open(encoding="utf-8-sig")


def _item(line: str, number: int, path: Path) -> SourceItem | InvalidRecord:
    where = f"line {number}"
    try:
        raw = json.loads(line.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        return InvalidRecord(f"not JSON ({error.msg})", file=str(path), record=where)
    if not isinstance(raw, Mapping):
        return InvalidRecord(
            f"expected a JSON object, got {type(raw).__name__}", file=str(path), record=where
        )
    topic = raw.get("topicId")
    if not isinstance(topic, str) or not topic.strip():
        return InvalidRecord("is required", file=str(path), record=where, field="topicId")
    where = f"line {number} (topic {topic.strip()})"
    try:
        call, notes = to_call(raw)
    except InvalidRecord as error:
        return InvalidRecord(error.reason, file=str(path), record=where, field=error.field)
    return SourceItem(call, topic.strip(), where, notes)


def to_call(raw: Mapping[str, Any]) -> tuple[FundingCall, tuple[str, ...]]:
    """The funding call a topic describes, and notes on what was derived. Raises InvalidRecord
    naming the field."""
    topic = _text(raw, "topicId").strip()
    notes: list[str] = []
    call_id = ID_PREFIX + _NOT_ID.sub("-", topic)
    if call_id != ID_PREFIX + topic:
        notes.append(f"id {call_id}: the topic id {topic!r} holds characters an id may not")
    title = clean(_text(raw, "title"))
    if not title:
        raise InvalidRecord("is required", field="title")
    deadlines = _deadlines(raw, notes)
    conditions = _HEADING_GLUE.sub("\n", clean(_text(raw, "topicConditions")))
    description = clean(_text(raw, "description"))
    derived = derive(conditions, description, _text(raw, "typesOfAction"))
    notes.extend(derived.notes)
    call = FundingCall(
        id=call_id,
        title=title,
        funder=next((body for prefix, body in FUNDERS if topic.startswith(prefix)), FUNDER),
        programme=_programme(raw),
        text=_body(description, _objectives(_text(raw, "objectives"), len(description))) or title,
        opening_date=_opening(raw),
        deadlines=deadlines,
        status=_status(raw),
        budget=_budget(raw, notes),
        eligibility=derived.eligibility,
        url=_text(raw, "portalUrl").strip() or None,
    )
    parse_call(to_record(call))  # the checks every stored call passes (id, dates, eligibility)
    return call, tuple(notes)


def clean(raw: str) -> str:
    """A topic's text as people read it: mojibake repaired (ftfy, and the sequences it leaves:
    a cp1252 byte lost, a three-byte character), HTML dropped, sentences the export glued
    together ("outcomes.The EU") separated, footnote marks and stray 'null's removed."""
    text = _MOJIBAKE.sub(_unmangle, raw)
    text = _LOST_QUOTE.sub('"', text)
    text = clean_text(text)
    text = _JUNK_START.sub("", text)
    text = _NULL.sub("", text)
    text = _FOOTNOTE.sub("", text)
    text = _HEADINGS.sub(lambda m: f"\n{m.group(1)}: ", text)
    text = _GLUED.sub(" ", text)
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@functools.lru_cache(maxsize=256)
def _objectives(raw: str, room: int) -> str:
    """The destination's text, many topics share: cleaned once, and only as much as the text
    has room for (cleaning is most of an import's time)."""
    if room >= TEXT_LIMIT:
        return ""
    return clean(raw[: 2 * (TEXT_LIMIT - room)])


def _unmangle(match: re.Match[str]) -> str:
    try:
        return match.group(0).encode("cp1252").decode("utf-8")
    except UnicodeError:
        return match.group(0)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"expected text, got {type(value).__name__}", field=name)
    return value


def _body(description: str, objectives: str) -> str:
    text = "\n".join(part for part in (description, objectives) if part)
    if len(text) <= TEXT_LIMIT:
        return text
    cut = text[:TEXT_LIMIT]
    end = max(cut.rfind(". "), cut.rfind("\n"))
    return (cut[: end + 1] if end > TEXT_LIMIT // 2 else cut).rstrip() + " [...]"


def _programme(raw: Mapping[str, Any]) -> str:
    programme = clean(_text(raw, "programme"))
    call = _text(raw, "callIdentifier").strip()
    return f"{programme} ({call})" if programme and call else programme or call


def _date(token: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(token[:10])
    except ValueError:
        raise InvalidRecord(f"{token!r} is not a date (YYYY-MM-DD)", field=field) from None


def _deadlines(raw: Mapping[str, Any], notes: list[str]) -> tuple[Deadline, ...]:
    value = raw.get("deadline")
    if isinstance(value, list):
        tokens = [str(v) for v in value]
    elif isinstance(value, str):
        tokens = [t for t in _DATE_SPLIT.split(value) if t]
    elif value is None:
        tokens = []
    else:
        raise InvalidRecord(f"expected dates, got {type(value).__name__}", field="deadline")
    dates = sorted({_date(t, "deadline") for t in tokens})
    model = _model(raw)
    if not dates:
        notes.append("no deadline in the record: the call is taken as rolling")
        return ()
    if model == "two-stage":
        if len(dates) == 1:
            notes.append("two-stage: the second-stage deadline is not in the record")
        labels = ["first stage", "second stage"] + [f"stage {n}" for n in range(3, len(dates) + 1)]
    elif model == "multiple cut-off":
        labels = [f"cut-off {n}" if len(dates) > 1 else "cut-off" for n in range(1, len(dates) + 1)]
    else:
        labels = [""] * len(dates)
    return tuple(Deadline(d, label) for d, label in zip(dates, labels, strict=False))


def _model(raw: Mapping[str, Any]) -> str:
    model = _text(raw, "deadlineModel").strip().lower()
    procedure = raw.get("submissionProcedure")
    if not model and isinstance(procedure, Mapping):
        model = str(procedure.get("abbreviation") or "").strip().lower()
    return model


def _opening(raw: Mapping[str, Any]) -> dt.date | None:
    for name in ("openingDate", "startDate"):
        value = _text(raw, name).strip()
        if value:
            return _date(value, name)
    return None


def _status(raw: Mapping[str, Any]) -> CallStatus | None:
    value = _text(raw, "callStatus").strip().lower()
    if not value:
        return None
    if value not in STATUSES:
        known = ", ".join(k for k in STATUSES if not k.isdigit())
        raise InvalidRecord(f"{value!r} is not a status ({known})", field="callStatus")
    return STATUSES[value]


def _amount(raw: Mapping[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidRecord(f"{value!r} is not an amount in euros", field=name)
    return float(value)


def _budget(raw: Mapping[str, Any], notes: list[str]) -> Budget | None:
    low = _amount(raw, "budgetMin")
    high = _amount(raw, "budgetMax")
    total = _amount(raw, "totalBudget")
    if low is not None and high is not None and low > high:
        raise InvalidRecord(f"{low:,.0f} is above budgetMax {high:,.0f}", field="budgetMin")
    per_project = high if high is not None else low
    if per_project is None and total is None:
        return None
    grants = raw.get("expectedGrants")
    if per_project is not None:
        span = f"{low:,.0f}-{per_project:,.0f}" if low not in (None, per_project) else ""
        grants_note = f", {grants} grants expected" if isinstance(grants, int) else ""
        notes.append(f"budget: EUR {span or f'{per_project:,.0f}'} per project{grants_note}")
    return Budget(total=total, per_project_max=per_project)
