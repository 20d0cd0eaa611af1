"""What one reader's weekly digest holds, computed through their own View: only what they may
see, without the pairs they dismissed, and without what their earlier digests showed (due dates
excepted). Fewer, better items: a few per project and per section, the strongest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from ..domain import CallStatus, EntityKind, FundingCall, Project
from ..errors import NotFound, PermissionDenied, StaleIndex
from ..matches import Match, Ranking
from ..roles import Action, Principal, Role, Scope, is_member
from ..view import Gate, PortfolioRow, View
from ..workflow import PipelineStage
from .model import (
    HORIZON_DAYS,
    STALE_DAYS,
    Digest,
    Fit,
    Item,
    Recipient,
    Section,
    SectionKey,
    Subscription,
    Threshold,
    Week,
    item_key,
    sections_for,
)

PER_PROJECT = 3
"""New partners, and new calls, shown per project."""
PER_SECTION = 8
"""Items shown per section at most; the rest are counted."""
LOOKED_AT = 10
"""How many of a project's best partners and calls are looked through."""
SOON_DAYS = 183
"""A forthcoming call is news once it opens within about six months."""
FITS_SHOWN = 3
"""Projects named for a new organisation or call, or a due call."""
_OPEN = (CallStatus.OPEN, CallStatus.FORTHCOMING)
_DONE = (PipelineStage.WON, PipelineStage.DROPPED)

T = TypeVar("T")


class Composer:
    """Composes the digests of one week. Rankings asked for by several readers with the same
    candidates in scope and the same dismissed pairs are computed once (the members of one
    project, say); everything else goes through each reader's View."""

    def __init__(self, gate: Gate, week: Week) -> None:
        self.gate = gate
        self.week = week
        today = gate.today()
        self.today = today if Week.of(today) == week else week.monday
        """The day the digest is computed as of: today in the week itself, else its Monday."""
        self._memo: dict[Hashable, object] = {}

    def compose(
        self,
        principal: Principal,
        subscription: Subscription | None = None,
        display_name: str = "",
        seen: frozenset[str] | None = None,
        since: dt.datetime | None = None,
    ) -> Digest:
        """The reader's digest. `seen` defaults to what their delivered digests showed, and
        `since` (what counts as a new organisation or call) to their last delivered digest,
        or a week before this one."""
        view = self.gate.view(principal)
        store = self.gate.store
        if seen is None:
            seen = store.seen(principal.user)
        if since is None:
            since = store.last_delivered(principal.user) or dt.datetime.combine(
                self.week.monday - dt.timedelta(days=7), dt.time(), dt.UTC
            )
        subscription = subscription or Subscription()
        threshold = subscription.threshold
        wanted = [s for s in sections_for(principal.role) if s in subscription.sections]
        digest = Digest(
            principal.user, display_name, principal.role, self.week, self.today, threshold
        )
        if not wanted:
            return digest
        if principal.role in (Role.ADMIN, Role.BIZDEV):
            built = _Portfolio(self, view, threshold, seen, since).sections(wanted)
        else:
            built = _Researcher(self, view, threshold, seen).sections(wanted)
        return Digest(
            digest.username,
            digest.display_name,
            digest.role,
            digest.week,
            digest.today,
            threshold,
            tuple(s for s in built if s.items),
        )

    def compose_for(self, recipient: Recipient) -> Digest:
        user = recipient
        principal = Principal(user.username, user.role, user.organisation)
        return self.compose(principal, user.subscription, user.display_name)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    # ------------------------------------------------------------------ shared rankings

    def partners(self, view: View, project_id: str) -> Ranking:
        key = ("partners", project_id, self._allowed(view, EntityKind.ORGANISATION, project_id))
        return self.memo(key, lambda: view.partners_for(project_id, LOOKED_AT))

    def calls(self, view: View, project_id: str) -> Ranking:
        key = ("calls", project_id, self._allowed(view, EntityKind.CALL, project_id))
        return self.memo(key, lambda: view.calls_for(project_id, LOOKED_AT, statuses=_OPEN))

    def _allowed(self, view: View, kind: EntityKind, project_id: str) -> Hashable:
        return (
            self.gate.visible(kind, view.principal),
            self.gate.store.dismissed(view.principal.user, project_id=project_id),
        )

    def call(self, id: str) -> FundingCall | None:
        def load() -> FundingCall | None:
            try:
                found = self.gate.store.get(id, EntityKind.CALL)
            except NotFound:
                return None
            return found if isinstance(found, FundingCall) else None

        return self.memo(("call", id), load)


@dataclass(frozen=True)
class _Named:
    """A project as an item names it."""

    id: str
    title: str


