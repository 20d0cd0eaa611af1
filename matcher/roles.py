"""Who may see what: roles, the principal behind a request, and the scope it reads through.

The scope is plain data; the store turns it into the WHERE clause of every query that loads a
project, an organisation or a call, so a caller never holds an object it may not see:

- admin and business developer: everything;
- researcher: their own projects (owner or team member), other projects that are internal or
  public, every organisation and call;
- partner / guest: summaries of public projects and their own organisation's record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .domain import Project, Visibility


class Role(StrEnum):
    ADMIN = "admin"
    BIZDEV = "bizdev"
    RESEARCHER = "researcher"
    GUEST = "guest"


class Action(StrEnum):
    """What a role may do beyond reading the objects its scope shows."""

    MATCH_OWN = "match_own"
    """Partners and calls for projects the principal owns or works on."""
    MATCH_ANY = "match_any"
    """Partners and calls for any project in scope."""
    REVERSE = "reverse"
    """Projects for an organisation, a call or a pasted text (ranked over the scope only)."""
    SEARCH = "search"
    """Partners and calls for a pasted text."""
    EXPORT = "export"
    PIPELINE = "pipeline"
    """Shortlist matches and move them through the pipeline."""
    ADMINISTER = "administer"
    """Users, keys, the audit log, re-indexing."""


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.BIZDEV: frozenset(
        {
            Action.MATCH_OWN,
            Action.MATCH_ANY,
            Action.REVERSE,
            Action.SEARCH,
            Action.EXPORT,
            Action.PIPELINE,
        }
    ),
    # A researcher may ask for partners and calls for any project they may read: an internal
    # project of a colleague is often the best template for their own.
    Role.RESEARCHER: frozenset({Action.MATCH_OWN, Action.MATCH_ANY, Action.REVERSE, Action.SEARCH}),
    Role.GUEST: frozenset(),
}

"""The fields of a public project that a partner or guest sees."""


@dataclass(frozen=True)
class Scope:
    """The objects a principal may read. `member` adds the projects that user owns or is on the
    team of; `organisations` None means every organisation."""

    visibilities: frozenset[Visibility]
    member: str | None = None
    organisations: frozenset[str] | None = None
    calls: bool = True
    summaries: bool = False

    @classmethod
    def everything(cls) -> Scope:
        return cls(frozenset(Visibility))

    @property
    def key(self) -> tuple[Any, ...]:
        """Hashable identity, for caching what the scope lets through."""
        return (
            tuple(sorted(self.visibilities)),
            self.member,
            None if self.organisations is None else tuple(sorted(self.organisations)),
            self.calls,
        )


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user with a role (a guest also names their organisation)."""

    user: str
    role: Role
    organisation: str | None = None

    @property
    def scope(self) -> Scope:
        if self.role in (Role.ADMIN, Role.BIZDEV):
            return Scope.everything()
        if self.role is Role.RESEARCHER:
            return Scope(frozenset({Visibility.INTERNAL, Visibility.PUBLIC}), member=self.user)
        own = frozenset({self.organisation}) if self.organisation else frozenset()
        return Scope(frozenset({Visibility.PUBLIC}), organisations=own, calls=False, summaries=True)

    def may(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]

    def may_match(self, project: Project) -> bool:
        """Partners and calls for this project: any project in scope for business developers,
        admins and researchers (the scope decides what each may read)."""
        return self.may(Action.MATCH_ANY) or (
            self.may(Action.MATCH_OWN) and is_member(project, self.user)
        )


LOCAL_OPERATOR = Principal("local-operator", Role.ADMIN)
"""The CLI run without an API key by someone with the database file in hand."""


def is_member(project: Project, user: str) -> bool:
    return user == project.owner or user in project.team


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    organisation: str | None
    display_name: str
    created_at: dt.datetime
    disabled: bool = False
    email: str | None = None
    """Where the weekly digest goes (set by an admin); None: no digest."""

    @property
    def principal(self) -> Principal:
        return Principal(self.username, self.role, self.organisation)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    username: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    kind: str
    object_id: str


@dataclass(frozen=True)
class Erasure:
    """One line of the erasure ledger: what was erased, when and by whom, never its content."""

    id: int
    at: dt.datetime
    by: str
    kind: str
    object_id: str
