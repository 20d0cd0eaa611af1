"""Registry facts as real exports write them, normalised: trial phases ('Phase 1', 'PHASE1',
'EARLY_PHASE1', 'Phase 1/Phase 2', 'PHASE2|PHASE3', 'NA'), dates with or without a day, lists
that come as lists, as '|'- or ';'-separated strings, or empty. What cannot be read is left out
(None or empty), never guessed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from .domain import Facts, Stage
from .errors import InvalidRecord

_PHASE = re.compile(r"(early[\s_-]*phase[\s_-]*1|phase[\s_-]*(\d)|\b(i{1,3}|iv)\b|\b([1-4])\b)")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
)}  # fmt: skip


def phases(value: Any) -> tuple[int, ...]:
    """Trial phases from any registry spelling; 0 is early phase 1; () for NA or nothing."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(sorted({p for v in value for p in phases(v)}))
    text = str(value).strip().lower()
    if not text or text in {"na", "n/a", "not applicable", "none"}:
        return ()
    found: set[int] = set()
    for match in _PHASE.finditer(text):
        whole, digit, roman, bare = match.groups()
        if whole.startswith("early"):
            found.add(0)
        elif digit:
            found.add(int(digit))
        elif "phase" in text:  # a bare 'II' or '3' counts beside the word phase only
            found.add(_ROMAN[roman] if roman else int(bare))
    return tuple(sorted(p for p in found if 0 <= p <= 4))


def date(value: Any) -> dt.date | None:
    """A date from '2019-05-14', '2019-05', '2019', 'May 2019' or 'May 14, 2019' (a missing
    day is the 1st, a missing month January); None where it cannot be read."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    iso = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?", text)
    if iso:
        return _safe(int(iso.group(1)), int(iso.group(2) or 1), int(iso.group(3) or 1))
    words = re.fullmatch(r"([A-Za-z]{3})[a-z]*\.?\s+(?:(\d{1,2}),?\s+)?(\d{4})", text)
    if words and words.group(1).lower() in _MONTHS:
        day = int(words.group(2) or 1)
        return _safe(int(words.group(3)), _MONTHS[words.group(1).lower()], day)
    return None


def _safe(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def names(value: Any) -> tuple[str, ...]:
    """A list of names from a list, or a '|'- or ';'-separated string; blanks and repeats out,
    the registry's spelling kept."""
    if value is None:
        return ()
    items: Iterable[Any] = re.split(r"[|;]", value) if isinstance(value, str) else value
    seen: dict[str, str] = {}
    for item in items:
        name = " ".join(str(item).split())
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return tuple(seen.values())


def facts(
    phase: Any = None,
    start: Any = None,
    end: Any = None,
    conditions: Any = None,
    interventions: Any = None,
    role: str = "",
) -> Facts | None:
    """Facts from raw registry values; None where nothing is known."""
    found = Facts(
        phases(phase), date(start), date(end), names(conditions), names(interventions),
        role.strip().lower(),
    )  # fmt: skip
    return found or None


ROLES = ("lead", "collaborator", "coordinator", "participant", "site")
_FIELDS = {"phases", "start", "end", "conditions", "interventions", "role"}


def from_record(item: Any) -> Facts | None:
    """Facts from a record's `facts` object: `phases` (numbers 0-4, or a registry's spelling),
    `start`/`end` (ISO dates; a day or a month may be missing), `conditions`,
    `interventions` (lists of strings) and `role`. Raises InvalidRecord naming the field."""
    if item is None:
        return None
    if not isinstance(item, dict):
        raise InvalidRecord("must be an object")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise InvalidRecord(
            f"unknown field (allowed: {', '.join(sorted(_FIELDS))})", field=unknown[0]
        )
    raw = item.get("phases")
    if isinstance(raw, list) and all(type(p) is int for p in raw):
        if not all(0 <= p <= 4 for p in raw):
            raise InvalidRecord("phases are 0 (early phase 1) to 4", field="phases")
        found = tuple(sorted(set(raw)))
    else:
        found = phases(raw)
    dates: dict[str, dt.date | None] = {}
    for key in ("start", "end"):
        value = item.get(key)
        dates[key] = date(value) if value not in (None, "") else None
        if value not in (None, "") and dates[key] is None:
            raise InvalidRecord(f"{value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)", field=key)
    lists = {}
    for key in ("conditions", "interventions"):
        value = item.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidRecord("must be a list of strings", field=key)
        lists[key] = names(value)
    role = item.get("role") or ""
    if role not in ("", *ROLES):
        raise InvalidRecord(f"must be one of {', '.join(ROLES)}", field="role")
    found_facts = Facts(
        found, dates["start"], dates["end"], lists["conditions"], lists["interventions"], role
    )
    return found_facts or None


def to_record(facts: Facts) -> dict[str, Any]:
    """The object `from_record` reads back into equal facts."""
    return {
        "phases": list(facts.phases),
        "start": facts.start.isoformat() if facts.start else None,
        "end": facts.end.isoformat() if facts.end else None,
        "conditions": list(facts.conditions),
        "interventions": list(facts.interventions),
        "role": facts.role,
    }


STAGE_PHASES: dict[Stage, tuple[int, ...]] = {
    Stage.PHASE_1: (0, 1),
    Stage.PHASE_2_PLUS: (2, 3, 4),
}
"""The trial phases a project at this stage runs or plans (none before the clinic)."""


def stage_phases(stage: Stage) -> tuple[int, ...]:
    return STAGE_PHASES.get(stage, ())
