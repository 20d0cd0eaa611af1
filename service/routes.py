"""The HTTP routes: each takes its dependencies, calls one library function, returns a schema."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from matcher import EntityKind, FundingCall, OrgKind, Recommender, Target, to_record
from matcher import __version__ as version
from matcher.settings import MAX_K

from .deps import RecommenderDep, ViewDep
from .schemas import (
    CallList,
    CallOut,
    ErrorOut,
    Health,
    IndexInfo,
    MatchList,
    OrganisationList,
    OrganisationOut,
    ProjectList,
    ProjectOut,
    SearchCalls,
    SearchPartners,
    SearchProjects,
    Version,
)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": WHY[status]} for status in statuses}


WHY = {
    400: "The body cannot be read: not JSON, or not UTF-8.",
    401: "No credentials, or a key that is malformed, unknown, revoked or expired.",
    403: "The caller's role may not do this.",
    404: "No object with this id that the caller may see.",
    409: "The object exists already.",
    413: "The request body is too large.",
    422: "The request is not valid (parameter or body).",
    429: "Too many failed sign-ins from this address; see Retry-After.",
    503: "The indexes or the model are not available.",
}
OPEN = _errors(422, 503)
READ = _errors(401, 403, 422, 429, 503)
ONE = _errors(401, 403, 404, 422, 429, 503)
POST = _errors(400, 401, 403, 413, 422, 429, 503)

K = Annotated[int, Query(ge=1, le=MAX_K, description="How many matches to return.")]
Id = Annotated[str, Path(min_length=1, max_length=128)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]

operations = APIRouter(tags=["operations"])
api = APIRouter(prefix="/api/v1")


@operations.get("/health", responses=OPEN)
def health(recommender: RecommenderDep) -> Health:
    """Whether the service is up, with the number of loaded objects of each kind."""
    return Health(status="ok", counts=recommender.counts())


@operations.get("/version", responses=OPEN)
def get_version(recommender: RecommenderDep) -> Version:
    """The package version and the manifest of every loaded index."""
    manifests = recommender.manifests()
    return Version(
        version=version,
        model=recommender.encoder.embedder.name,
        indexes={
            kind: IndexInfo(
                model=m.model, dim=m.dim, count=m.count, data_hash=m.data_hash, built_at=m.built_at
            )
            for kind, m in manifests.items()
        },
    )


# ---------------------------------------------------------------------- objects


def _call(c: FundingCall, recommender: Recommender) -> CallOut:
    record = to_record(c)
    record["status"] = c.status_on(recommender.today()).value
    return CallOut.model_validate(record)


@api.get("/projects", tags=["projects"], responses=READ)
def list_projects(view: ViewDep, offset: Offset = 0, limit: Limit = 100) -> ProjectList:
    """The hub's research projects that the caller may see."""
    page = view.projects(offset, limit)
    items = [ProjectOut.model_validate(p) for p in page.items]
    return ProjectList(total=page.total, offset=offset, limit=limit, items=items)


@api.get("/projects/{project_id}", tags=["projects"], responses=ONE)
def get_project(project_id: Id, view: ViewDep) -> ProjectOut:
    """One project (its public summary for partners and guests)."""
    return ProjectOut.model_validate(view.project(project_id))


@api.get("/organisations", tags=["organisations"], responses=READ)
def list_organisations(view: ViewDep, offset: Offset = 0, limit: Limit = 100) -> OrganisationList:
    """Organisation profiles: companies, CDMOs, CROs, hospital units, academic groups, funders."""
    page = view.organisations(offset, limit)
    items = [OrganisationOut.model_validate(o) for o in page.items]
    return OrganisationList(total=page.total, offset=offset, limit=limit, items=items)


@api.get("/organisations/{organisation_id}", tags=["organisations"], responses=ONE)
def get_organisation(organisation_id: Id, view: ViewDep) -> OrganisationOut:
    """One organisation."""
    return OrganisationOut.model_validate(view.organisation(organisation_id))


