"""The weekly digest as plain data: what a reader chose, what one week's message holds, and
where its sending stands. Composed in `compose.py`, kept by the store, rendered and sent by the
service."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ..domain import EntityKind
from ..roles import Role

if TYPE_CHECKING:  # the store imports this module, and ranking imports the store
    from ..ranking.calibration import Strength

HORIZON_DAYS = 42
"""Deadlines and openings within six weeks are due soon."""
STALE_DAYS = 28
"""A pipeline entry with no move for four weeks is stalled."""


class Threshold(StrEnum):
    """How strong a match must be to be mentioned."""

    STRONG = "strong"
    GOOD = "good"

    def admits(self, strength: Strength) -> bool:
        if self is Threshold.STRONG:
            return strength == "strong"
        return strength in ("strong", "good")

    @property
    def label(self) -> str:
        return "Strong matches only" if self is Threshold.STRONG else "Good and strong matches"


class SectionKey(StrEnum):
    """The sections a digest may have; a reader picks among those of their role."""

    PARTNERS = "partners"
    CALLS = "calls"
    DUE = "due"
    NEW = "new"
    MATCHES = "matches"
    CHOKEPOINTS = "chokepoints"
    PIPELINE = "pipeline"

    @property
    def heading(self) -> str:
        return _TITLES[self][0]

    @property
    def description(self) -> str:
        return _TITLES[self][1]


_TITLES = {
    SectionKey.PARTNERS: ("New partner suggestions", "Partners newly suggested for your projects"),
    SectionKey.CALLS: (
        "Newly fitting calls",
        "Open or forthcoming calls your projects may apply to",
    ),
    SectionKey.DUE: (
        "Due in the next six weeks",
        "Deadlines and openings of fitting calls in the next six weeks",
    ),
    SectionKey.NEW: (
        "New organisations and calls",
        "Organisations and calls added since your last digest, with the projects they fit",
    ),
    SectionKey.MATCHES: ("Strongest new matches", "The strongest new matches across the portfolio"),
    SectionKey.CHOKEPOINTS: (
        "Chokepoints",
        "Projects with a need that no strong partner or eligible call covers",
    ),
    SectionKey.PIPELINE: (
        "Stalled pipeline entries",
        "Shortlisted matches with no move for 4 weeks",
    ),
}

RESEARCHER_SECTIONS = (SectionKey.PARTNERS, SectionKey.CALLS, SectionKey.DUE)
PORTFOLIO_SECTIONS = (
    SectionKey.NEW,
    SectionKey.MATCHES,
    SectionKey.DUE,
    SectionKey.CHOKEPOINTS,
    SectionKey.PIPELINE,
)


def sections_for(role: Role) -> tuple[SectionKey, ...]:
    """The sections a role's digest may have (guests have no matches, so no digest)."""
    if role in (Role.ADMIN, Role.BIZDEV):
        return PORTFOLIO_SECTIONS
    if role is Role.RESEARCHER:
        return RESEARCHER_SECTIONS
    return ()


@dataclass(frozen=True)
class Subscription:
    """A reader's choices. A user with an address and no choices made gets every section of
    their role, strong matches only."""

    subscribed: bool = True
    sections: frozenset[SectionKey] = frozenset(SectionKey)
    threshold: Threshold = Threshold.STRONG


@dataclass(frozen=True)
class Recipient:
    """A user the digest may go to, with their choices."""

    user_id: int
    username: str
    role: Role
    organisation: str | None
    display_name: str
    email: str
    subscription: Subscription


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def _weeks_in(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return dt.date(year, 12, 28).isocalendar()[1] if dt.MINYEAR <= year <= dt.MAXYEAR else 0


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week, such as 2026-W50; a digest is computed as of its Monday."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """Raises ValueError naming the expected form."""
        found = _WEEK.match(text.strip())
        # Week 53 exists in some years only: the calendar says which.
        if found and 1 <= int(found[2]) <= _weeks_in(int(found[1])):
            return cls(int(found[1]), int(found[2]))
        raise ValueError(f"{text!r} is not an ISO week such as 2026-W50")

    @classmethod
    def of(cls, day: dt.date) -> Week:
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.number, 1)

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


@dataclass(frozen=True)
class Fit:
    """A project an item fits, with how well."""

    project_id: str
    project_title: str
    score: float
    strength: Strength


def item_key(kind: str, project_id: str | None, candidate_id: str | None, detail: str = "") -> str:
    """A shown item's key, `kind|project|candidate|detail`: the store reads the ids back from it
    (ids never hold `|`), so that erasing either entity drops the record of it."""
    return "|".join((kind, project_id or "", candidate_id or "", detail))


@dataclass(frozen=True)
class Item:
    """One line of a digest: a partner or call (the candidate) for a project, a new
    organisation or call with the projects it fits, a project's chokepoint, or a stalled
    pipeline entry."""

    key: str
    """What the store records as shown; the same key is not shown again (but for due dates)."""
    title: str
    path: str
    """The item's page, under the service's public address."""
    reason: str = ""
    project_id: str | None = None
    project_title: str = ""
    candidate_id: str | None = None
    candidate_kind: EntityKind | None = None
    score: float | None = None
    strength: Strength | None = None
    deadline: dt.date | None = None
    days_left: int | None = None
    opening: dt.date | None = None
    fits: tuple[Fit, ...] = ()
    """For a new organisation or call, or a due call: the projects it fits best."""

    @property
    def pair(self) -> tuple[str, str] | None:
        """The project and candidate the reader may give feedback on, when it is one pair."""
        if self.project_id and self.candidate_id:
            return self.project_id, self.candidate_id
        return None


@dataclass(frozen=True)
class Section:
    key: SectionKey
    items: tuple[Item, ...]
    more: int = 0
    """How many more there were than the section shows (fewer, better items)."""

    @property
    def heading(self) -> str:
        return self.key.heading


@dataclass(frozen=True)
class Digest:
    """One reader's digest for one week: only sections with items."""

    username: str
    display_name: str
    role: Role
    week: Week
    today: dt.date
    threshold: Threshold
    sections: tuple[Section, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(s.items for s in self.sections)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for s in self.sections for i in s.items)

    @property
    def keys(self) -> tuple[str, ...]:
        """What the store marks as shown once the message is delivered."""
        return tuple(dict.fromkeys(i.key for i in self.items if i.key))

    @property
    def project_ids(self) -> frozenset[str]:
        """Every project the digest names (what the audit log watches)."""
        found = {i.project_id for i in self.items if i.project_id}
        found.update(f.project_id for i in self.items for f in i.fits)
        return frozenset(found)


class SendState(StrEnum):
    """Where one recipient's digest of one week stands."""

    COMPOSED = "composed"
    """Computed, not yet handed to the mail server: safe to compose and send again."""
    SENDING = "sending"
    """Being handed to the mail server: if the sender dies now, nobody knows if it went."""
    SENT = "sent"
    EMPTY = "empty"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    FAILED = "failed"
    """Refused or unreachable after the retries: a later run tries again."""
    UNCERTAIN = "uncertain"
    """Interrupted at an unknown point: a person decides (`matcher digest resolve`)."""
    CANCELLED = "cancelled"
    """A person decided not to send it (again)."""

    @property
    def final(self) -> bool:
        """Whether a later run leaves the recipient alone for this week."""
        return self not in (SendState.COMPOSED, SendState.FAILED)


@dataclass(frozen=True)
class SendRecord:
    username: str
    week: str
    state: SendState
    message_id: str
    address: str
    attempts: int
    detail: str
    updated_at: dt.datetime
    items: tuple[str, ...] = field(default=())
