"""The object pages: the project list; a project with its ranked partners (in tabs by kind, or
those that answer one need) and calls, each match taking feedback and, for business developers
and admins, a place on the shortlist; an organisation or a call with the projects to pitch to
it; and the search for a pasted text. Every match shows its score, strength and reasons, as the
API gives them."""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher import (
    NEED_KINDS,
    Action,
    Conflict,
    EntityKind,
    Feedback,
    Modality,
    Need,
    NotFound,
    OrgKind,
    PermissionDenied,
    PipelineEntry,
    Profile,
    Ranking,
    Stage,
    StaleIndex,
    Target,
    View,
    assess,
)
from matcher.portfolio import answers
from matcher.settings import MAX_K

from ..api.schemas import MAX_TEXT
from ..limits import caller_of
from .render import page
from .routes import PAGES
from .security import PageView, check_csrf

router = APIRouter(tags=[PAGES], include_in_schema=False)

Id = Annotated[str, Path(min_length=1, max_length=128)]
FormId = Annotated[str, Form(min_length=1, max_length=128)]
CSRF = Depends(check_csrf)
PER_PAGE = 50


class Tab(StrEnum):
    """The partner tabs of a project page: organisation kinds, pharma and biotech together."""

    ALL = "all"
    INDUSTRY = "industry"
    CDMO = "cdmo"
    CRO = "cro"
    HOSPITAL_UNIT = "hospital_unit"
    ACADEMIC_GROUP = "academic_group"
    FUNDER = "funder"


TABS: dict[Tab, tuple[str, frozenset[OrgKind] | None]] = {
    Tab.ALL: ("All", None),
    Tab.INDUSTRY: ("Pharma and biotech", frozenset({OrgKind.PHARMA, OrgKind.BIOTECH})),
    Tab.CDMO: ("CDMOs", frozenset({OrgKind.CDMO})),
    Tab.CRO: ("CROs", frozenset({OrgKind.CRO})),
    Tab.HOSPITAL_UNIT: ("Hospital units", frozenset({OrgKind.HOSPITAL_UNIT})),
    Tab.ACADEMIC_GROUP: ("Academic groups", frozenset({OrgKind.ACADEMIC_GROUP})),
    Tab.FUNDER: ("Funders", frozenset({OrgKind.FUNDER})),
}

KINDS = {
    OrgKind.PHARMA: "pharma companies",
    OrgKind.BIOTECH: "biotechs",
    OrgKind.CDMO: "CDMOs",
    OrgKind.CRO: "CROs",
    OrgKind.HOSPITAL_UNIT: "hospital units",
    OrgKind.ACADEMIC_GROUP: "academic groups",
    OrgKind.FUNDER: "funders",
    OrgKind.OTHER: "other organisations",
}
"""Organisation kinds in a sentence."""

TARGETS = {
    Target.PARTNERS: "Organisations",
    Target.CALLS: "Funding calls",
    Target.PROJECTS: "Our projects",
}


# ---------------------------------------------------------------------- projects


@router.get("/projects")
def projects_page(
    request: Request, view: PageView, page_number: Annotated[int, Query(alias="page", ge=1)] = 1
) -> HTMLResponse:
    """The projects the user may read, 50 to a page; a researcher's own are marked."""
    found = view.projects((page_number - 1) * PER_PAGE, PER_PAGE)
    user = view.principal.user
    return page(
        request,
        "projects.html",
        view.principal,
        projects=found.items,
        total=found.total,
        page_number=page_number,
        pages=max(1, math.ceil(found.total / PER_PAGE)),
        mine={p.id for p in found.items if p.owner == user or user in (p.team or ())},
    )


@router.get("/projects/{project_id}")
def project_page(
    request: Request,
    project_id: Id,
    view: PageView,
    tab: Tab = Tab.ALL,
    need: Need | None = None,
) -> Response:
    """A project, its partners (one tab of kinds, or those that answer `need`) and its calls.
    An htmx request for another tab gets the partners panel alone."""
    project = view.project(project_id)
    k = _top_k(request)
    context: dict[str, Any] = {
        "project": project,
        "tab": tab,
        "need": need,
        "tabs": TABS,
        "need_kinds": [KINDS[kind] for kind in OrgKind if need and kind in NEED_KINDS[need]],
        "partners": None,
        "calls": None,
        "unranked": "",
        "feedback": {},
        "entries": {},
        "can_shortlist": view.principal.may(Action.PIPELINE),
    }
    fragment = _fragment(request)
    try:
        context["partners"] = _partners(view, project_id, tab, need, k)
        if not fragment:
            context["calls"] = view.calls_for(project_id, k)
    except (PermissionDenied, StaleIndex) as error:
        context["unranked"] = _unranked(view, error)
    if context["partners"] is not None:
        context["feedback"] = view.feedback_on(project_id)
        context["entries"] = _entries(view, project_id)
    template = "_objects_partners.html" if fragment else "project.html"
    response = page(request, template, view.principal, **context)
    response.headers["Vary"] = "HX-Request"
    return response


