"""The HTTP routes: each takes its dependencies, calls one library function, returns a schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from matcher import (
    ALL_STATUSES,
    CallRecord,
    CallStatus,
    EntityKind,
    OrgKind,
    Recommender,
    Target,
    to_record,
)
from matcher import __version__ as version
from matcher.settings import MAX_K

from ..auth import OptionalPrincipalDep
from ..deps import RecommenderDep, ViewDep
from ..errors import responses
from ..export import EXPORT_COLUMNS, export_rows, write_csv
from ..limits import EXPENSIVE
from .schemas import (
    CallList,
    CallOut,
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

# The errors each kind of route documents; their codes and meanings come from errors.FAILURES.
OPEN = responses(400, 401, 422, 429, 503)  # anyone; credentials, when sent, are checked
READ = responses(401, 403, 422, 429, 503)
ONE = responses(401, 403, 404, 422, 429, 503)
POST = responses(400, 401, 403, 413, 422, 429, 503)

K = Annotated[int, Query(ge=1, le=MAX_K, description="How many matches to return.")]
Id = Annotated[str, Path(min_length=1, max_length=128)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]

operations = APIRouter(tags=["operations"])
api = APIRouter(prefix="/api/v1")


ANYONE: dict[str, Any] = {"security": [{}]}
"""For openapi_extra: the route's credentials are optional (OpenAPI's empty requirement)."""


@operations.get("/health", responses=OPEN, response_model_exclude_none=True, openapi_extra=ANYONE)
def health(recommender: RecommenderDep, principal: OptionalPrincipalDep) -> Health:
    """Whether the service is up; signed-in callers also get the number of loaded entities of
    each kind (projects, organisations, calls; not their documents)."""
    if principal is None:
        return Health(status="ok")
    return Health(status="ok", counts=_entities(recommender))


@operations.get("/version", responses=OPEN, response_model_exclude_none=True, openapi_extra=ANYONE)
def get_version(recommender: RecommenderDep, principal: OptionalPrincipalDep) -> Version:
    """The package version; signed-in callers also get the model and the manifest of every
    loaded index, with its entities."""
    if principal is None:
        return Version(version=version)
    entities = _entities(recommender)
    return Version(
        version=version,
        model=recommender.encoder.embedder.name,
        indexes={
            kind: IndexInfo(
                model=m.model,
                dim=m.dim,
                count=m.count,
                entities=entities[kind],
                data_hash=m.data_hash,
                built_at=m.built_at,
            )
            for kind, m in recommender.manifests().items()
        },
    )


def _entities(recommender: Recommender) -> dict[str, int]:
    """Loaded entities by kind; an index holds one vector per document, several per entity."""
    return {kind.value: len(c.entities) for kind, c in recommender.collections.items()}


# ---------------------------------------------------------------------- objects


def _call(record: CallRecord) -> CallOut:
    out = to_record(record.call)
    out["status"] = record.status.value
    return CallOut.model_validate(out)


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
    items = [OrganisationOut.of(o) for o in page.items]
    return OrganisationList(total=page.total, offset=offset, limit=limit, items=items)


@api.get("/organisations/{organisation_id}", tags=["organisations"], responses=ONE)
def get_organisation(organisation_id: Id, view: ViewDep) -> OrganisationOut:
    """One organisation."""
    return OrganisationOut.of(view.organisation(organisation_id))


@api.get("/calls", tags=["calls"], responses=READ)
def list_calls(view: ViewDep, offset: Offset = 0, limit: Limit = 100) -> CallList:
    """Funding calls, with their status today."""
    page = view.calls(offset, limit)
    items = [_call(c) for c in page.items]
    return CallList(total=page.total, offset=offset, limit=limit, items=items)


@api.get("/calls/{call_id}", tags=["calls"], responses=ONE)
def get_call(call_id: Id, view: ViewDep) -> CallOut:
    """One funding call."""
    return _call(view.call(call_id))


# ---------------------------------------------------------------------- matches


StatusFilter = Annotated[
    list[CallStatus] | None,
    Query(
        description="Only calls with these statuses: open, forthcoming (both by default). "
        "Closed and withdrawn calls are never proposed."
    ),
]
IncludeIneligible = Annotated[
    bool,
    Query(description="Also what the hub may not apply to, each with its eligibility verdict."),
]


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
    status: StatusFilter = None,
    include_ineligible: IncludeIneligible = False,
) -> MatchList:
    """The funding calls that fit a project best: open and forthcoming ones the hub may apply
    to with it; closed and withdrawn calls never appear."""
    matches = view.calls_for(project_id, k, status or ALL_STATUSES, include_ineligible)
    return MatchList.of(project_id, "project->calls", matches)


@api.get("/organisations/{organisation_id}/projects", tags=["matches"], responses=ONE)
def projects_for_organisation(organisation_id: Id, view: ViewDep, k: K = 10) -> MatchList:
    """The hub's projects to pitch to an organisation, among those the caller may see."""
    matches = view.projects_for(organisation_id, k, EntityKind.ORGANISATION)
    return MatchList.of(organisation_id, "organisation->projects", matches)


@api.get("/calls/{call_id}/projects", tags=["matches"], responses=ONE)
def projects_for_call(
    call_id: Id, view: ViewDep, k: K = 10, include_ineligible: IncludeIneligible = False
) -> MatchList:
    """The hub's projects that fit a funding call and may apply to it, among those the caller
    may see. A closed, withdrawn or forthcoming call says so in `notice`."""
    matches = view.projects_for(call_id, k, EntityKind.CALL, include_ineligible)
    return MatchList.of(call_id, "call->projects", matches)


@api.post("/search/partners", tags=["matches"], responses=POST, dependencies=[EXPENSIVE])
def search_partners(body: Annotated[SearchPartners, Body()], view: ViewDep) -> MatchList:
    """Organisations for a pasted text, such as an abstract not yet in the hub."""
    matches = view.search(body.text, Target.PARTNERS, body.k, body.kind, profile=body.profile())
    return MatchList.of(body.text[:200], "text->partners", matches)


@api.post("/search/calls", tags=["matches"], responses=POST, dependencies=[EXPENSIVE])
def search_calls(body: Annotated[SearchCalls, Body()], view: ViewDep) -> MatchList:
    """Open and forthcoming funding calls for a pasted text; give its `stage` to have the
    stage rules decided rather than left as conditions."""
    matches = view.search(
        body.text, Target.CALLS, body.k, statuses=body.status,
        include_ineligible=body.include_ineligible, profile=body.profile(),
    )  # fmt: skip
    return MatchList.of(body.text[:200], "text->calls", matches)


@api.post("/search/projects", tags=["matches"], responses=POST, dependencies=[EXPENSIVE])
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
    dependencies=[EXPENSIVE],
)
def export_projects(view: ViewDep, k: Annotated[int, Query(ge=1, le=20)] = 5) -> Response:
    """Every project the caller may see with its k best partners and calls, one row per
    match: score, strength, kind, and for calls the status, days left and eligibility."""
    return Response(
        write_csv(EXPORT_COLUMNS, export_rows(view.export(k))),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="projects.csv"'},
    )