class _Reader:
    def __init__(
        self, composer: Composer, view: View, threshold: Threshold, seen: frozenset[str]
    ) -> None:
        self.composer = composer
        self.view = view
        self.threshold = threshold
        self.seen = seen
        self.today = composer.today

    def due(self, call: FundingCall) -> tuple[dt.date | None, dt.date | None]:
        """The call's deadline, or its opening, when either falls within six weeks."""
        horizon = self.today + dt.timedelta(days=HORIZON_DAYS)
        status = call.status_on(self.today)
        if status is CallStatus.FORTHCOMING and call.opening_date is not None:
            return None, call.opening_date if call.opening_date <= horizon else None
        if status is CallStatus.OPEN:
            upcoming = call.next_deadline(self.today)
            if upcoming is not None and upcoming.date <= horizon:
                return upcoming.date, None
        return None, None

    def soon_enough(self, call: FundingCall | None) -> bool:
        """Whether a call is worth a line now: open, or opening within six months (a call that
        opens in two years comes back when it is nearer: it is not marked as shown)."""
        if call is None:
            return False
        status = call.status_on(self.today)
        if status is CallStatus.OPEN:
            return True
        opening = call.opening_date
        return status is CallStatus.FORTHCOMING and (
            opening is None or (opening - self.today).days <= SOON_DAYS
        )

    def admitted(self, ranking: Ranking) -> list[Match]:
        return [m for m in ranking.matches if self.threshold.admits(m.strength)]

    def pair_item(self, project: _Named | Project, match: Match, kind: str) -> Item:
        call = self.composer.call(match.id) if match.entity is EntityKind.CALL else None
        deadline, opening = self.due(call) if call is not None else (None, None)
        nxt = call.next_deadline(self.today) if call is not None else None
        deadline = deadline or (nxt.date if nxt is not None else None)
        return Item(
            key=item_key(kind, project.id, match.id),
            title=match.name,
            path=_path(match.entity, match.id),
            reason=match.reasons.summary if match.reasons else "",
            project_id=project.id,
            project_title=project.title,
            candidate_id=match.id,
            candidate_kind=match.entity,
            score=match.score,
            strength=match.strength,
            deadline=deadline,
            days_left=(deadline - self.today).days if deadline else None,
            opening=opening or (call.opening_date if call and call.opening_date else None),
        )


class _Researcher(_Reader):
    """For each of the reader's own projects: new partners and calls, and calls due soon."""

    def sections(self, wanted: Iterable[SectionKey]) -> list[Section]:
        partners: list[Item] = []
        calls: list[Item] = []
        due: dict[str, Item] = {}
        for project in self._own_projects():
            try:
                found_partners = self.composer.partners(self.view, project.id)
                found_calls = self.composer.calls(self.view, project.id)
            except (StaleIndex, NotFound, PermissionDenied):
                continue  # stored after the indexes were built: next week
            fresh = [m for m in self.admitted(found_partners) if self._new("partner", project, m)]
            partners += [self.pair_item(project, m, "partner") for m in fresh[:PER_PROJECT]]
            shown_calls = 0
            for match in self.admitted(found_calls):
                call = self.composer.call(match.id)
                if call is None:
                    continue
                deadline, opening = self.due(call)
                if deadline or opening:
                    self._due(due, project, match)
                elif (
                    self._new("call", project, match)
                    and shown_calls < PER_PROJECT
                    and self.soon_enough(call)
                ):
                    calls.append(self.pair_item(project, match, "call"))
                    shown_calls += 1
        made = {
            SectionKey.PARTNERS: _section(SectionKey.PARTNERS, partners, by_project=True),
            SectionKey.CALLS: _section(SectionKey.CALLS, calls, by_project=True),
            SectionKey.DUE: _section(SectionKey.DUE, sorted(due.values(), key=_soonest)),
        }
        return [made[k] for k in wanted if k in made]

    def _own_projects(self) -> list[Project]:
        if not self.view.principal.may(Action.MATCH_OWN):
            return []
        user = self.view.principal.user
        # Only the projects they are on (owner or team), rather than every one they may read.
        theirs = Scope(frozenset(), member=user)
        found = self.view.store.entities(EntityKind.PROJECT, theirs)
        return [p for p in found if isinstance(p, Project) and is_member(p, user)]

    def _new(self, kind: str, project: Project, match: Match) -> bool:
        return item_key(kind, project.id, match.id) not in self.seen

    def _due(self, due: dict[str, Item], project: _Named | Project, match: Match) -> None:
        """A call due soon, with every project of the reader's it fits (it repeats each week
        while it is due: its key marks the pair, not the due date)."""
        fit = Fit(project.id, project.title, match.score, match.strength)
        if match.id in due:
            item = due[match.id]
            due[match.id] = _with_fit(item, fit)
            return
        item = self.pair_item(project, match, "call")
        call = self.composer.call(match.id)
        deadline, opening = self.due(call) if call is not None else (None, None)
        when = deadline or opening
        days_left = (when - self.today).days if when else item.days_left
        # Its due date, as in the portfolio's: an opening soon is not a deadline months away.
        due[match.id] = replace(
            item, deadline=deadline, opening=opening, days_left=days_left, fits=(fit,)
        )