@router.post("/projects/{project_id}/feedback", dependencies=[CSRF])
def give_feedback(
    request: Request,
    project_id: Id,
    view: PageView,
    candidate_id: FormId,
    verdict: Annotated[Feedback, Form()],
    tab: Annotated[Tab, Form()] = Tab.ALL,
    need: Annotated[Need | Literal[""], Form()] = "",
) -> Response:
    """Record the user's word on a match; back to the project (with htmx: the match's new
    feedback, or a line saying it was removed)."""
    view.give_feedback(project_id, candidate_id, verdict)
    if _fragment(request):
        template = "_match_removed.html" if verdict.dismisses else "_match_feedback.html"
        return _part(request, view, template, project_id, candidate_id, tab, need, given=verdict)
    if not verdict.dismisses:
        return _back(project_id, tab, need, "m-" + candidate_id)
    _, entity = _candidate(view, candidate_id)
    return _back(project_id, tab, need, "calls" if entity is EntityKind.CALL else "partners")


@router.post("/projects/{project_id}/shortlist", dependencies=[CSRF])
def shortlist(
    request: Request,
    project_id: Id,
    view: PageView,
    candidate_id: FormId,
    note: Annotated[str, Form(max_length=2000)] = "",
    tab: Annotated[Tab, Form()] = Tab.ALL,
    need: Annotated[Need | Literal[""], Form()] = "",
) -> Response:
    """Put a match in the pipeline (business developers and admins); one already there stays
    as it is."""
    with contextlib.suppress(Conflict):  # in the pipeline already: the page shows its stage
        view.shortlist(project_id, candidate_id, note)
    if _fragment(request):
        entry = _entries(view, project_id).get(candidate_id)
        return _part(request, view, "_match_shortlist.html", project_id, candidate_id, tab, need,
                     entry=entry, can_shortlist=True)  # fmt: skip
    return _back(project_id, tab, need, "m-" + candidate_id)


# ---------------------------------------------------------------------- organisations, calls


@router.get("/organisations/{organisation_id}")
def organisation_page(request: Request, organisation_id: Id, view: PageView) -> HTMLResponse:
    """An organisation, and the projects to pitch to it."""
    organisation = view.organisation(organisation_id)
    ranking, unranked = _reverse(
        view, organisation_id, EntityKind.ORGANISATION, _top_k(request), False
    )
    return page(
        request,
        "organisation.html",
        view.principal,
        organisation=organisation,
        same=view.same_organisation(organisation_id),
        ranking=ranking,
        unranked=unranked,
    )


@router.get("/calls/{call_id}")
def call_page(
    request: Request, call_id: Id, view: PageView, include_ineligible: bool = False
) -> HTMLResponse:
    """A funding call, whether the hub may apply, and the projects to submit to it."""
    record = view.call(call_id)
    call = record.call
    today = view.gate.today()
    ranking, unranked = _reverse(
        view, call_id, EntityKind.CALL, _top_k(request), include_ineligible
    )
    return page(
        request,
        "call.html",
        view.principal,
        record=record,
        call=call,
        deadlines=[
            (d, (d.date - today).days) for d in sorted(call.deadlines, key=lambda d: d.date)
        ],
        today=today,
        verdict=assess(call, None, view.recommender.hub_country),
        ranking=ranking,
        unranked=unranked,
        include_ineligible=include_ineligible,
    )


# ---------------------------------------------------------------------- search


@router.get("/search")
def search_form(request: Request, view: PageView, to: Target = Target.PARTNERS) -> HTMLResponse:
    """The search form: a pasted text is posted, never put in an address."""
    return _search_page(request, view, to=to)