@api.get("/calls", tags=["calls"], responses=READ)
def list_calls(view: ViewDep, offset: Offset = 0, limit: Limit = 100) -> CallList:
    """Funding calls, with their status today."""
    total, calls = view.calls(offset, limit)
    items = [_call(c, view.recommender) for c in calls]
    return CallList(total=total, offset=offset, limit=limit, items=items)


@api.get("/calls/{call_id}", tags=["calls"], responses=ONE)
def get_call(call_id: Id, view: ViewDep) -> CallOut:
    """One funding call."""
    return _call(view.call(call_id), view.recommender)


# ---------------------------------------------------------------------- matches


@api.get("/projects/{project_id}/partners", tags=["matches"], responses=ONE)
def partners_for_project(
    project_id: Id,
    view: ViewDep,
    k: K = 10,
    kind: Annotated[list[OrgKind] | None, Query(description="Only these kinds.")] = None,
) -> MatchList:
    """The organisations that fit a project best, with the reasons for each."""
    matches = view.partners_for(project_id, k, kind)
    return MatchList.of(project_id, "project->partners", matches)


@api.get("/projects/{project_id}/calls", tags=["matches"], responses=ONE)
def calls_for_project(
    project_id: Id,
    view: ViewDep,
    k: K = 10,
    include_forthcoming: Annotated[bool, Query(description="Also calls not yet open.")] = False,
) -> MatchList:
    """The open funding calls that fit a project best; closed calls never appear."""
    matches = view.calls_for(project_id, k, include_forthcoming)
    return MatchList.of(project_id, "project->calls", matches)


@api.get("/organisations/{organisation_id}/projects", tags=["matches"], responses=ONE)
def projects_for_organisation(organisation_id: Id, view: ViewDep, k: K = 10) -> MatchList:
    """The hub's projects to pitch to an organisation, among those the caller may see."""
    matches = view.projects_for(organisation_id, k, EntityKind.ORGANISATION)
    return MatchList.of(organisation_id, "organisation->projects", matches)


@api.get("/calls/{call_id}/projects", tags=["matches"], responses=ONE)
def projects_for_call(call_id: Id, view: ViewDep, k: K = 10) -> MatchList:
    """The hub's projects that fit a funding call, among those the caller may see."""
    matches = view.projects_for(call_id, k, EntityKind.CALL)
    return MatchList.of(call_id, "call->projects", matches)


@api.post("/search/partners", tags=["matches"], responses=POST)
def search_partners(body: Annotated[SearchPartners, Body()], view: ViewDep) -> MatchList:
    """Organisations for a pasted text, such as an abstract not yet in the hub."""
    matches = view.search(body.text, Target.PARTNERS, body.k, body.kinds)
    return MatchList.of(body.text[:200], "text->partners", matches)


@api.post("/search/calls", tags=["matches"], responses=POST)
def search_calls(body: Annotated[SearchCalls, Body()], view: ViewDep) -> MatchList:
    """Open funding calls for a pasted text."""
    matches = view.search(
        body.text, Target.CALLS, body.k, include_forthcoming=body.include_forthcoming
    )
    return MatchList.of(body.text[:200], "text->calls", matches)


@api.post("/search/projects", tags=["matches"], responses=POST)
def search_projects(body: Annotated[SearchProjects, Body()], view: ViewDep) -> MatchList:
    """The caller's visible projects for a pasted text, such as a company's pipeline."""
    matches = view.search(body.text, Target.PROJECTS, body.k)
    return MatchList.of(body.text[:200], "text->projects", matches)


@api.get(
    "/export/projects",
    tags=["matches"],
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
        **READ,
    },
)
def export_projects(view: ViewDep, k: Annotated[int, Query(ge=1, le=20)] = 5) -> Response:
    """Every project the caller may see with its k best partners and open calls, as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in view.export(k):
        p = row.project
        writer.writerow(
            [
                p["id"], p["title"], p["visibility"], p["modality"], p["stage"],
                p.get("owner") or "",
                "; ".join(f"{m.name} ({m.id})" for m in row.partners),
                "; ".join(f"{m.name} ({m.id})" for m in row.calls),
            ]
        )  # fmt: skip
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="projects.csv"'},
    )


EXPORT_COLUMNS = ("id", "title", "visibility", "modality", "stage", "owner", "partners", "calls")