class _Portfolio(_Reader):
    """Portfolio-wide, for business developers and admins."""

    def __init__(
        self,
        composer: Composer,
        view: View,
        threshold: Threshold,
        seen: frozenset[str],
        since: dt.datetime,
    ) -> None:
        super().__init__(composer, view, threshold, seen)
        self.since = since
        self._announced: set[str] = set()
        """Candidates this message lists as new: not repeated among its new matches."""
        self._due_listed = False
        self._portfolio_rows: list[PortfolioRow] | None = None
        self._portfolio_key: tuple[object, ...] = ()

    def sections(self, wanted: Iterable[SectionKey]) -> list[Section]:
        wanted = list(wanted)
        self._due_listed = SectionKey.DUE in wanted
        build = {
            SectionKey.NEW: self._new_candidates,
            SectionKey.MATCHES: self._matches,
            SectionKey.DUE: self._due,
            SectionKey.CHOKEPOINTS: self._chokepoints,
            SectionKey.PIPELINE: self._pipeline,
        }
        return [build[k]() for k in wanted if k in build]

    def _rows(self) -> list[PortfolioRow]:
        """The portfolio's indexed rows (ranked once per data version, scope and dismissed
        pairs; asked for once per digest, so that its reading is audited once)."""
        if self._portfolio_rows is None:
            self._portfolio_key = self.view.portfolio_key()
            self._portfolio_rows = [r for r in self.view.portfolio() if r.indexed]
        return self._portfolio_rows

    def _fits(self) -> dict[str, list[Fit]]:
        """For each partner and call: the projects it is among the best of, best first (the
        pair scores are those of the reverse direction)."""

        def collect() -> dict[str, list[Fit]]:
            found: dict[str, list[Fit]] = {}
            for row in self._rows():
                for match in (*row.partners, *row.calls):
                    if self.threshold.admits(match.strength):
                        fit = Fit(row.project.id, row.project.title, match.score, match.strength)
                        found.setdefault(match.id, []).append(fit)
            for fits in found.values():
                fits.sort(key=lambda f: -f.score)
            return found

        self._rows()
        key = ("fits", self._portfolio_key, self.threshold)
        return self.composer.memo(key, collect)

    def _new_candidates(self) -> Section:
        store = self.view.store
        fits = self._fits()
        found: list[tuple[EntityKind, str]] = []
        for kind in (EntityKind.ORGANISATION, EntityKind.CALL):
            for id in store.added_since(kind, self.view.scope, self.since):
                if kind is EntityKind.CALL and not self.soon_enough(self.composer.call(id)):
                    continue
                if item_key("new", None, id) in self.seen or not fits.get(id):
                    continue  # shown before, or nothing in the portfolio it fits: not news
                found.append((kind, id))
        found.sort(key=lambda f: -fits[f[1]][0].score)
        items = []
        for kind, id in found[:PER_SECTION]:  # after an import, hundreds: load those shown
            best = fits[id][:FITS_SHOWN]
            items.append(
                Item(
                    key=item_key("new", None, id),
                    title=store.get(id, kind, self.view.scope).name,
                    path=_path(kind, id),
                    candidate_id=id,
                    candidate_kind=kind,
                    score=best[0].score,
                    strength=best[0].strength,
                    fits=tuple(best),
                )
            )
        self._announced = {i.candidate_id for i in items if i.candidate_id}
        return Section(SectionKey.NEW, tuple(items), max(0, len(found) - PER_SECTION))

    def _matches(self) -> Section:
        candidates: list[tuple[_Named, Match, str]] = []
        for row in self._rows():
            project = _Named(row.project.id, row.project.title)
            for matches, kind in ((row.partners, "partner"), (row.calls, "call")):
                for match in matches:
                    if not self.threshold.admits(match.strength):
                        break  # best first: the rest are weaker
                    if match.id in self._announced or (
                        kind == "call" and not self._news(self.composer.call(match.id))
                    ):
                        continue
                    if item_key(kind, project.id, match.id) not in self.seen:
                        candidates.append((project, match, kind))
        candidates.sort(key=lambda c: -c[1].score)
        items = [self._explained(p, m, kind) for p, m, kind in candidates[:PER_SECTION]]
        return Section(SectionKey.MATCHES, tuple(items), max(0, len(candidates) - PER_SECTION))

    def _news(self, call: FundingCall | None) -> bool:
        """A call for the new matches: soon enough, and not one the due section lists."""
        if call is None or not self.soon_enough(call):
            return False
        return not (self._due_listed and any(self.due(call)))

    def _explained(self, project: _Named, match: Match, kind: str) -> Item:
        """The pair with its reason (the portfolio ranks without reasons)."""
        ranking = (
            self.composer.partners(self.view, project.id)
            if kind == "partner"
            else self.composer.calls(self.view, project.id)
        )
        explained = next((m for m in ranking.matches if m.id == match.id), match)
        return self.pair_item(project, explained, kind)

    def _due(self) -> Section:
        fits = self._fits()
        items = []
        for id in sorted(self.view.gate.visible(EntityKind.CALL, self.view.principal)):
            call = self.composer.call(id)
            if call is None or not fits.get(id):
                continue
            deadline, opening = self.due(call)
            when = deadline or opening
            if when is None:
                continue
            best = fits[id][:FITS_SHOWN]
            items.append(
                Item(
                    key="",
                    title=call.title,
                    path=_path(EntityKind.CALL, id),
                    candidate_id=id,
                    candidate_kind=EntityKind.CALL,
                    score=best[0].score,
                    strength=best[0].strength,
                    deadline=deadline,
                    days_left=(when - self.today).days,
                    opening=opening,
                    fits=tuple(best),
                )
            )
        return _section(SectionKey.DUE, sorted(items, key=_soonest))

    def _chokepoints(self) -> Section:
        items = []
        for row in self._rows():
            gaps = row.gaps
            if not gaps:
                continue
            names = ", ".join(g.value.replace("_", " ") for g in gaps)
            key = item_key("gap", row.project.id, None, "+".join(g.value for g in gaps))
            if key in self.seen:
                continue
            items.append(
                Item(
                    key=key,
                    title=row.project.title,
                    path=_path(EntityKind.PROJECT, row.project.id),
                    reason=f"No strong partner or eligible call for: {names}.",
                    project_id=row.project.id,
                    project_title=row.project.title,
                )
            )
        return _section(SectionKey.CHOKEPOINTS, items)

    def _pipeline(self) -> Section:
        cutoff = dt.datetime.combine(
            self.today - dt.timedelta(days=STALE_DAYS), dt.time(23, 59, 59), dt.UTC
        )
        titles = {r.project.id: r.project.title for r in self._rows()}
        items = []
        for entry in sorted(self.view.pipeline(), key=lambda e: e.updated_at):
            if entry.stage in _DONE or entry.updated_at > cutoff:
                continue
            moved = entry.updated_at.date().isoformat()
            key = item_key("stalled", entry.project_id, entry.candidate_id, f"{entry.id}@{moved}")
            if key in self.seen:
                continue
            kind = EntityKind(entry.candidate_kind)
            try:
                name = self.view.store.get(entry.candidate_id, kind, self.view.scope).name
            except NotFound:
                continue
            days = (self.today - entry.updated_at.date()).days
            items.append(
                Item(
                    key=key,
                    title=name,
                    path="/pipeline",
                    reason=f"{entry.stage.label} since {moved}: no move for {days} days.",
                    project_id=entry.project_id,
                    project_title=titles.get(entry.project_id, entry.project_id),
                    candidate_id=entry.candidate_id,
                    candidate_kind=kind,
                )
            )
        return _section(SectionKey.PIPELINE, items)


def _section(key: SectionKey, items: list[Item], by_project: bool = False) -> Section:
    if by_project:  # the strongest are kept (items come project by project)
        items = sorted(items, key=lambda i: -(i.score or 0.0))
    shown = items[:PER_SECTION]
    if by_project:  # the strongest first, but a project's items together
        first: dict[str, int] = {}
        for i, item in enumerate(shown):
            first.setdefault(item.project_id or "", i)
        shown = sorted(shown, key=lambda i: first[i.project_id or ""])
    return Section(key, tuple(shown), max(0, len(items) - PER_SECTION))


def _with_fit(item: Item, fit: Fit) -> Item:
    return replace(item, fits=(*item.fits, fit))


def _soonest(item: Item) -> tuple[int, float]:
    return (item.days_left if item.days_left is not None else 10_000, -(item.score or 0.0))


def _path(kind: EntityKind, id: str) -> str:
    folder = {
        EntityKind.PROJECT: "projects",
        EntityKind.ORGANISATION: "organisations",
        EntityKind.CALL: "calls",
    }[kind]
    return f"/{folder}/{id}"