@router.post("/search", dependencies=[CSRF])
def search(
    request: Request,
    view: PageView,
    q: Annotated[str, Form(max_length=MAX_TEXT)],
    to: Annotated[Target, Form()] = Target.PARTNERS,
    stage: Annotated[Stage | Literal[""], Form()] = "",
    modality: Annotated[Modality | Literal[""], Form()] = "",
    needs: Annotated[list[Need] | None, Form()] = None,
) -> HTMLResponse:
    """Partners, calls or projects for a pasted text, rendered at once (the text is not kept)."""
    profile = Profile(stage or None, modality or None, tuple(needs or ()))
    form: dict[str, Any] = {"to": to, "q": q, "profile": profile}
    if not _may_search(view, to):
        return _search_page(request, view, **form)
    if not q.strip():
        return _search_page(request, view, status_code=422, error="Paste a text first.", **form)
    request.app.state.expensive.spend(view.store, caller_of(request, view.principal))
    ranking = view.search(
        q, to, _top_k(request), profile=profile if to is not Target.PROJECTS else Profile()
    )
    return _search_page(request, view, ranking=ranking, **form)


def _search_page(
    request: Request, view: PageView, status_code: int = 200, **context: Any
) -> HTMLResponse:
    targets = [t for t in TARGETS if _may_search(view, t)]
    context.setdefault("profile", Profile())
    return page(
        request,
        "search.html",
        view.principal,
        status_code=status_code if targets else 403,
        targets=targets,
        target_names=TARGETS,
        stages=list(Stage),
        modalities=list(Modality),
        all_needs=list(Need),
        **context,
    )


def _may_search(view: View, to: Target) -> bool:
    return view.principal.may(Action.REVERSE if to is Target.PROJECTS else Action.SEARCH)


# ---------------------------------------------------------------------- helpers


def _partners(view: View, project_id: str, tab: Tab, need: Need | None, k: int) -> Ranking:
    """One tab of a project's partners, or, for a need, the partners that answer it: of a kind
    that does, or declaring the capability (looked for among the best MAX_K of those kinds)."""
    if need is None:
        return view.partners_for(project_id, k, TABS[tab][1])
    answering = [o for o in view.organisations().items if answers(o, need)]
    kinds = {o.kind for o in answering}
    ids = {o.id for o in answering}
    if not kinds:
        view.partners_for(project_id, 1)  # the project's checks (scope, role, index) still hold
        return Ranking([])
    ranking = view.partners_for(project_id, MAX_K, kinds)
    return replace(ranking, matches=[m for m in ranking if m.id in ids][:k])


def _reverse(
    view: View, id: str, kind: EntityKind, k: int, include_ineligible: bool
) -> tuple[Ranking | None, str]:
    """The projects for an organisation or a call, or why there is no ranking."""
    try:
        return view.projects_for(id, k, kind, include_ineligible), ""
    except (PermissionDenied, StaleIndex) as error:
        return None, _unranked(view, error)


def _unranked(view: View, error: Exception) -> str:
    """Why a page shows no ranking: the user's role, or an object newer than the indexes."""
    if isinstance(error, StaleIndex):
        return (
            "This was stored after the indexes were built, so it has no matches yet: an admin "
            "rebuilds the indexes, and the page shows them then."
        )
    return (
        f"Your role ({view.principal.role.value}) gets no rankings: they are for the hub's staff."
    )


def _entries(view: View, project_id: str) -> dict[str, PipelineEntry]:
    """The project's shortlisted matches the user may see, by candidate id."""
    try:
        return {e.candidate_id: e for e in view.pipeline(project_id)}
    except PermissionDenied:
        return {}


def _candidate(view: View, id: str) -> tuple[str, EntityKind]:
    """The name of a partner or call the user may see, and which it is."""
    try:
        return view.organisation(id).name, EntityKind.ORGANISATION
    except NotFound:
        return view.call(id).call.title, EntityKind.CALL


def _fragment(request: Request) -> bool:
    """An htmx request that swaps a part of the page (a history restore wants the whole)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _top_k(request: Request) -> int:
    return int(request.app.state.settings.top_k)


def _part(
    request: Request,
    view: View,
    template: str,
    project_id: str,
    candidate_id: str,
    tab: Tab,
    need: Need | Literal[""],
    **context: Any,
) -> HTMLResponse:
    """A part of one match of a project's page, for htmx to swap in."""
    name, _ = _candidate(view, candidate_id)
    return page(request, template, view.principal, project={"id": project_id}, cid=candidate_id,
                cname=name, tab=tab, need=need or None, **context)  # fmt: skip


def _back(project_id: str, tab: Tab, need: Need | Literal[""], anchor: str) -> RedirectResponse:
    """Back to the project's page as it was (its tab or need), at the match or its list."""
    query = {"need": need.value} if need else ({"tab": tab.value} if tab is not Tab.ALL else {})
    url = f"/projects/{quote(project_id, safe='')}"
    if query:
        url += "?" + urlencode(query)
    return RedirectResponse(f"{url}#{quote(anchor, safe='')}", status_code=303)
