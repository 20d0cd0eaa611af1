"""What one principal may see: every read the service and the CLI make goes through a View.

A View loads objects through the store with the principal's scope (so an object it may not see
is simply not found), restricts every ranking to candidates in that scope before anything is
scored into a response, checks the role's actions, and writes the audit log for every
confidential project whose content it hands out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from .domain import (
    CallStatus,
    Entity,
    EntityKind,
    FundingCall,
    Modality,
    Need,
    Organisation,
    OrgKind,
    Project,
    Stage,
    Visibility,
)
from .errors import IndexNotBuilt, NotFound, PermissionDenied, StaleIndex
from .matches import ALL_STATUSES, NO_PROFILE, Match, Profile, Ranking, Target
from .portfolio import CANDIDATES, NeedCover, covers, in_order
from .ranking.calibration import Strength
from .ranking.calls import deadline_info
from .ranking.eligibility import Verdict, assess
from .ranking.reasons import DeadlineInfo
from .recommender import Recommender
from .roles import Action, Principal, Scope, is_member
from .store import Store
from .workflow import Feedback, FeedbackCount, PipelineEntry, PipelineStage

CONFIDENTIAL = Scope(frozenset({Visibility.CONFIDENTIAL}))


class Gate:
    """The long-lived side: the store, the current recommender and the visible-id cache.

    The recommender may be swapped (after a re-index); the cache is keyed by the store's
    generation, so a change to the entities (an erasure, a load) is seen by the next request."""

    def __init__(
        self,
        store: Store,
        recommender: Recommender | None,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        self.store = store
        self._recommender = recommender
        self._today = today
        self._visible: dict[tuple[int, EntityKind, tuple[Any, ...]], frozenset[str]] = {}
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._absent: dict[tuple[int, EntityKind], frozenset[str]] = {}
        self._lock = threading.Lock()

    @property
    def recommender(self) -> Recommender:
        if self._recommender is None:
            raise IndexNotBuilt("No indexes are loaded here: build the indexes first.")
        return self._recommender

    @recommender.setter
    def recommender(self, recommender: Recommender) -> None:
        self._recommender = recommender

    def today(self) -> dt.date:
        """The one clock of the service: the recommender's, or the one the gate was given."""
        if self._recommender is not None:
            return self._recommender.today()
        return (self._today or dt.date.today)()

    def view(self, principal: Principal) -> View:
        return View(self, principal)

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """A value computed once per key (a few recent keys are kept): for answers that are
        costly and whose key says everything they depend on."""
        with self._lock:
            if key in self._answers:
                return self._answers[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            if len(self._answers) >= 16:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = value
        return value

    def visible(self, kind: EntityKind, principal: Principal) -> frozenset[str]:
        """The ids of this kind the principal may see, as stored now."""
        return self.ids(kind, principal.scope)

    def absent(self, kind: EntityKind) -> frozenset[str]:
        """The ids of this kind gone from their source's latest snapshot, as stored now."""
        key = (self.store.generation(), kind)
        with self._lock:
            cached = self._absent.get(key)
        if cached is None:
            cached = self.store.absent_ids(kind)
            with self._lock:
                if len(self._absent) > 16:
                    self._absent.clear()
                self._absent[key] = cached
        return cached

    def confidential(self) -> frozenset[str]:
        """The ids of the confidential projects, as stored now (what the audit log watches)."""
        return self.ids(EntityKind.PROJECT, CONFIDENTIAL)

    def ids(self, kind: EntityKind, scope: Scope) -> frozenset[str]:
        key = (self.store.generation(), kind, scope.key)
        with self._lock:
            cached = self._visible.get(key)
        if cached is None:
            cached = frozenset(self.store.ids(kind, scope))
            with self._lock:
                if len(self._visible) > 256:
                    self._visible.clear()
                self._visible[key] = cached
        return cached


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many items the whole listing holds."""

    total: int
    items: list[T]


ListPage = Page
"""The name this type had before it was generic."""


@dataclass(frozen=True)
class ProjectRecord:
    """A project as one principal may read it. Partners and guests get the public summary:
    needs, owner, team and updated_at are then None."""

    id: str
    title: str
    abstract: str
    modality: Modality
    indications: tuple[str, ...]
    stage: Stage
    visibility: Visibility
    needs: tuple[Need, ...] | None = None
    owner: str | None = None
    team: tuple[str, ...] | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def of(cls, project: Project, scope: Scope) -> ProjectRecord:
        summary = cls(
            project.id, project.title, project.abstract, project.modality,
            project.indications, project.stage, project.visibility,
        )  # fmt: skip
        if scope.summaries:
            return summary
        return replace(
            summary,
            needs=project.needs,
            owner=project.owner,
            team=project.team,
            updated_at=project.updated_at,
        )


@dataclass(frozen=True)
class ExportRow:
    project: ProjectRecord
    partners: Ranking
    calls: Ranking
    call_facts: dict[str, tuple[DeadlineInfo, Verdict]]
    """For each call of `calls`: its status and deadline today, and the project's verdict."""


@dataclass(frozen=True)
class PortfolioRow:
    """One project at a glance: its best partner and call, how well each of its needs is
    covered, and where its shortlisted matches stand."""

    project: ProjectRecord
    best_partner: Match | None
    best_call: Match | None
    covers: tuple[NeedCover, ...]
    """One per need of the project, in the order of `Need`."""
    stages: tuple[PipelineStage, ...]
    """The stages its pipeline entries are at, in pipeline order."""
    indexed: bool = True
    """False for a project stored after the indexes were built: no matches yet."""
    partners: tuple[Match, ...] = ()
    """Its best partners (a few dozen), best first, without sentence reasons."""
    calls: tuple[Match, ...] = ()
    """Its best calls (open or forthcoming, that it may apply to), best first, no reasons."""

    @property
    def gaps(self) -> tuple[Need, ...]:
        """The needs no strong candidate covers: the project's chokepoints."""
        return tuple(c.need for c in self.covers if c.level is not Strength.STRONG)


@dataclass(frozen=True)
class CallRecord:
    """A call as a reader sees it: the call and its status today."""

    call: FundingCall
    status: CallStatus


class View:
    """One principal's window on the hub. Raises NotFound for what it may not see and
    PermissionDenied for what its role may not do."""

    def __init__(self, gate: Gate, principal: Principal) -> None:
        self.gate = gate
        self.principal = principal
        self.scope = principal.scope

    @property
    def store(self) -> Store:
        return self.gate.store

    @functools.cached_property
    def recommender(self) -> Recommender:
        """The gate's recommender when first asked for: one request ranks with one set of
        indexes, even if the gate swaps in fresh ones meanwhile."""
        return self.gate.recommender

    def require(self, action: Action) -> None:
        if not self.principal.may(action):
            raise PermissionDenied(
                f"The {self.principal.role.value} role may not {_DOING[action]}."
            )

    # ------------------------------------------------------------------ objects

    def project(self, id: str) -> ProjectRecord:
        project = self._project(id)
        self._audit("read", [project])
        return ProjectRecord.of(project, self.scope)

    def organisation(self, id: str) -> Organisation:
        organisation = self.store.get(id, EntityKind.ORGANISATION, self.scope)
        if not isinstance(organisation, Organisation):
            raise NotFound("organisation", id)
        return organisation

    def same_organisation(self, id: str) -> list[Organisation]:
        """The other stored records that entity resolution found to be this organisation (it
        ranks as one candidate with them), canonical first."""
        clusters = self.store.org_clusters()
        if id not in clusters:
            return []
        canonical = clusters[id][0]
        others = sorted(m for m, (c, *_rest) in clusters.items() if c == canonical and m != id)
        others.sort(key=lambda m: m != canonical)
        return [self.organisation(m) for m in others]

    def call(self, id: str) -> CallRecord:
        call = self.store.get(id, EntityKind.CALL, self.scope)
        if not isinstance(call, FundingCall):
            raise NotFound("call", id)
        return CallRecord(call, call.status_on(self.gate.today()))

    def projects(self, offset: int = 0, limit: int | None = None) -> Page[ProjectRecord]:
        items = self.store.entities(EntityKind.PROJECT, self.scope, offset, limit)
        self._audit("list", items)
        return Page(
            self.store.count(EntityKind.PROJECT, self.scope),
            [ProjectRecord.of(p, self.scope) for p in items if isinstance(p, Project)],
        )

    def organisations(self, offset: int = 0, limit: int | None = None) -> Page[Organisation]:
        items = self.store.entities(EntityKind.ORGANISATION, self.scope, offset, limit)
        return Page(
            self.store.count(EntityKind.ORGANISATION, self.scope),
            [o for o in items if isinstance(o, Organisation)],
        )

    def calls(self, offset: int = 0, limit: int | None = None) -> Page[CallRecord]:
        items = self.store.entities(EntityKind.CALL, self.scope, offset, limit)
        today = self.gate.today()
        calls = [CallRecord(c, c.status_on(today)) for c in items if isinstance(c, FundingCall)]
        return Page(self.store.count(EntityKind.CALL, self.scope), calls)

    # ------------------------------------------------------------------ matches

    def partners_for(
        self, project_id: str, k: int = 10, kinds: Collection[OrgKind] | None = None
    ) -> Ranking:
        project = self._matchable(project_id)
        allowed = self._visible(EntityKind.ORGANISATION) - self._dismissed(project_id)
        matches = self.recommender.partners_for(project_id, k, kinds, allowed=allowed)
        self._audit("match", [project])
        return matches

    def calls_for(
        self,
        project_id: str,
        k: int = 10,
        statuses: Collection[CallStatus] = ALL_STATUSES,
        include_ineligible: bool = False,
    ) -> Ranking:
        project = self._matchable(project_id)
        allowed = self._proposable_calls() - self._dismissed(project_id)
        matches = self.recommender.calls_for(
            project_id, k, statuses, include_ineligible, allowed=allowed
        )
        self._audit("match", [project])
        return matches

    def projects_for(
        self,
        id: str,
        k: int = 10,
        kind: EntityKind | None = None,
        include_ineligible: bool = False,
        explain: bool = True,
    ) -> Ranking:
        """Projects for an organisation or a call (of this kind, when given), ranked over the
        projects in scope only (without sentence reasons unless `explain`)."""
        self.require(Action.REVERSE)
        try:
            source = self.store.get(id, kind, self.scope)
        except NotFound:
            raise NotFound(kind.value if kind else "organisation or call", id) from None
        self._indexed(source)
        allowed = self._visible(EntityKind.PROJECT) - self.store.dismissed(
            self.principal.user, candidate_id=id
        )
        matches = self.recommender.projects_for(
            id, k, allowed=allowed, include_ineligible=include_ineligible, explain=explain
        )
        self._audit_matches(matches)
        return matches

    def search(
        self,
        text: str,
        to: Target,
        k: int = 10,
        kinds: Collection[OrgKind] | None = None,
        statuses: Collection[CallStatus] = ALL_STATUSES,
        include_ineligible: bool = False,
        profile: Profile = NO_PROFILE,
    ) -> Ranking:
        self.require(Action.REVERSE if to is Target.PROJECTS else Action.SEARCH)
        kind = {
            Target.PARTNERS: EntityKind.ORGANISATION,
            Target.CALLS: EntityKind.CALL,
            Target.PROJECTS: EntityKind.PROJECT,
        }[to]
        matches = self.recommender.search(
            text, to, k, kinds, statuses, include_ineligible,
            allowed=self._proposable_calls() if kind is EntityKind.CALL else self._visible(kind),
            profile=profile,
        )  # fmt: skip
        if to is Target.PROJECTS:
            self._audit_matches(matches)
        return matches

    def export(self, k: int = 5) -> Iterator[ExportRow]:
        """Every project in scope with its best partners and calls (open or forthcoming, that
        the hub may apply to), without sentence reasons."""
        self.require(Action.EXPORT)
        projects = self.store.entities(EntityKind.PROJECT, self.scope)
        self._audit("export", projects)
        organisations = self._visible(EntityKind.ORGANISATION)
        calls = self._proposable_calls()
        recommender = self.recommender
        today = recommender.today()
        for project in projects:
            if not isinstance(project, Project):
                continue
            if project.id not in recommender.collections[EntityKind.PROJECT].positions:
                continue  # stored after the indexes were built: no matches yet
            dismissed = self._dismissed(project.id)
            found = recommender.calls_for(project.id, k, explain=False, allowed=calls - dismissed)
            facts = {}
            for m in found:
                call = recommender.get(m.id, EntityKind.CALL)
                if isinstance(call, FundingCall):
                    facts[m.id] = (
                        deadline_info(call, today),
                        assess(call, project.stage, recommender.hub_country),
                    )
            yield ExportRow(
                ProjectRecord.of(project, self.scope),
                recommender.partners_for(
                    project.id, k, explain=False, allowed=organisations - dismissed
                ),
                found,
                facts,
            )

    def portfolio(self) -> list[PortfolioRow]:
        """Every project in scope at a glance, with its chokepoints (business developers and
        admins). Ranks without sentence reasons: a few milliseconds per project."""
        self.require(Action.PIPELINE)
        projects = [
            p for p in self.store.entities(EntityKind.PROJECT, self.scope) if isinstance(p, Project)
        ]
        self._audit("list", list(projects))
        # Ranking every project takes about 10 ms each: the rows are kept until the data, the
        # indexes, the pairs the user dismissed or the pipeline change (filters, sorting and
        # paging of the same portfolio then cost nothing). The rows depend on nothing else of
        # the user's: users with the same scope and the same dismissed pairs (the business
        # developers' digests, say) share them; the audit above is each one's own.
        key = self.portfolio_key()
        return self.gate.cached(("portfolio", key), lambda: self._portfolio(projects))

    def portfolio_key(self) -> tuple[Any, ...]:
        """What the portfolio's rows depend on: equal keys, equal rows."""
        return (
            self.store.generation(),
            id(self.recommender),
            self.scope.key,
            self.scope.summaries,
            self.store.dismissed_pairs(self.principal.user),
            self.store.pipeline_version(),
        )

    def _portfolio(self, projects: list[Project]) -> list[PortfolioRow]:
        recommender = self.recommender
        organisations = self._visible(EntityKind.ORGANISATION)
        calls = self._proposable_calls()
        stages: dict[str, list[PipelineStage]] = {}
        for entry in self.pipeline():
            stages.setdefault(entry.project_id, []).append(entry.stage)
        indexed = recommender.collections[EntityKind.PROJECT].positions
        rows = []
        for project in projects:
            record = ProjectRecord.of(project, self.scope)
            pipeline = in_order(stages.get(project.id, []))
            if project.id not in indexed:
                nothing = tuple(NeedCover(n, None) for n in project.needs)
                rows.append(PortfolioRow(record, None, None, nothing, pipeline, indexed=False))
                continue
            dismissed = self._dismissed(project.id)
            partners = recommender.partners_for(
                project.id, CANDIDATES, explain=False, allowed=organisations - dismissed
            )
            found = recommender.calls_for(project.id, 5, explain=False, allowed=calls - dismissed)
            rows.append(
                PortfolioRow(
                    record,
                    partners.matches[0] if partners.matches else None,
                    found.matches[0] if found.matches else None,
                    covers(project.needs, partners, found, recommender),
                    pipeline,
                    partners=tuple(partners.matches),
                    calls=tuple(found.matches),
                )
            )
        return rows

    # ------------------------------------------------------------------ feedback, pipeline

    def give_feedback(self, project_id: str, candidate_id: str, verdict: Feedback) -> None:
        """Record the principal's word on a suggested pair; "not relevant" and "already known"
        keep the pair out of their rankings from now on. Raises NotFound, PermissionDenied."""
        self._may_match(self._project(project_id))
        self._candidate(candidate_id)
        self.store.set_feedback(self.principal.user, project_id, candidate_id, verdict)

    def feedback_on(self, project_id: str) -> Mapping[str, Feedback]:
        """The principal's own feedback on a project's pairs, by candidate id (read-only)."""
        self._project(project_id)
        return MappingProxyType(self.store.feedback_of(self.principal.user, project_id))

    def feedback_counts(self) -> list[FeedbackCount]:
        """Every user's verdicts, counted per pair (admins only)."""
        self.require(Action.ADMINISTER)
        return self.store.feedback_counts()

    def shortlist(self, project_id: str, candidate_id: str, note: str = "") -> PipelineEntry:
        """Put a match in the pipeline. Raises NotFound, PermissionDenied, Conflict."""
        self.require(Action.PIPELINE)
        self._project(project_id)
        self._candidate(candidate_id)
        return self.store.shortlist(project_id, candidate_id, self.principal.user, note.strip())

    def move(self, entry_id: int, stage: PipelineStage, note: str = "") -> PipelineEntry:
        """Move a pipeline entry to a stage with a note. Raises NotFound, PermissionDenied."""
        self.require(Action.PIPELINE)
        self._entry(entry_id)
        return self.store.move(entry_id, stage, note.strip(), self.principal.user)

    def pipeline(self, project_id: str | None = None) -> list[PipelineEntry]:
        """The pipeline entries the principal may see (of one project, when given): all of them
        for business developers and admins, those of their own projects for researchers."""
        if self.principal.may(Action.PIPELINE):
            projects = self._visible(EntityKind.PROJECT)
        elif self.principal.may(Action.MATCH_OWN):
            projects = frozenset(
                p.id
                for p in self.store.entities(EntityKind.PROJECT, self.scope)
                if isinstance(p, Project) and is_member(p, self.principal.user)
            )
        else:
            raise PermissionDenied(f"The {self.principal.role.value} role has no pipeline.")
        if project_id is not None:
            self._project(project_id)
            projects = projects & {project_id}
        candidates = self._visible(EntityKind.ORGANISATION) | self._visible(EntityKind.CALL)
        entries = self.store.pipeline_entries(project_ids=projects)
        return [e for e in entries if e.candidate_id in candidates]

    def _entry(self, entry_id: int) -> PipelineEntry:
        for entry in self.pipeline():
            if entry.id == entry_id:
                return entry
        raise NotFound("pipeline entry", str(entry_id))

    def handed_out(self, project_ids: Collection[str], how: str) -> None:
        """Record in the audit log that the confidential ones of these projects were handed to
        the principal outside a request (`how`: "digest" for the weekly e-mail)."""
        self._record(how, sorted(project_ids))

    # ------------------------------------------------------------------ helpers

    def _dismissed(self, project_id: str) -> frozenset[str]:
        return self.store.dismissed(self.principal.user, project_id=project_id)

    def _candidate(self, id: str) -> Entity:
        """A partner or a call the principal may see. Raises NotFound."""
        for kind in (EntityKind.ORGANISATION, EntityKind.CALL):
            with contextlib.suppress(NotFound):
                return self.store.get(id, kind, self.scope)
        raise NotFound("organisation or call", id)

    def _may_match(self, project: Project) -> None:
        if not self.principal.may_match(project):
            raise PermissionDenied(
                f"The {self.principal.role.value} role gets partners and calls only for "
                "projects it may read."
            )

    def _project(self, id: str) -> Project:
        project = self.store.get(id, EntityKind.PROJECT, self.scope)
        if not isinstance(project, Project):
            raise NotFound("project", id)
        return project

    def _matchable(self, project_id: str) -> Project:
        project = self._project(project_id)
        self._may_match(project)
        self._indexed(project)
        return project

    def _indexed(self, entity: Entity) -> None:
        if self.recommender.known(entity.id) is None:
            raise StaleIndex(
                f"{entity.id!r} is stored but not indexed yet: an admin rebuilds the indexes (POST "
                "/api/v1/admin/reindex), and a running server picks new indexes up by itself."
            )

    def _visible(self, kind: EntityKind) -> frozenset[str]:
        return self.gate.visible(kind, self.principal)

    def _proposable_calls(self) -> frozenset[str]:
        """The calls in scope that may be proposed: not those gone from their source's latest
        export (kept and readable, but most likely closed or withdrawn)."""
        return self._visible(EntityKind.CALL) - self.gate.absent(EntityKind.CALL)

    def _audit_matches(self, matches: Ranking) -> None:
        self._record("match_result", [m.id for m in matches])

    def _audit(self, action: str, objects: list[Entity]) -> None:
        self._record(action, [o.id for o in objects if isinstance(o, Project)])

    def _record(self, action: str, project_ids: list[str]) -> None:
        confidential = self.gate.confidential()
        p = self.principal
        self.store.record_audit(
            [
                (p.user, p.role.value, action, "project", id)
                for id in project_ids
                if id in confidential
            ]
        )


_DOING = {
    Action.MATCH_OWN: "ask for matches",
    Action.MATCH_ANY: "ask for matches for other people's projects",
    Action.REVERSE: "rank projects",
    Action.SEARCH: "search partners or calls",
    Action.EXPORT: "export",
    Action.PIPELINE: "shortlist matches or move them through the pipeline",
    Action.ADMINISTER: "manage users, keys, the audit log or the indexes",
}


def require_admin(principal: Principal) -> None:
    """Raises PermissionDenied unless the principal administers the hub."""
    if not principal.may(Action.ADMINISTER):
        raise PermissionDenied(
            f"The {principal.role.value} role may not {_DOING[Action.ADMINISTER]}."
        )
