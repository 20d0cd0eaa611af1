"""The HTTP routes: each takes its dependencies, calls one library function, returns a schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from matcher import EntityKind, FundingCall, Organisation, OrgKind, Project, Target, to_record
from matcher import __version__ as version
from matcher.settings import MAX_K

from .deps import RecommenderDep
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
    Version,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "The request is not valid (parameter or body)."},
    503: {"model": ErrorOut, "description": "The indexes or the model are not available."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No object with this id."},
    **ERRORS,
}

K = Annotated[int, Query(ge=1, le=MAX_K, description="How many matches to return.")]
Id = Annotated[str, Path(min_length=1, max_length=128)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]

operations = APIRouter(tags=["operations"])
api = APIRouter(prefix="/api/v1")


@operations.get("/health", responses=ERRORS)
def health(recommender: RecommenderDep) -> Health:
    """Whether the service is up, with the number of loaded objects of each kind."""
    return Health(status="ok", counts=recommender.counts())


@operations.get("/version", responses=ERRORS)
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


def _project(p: Project) -> ProjectOut:
    return ProjectOut.model_validate(to_record(p))


def _organisation(o: Organisation) -> OrganisationOut:
    return OrganisationOut.model_validate(to_record(o))


def _call(c: FundingCall, recommender: RecommenderDep) -> CallOut:
    record = to_record(c)
    record["status"] = c.status_on(recommender.today()).value
    return CallOut.model_validate(record)


@api.get("/projects", tags=["projects"], responses=ERRORS)
def list_projects(
    recommender: RecommenderDep, offset: Offset = 0, limit: Limit = 100
) -> ProjectList:
    """The hub's research projects."""
    items = recommender.entities(EntityKind.PROJECT)
    page = [_project(p) for p in items[offset : offset + limit] if isinstance(p, Project)]
    return ProjectList(total=len(items), offset=offset, limit=limit, items=page)


@api.get("/projects/{project_id}", tags=["projects"], responses=NOT_FOUND)
def get_project(project_id: Id, recommender: RecommenderDep) -> ProjectOut:
    """One project."""
    project = recommender.get(project_id, EntityKind.PROJECT)
    assert isinstance(project, Project)
    return _project(project)


@api.get("/organisations", tags=["organisations"], responses=ERRORS)
def list_organisations(
    recommender: RecommenderDep, offset: Offset = 0, limit: Limit = 100
) -> OrganisationList:
    """Organisation profiles: companies, CDMOs, CROs, hospital units, academic groups, funders."""
    items = recommender.entities(EntityKind.ORGANISATION)
    page = [_organisation(o) for o in items[offset : offset + limit] if isinstance(o, Organisation)]
    return OrganisationList(total=len(items), offset=offset, limit=limit, items=page)


@api.get("/organisations/{organisation_id}", tags=["organisations"], responses=NOT_FOUND)
def get_organisation(organisation_id: Id, recommender: RecommenderDep) -> OrganisationOut:
    """One organisation."""
    org = recommender.get(organisation_id, EntityKind.ORGANISATION)
    assert isinstance(org, Organisation)
    return _organisation(org)


@api.get("/calls", tags=["calls"], responses=ERRORS)
def list_calls(recommender: RecommenderDep, offset: Offset = 0, limit: Limit = 100) -> CallList:
    """Funding calls, with their status today."""
    items = recommender.entities(EntityKind.CALL)
    page = [
        _call(c, recommender) for c in items[offset : offset + limit] if isinstance(c, FundingCall)
    ]
    return CallList(total=len(items), offset=offset, limit=limit, items=page)


@api.get("/calls/{call_id}", tags=["calls"], responses=NOT_FOUND)
def get_call(call_id: Id, recommender: RecommenderDep) -> CallOut:
    """One funding call."""
    call = recommender.get(call_id, EntityKind.CALL)
    assert isinstance(call, FundingCall)
    return _call(call, recommender)


# ---------------------------------------------------------------------- matches


@api.get("/projects/{project_id}/partners", tags=["matches"], responses=NOT_FOUND)
def partners_for_project(
    project_id: Id,
    recommender: RecommenderDep,
    k: K = 10,
    kind: Annotated[list[OrgKind] | None, Query(description="Only these kinds.")] = None,
) -> MatchList:
    """The organisations that fit a project best, with the reasons for each."""
    matches = recommender.partners_for(project_id, k, kind)
    return MatchList.of(project_id, "project->partners", matches)


@api.get("/projects/{project_id}/calls", tags=["matches"], responses=NOT_FOUND)
def calls_for_project(
    project_id: Id,
    recommender: RecommenderDep,
    k: K = 10,
    include_forthcoming: Annotated[bool, Query(description="Also calls not yet open.")] = False,
) -> MatchList:
    """The open funding calls that fit a project best; closed calls never appear."""
    matches = recommender.calls_for(project_id, k, include_forthcoming)
    return MatchList.of(project_id, "project->calls", matches)


@api.get("/organisations/{organisation_id}/projects", tags=["matches"], responses=NOT_FOUND)
def projects_for_organisation(
    organisation_id: Id, recommender: RecommenderDep, k: K = 10
) -> MatchList:
    """The hub's projects to pitch to an organisation."""
    recommender.get(organisation_id, EntityKind.ORGANISATION)
    matches = recommender.projects_for(organisation_id, k)
    return MatchList.of(organisation_id, "organisation->projects", matches)


@api.get("/calls/{call_id}/projects", tags=["matches"], responses=NOT_FOUND)
def projects_for_call(call_id: Id, recommender: RecommenderDep, k: K = 10) -> MatchList:
    """The hub's projects that fit a funding call."""
    recommender.get(call_id, EntityKind.CALL)
    matches = recommender.projects_for(call_id, k)
    return MatchList.of(call_id, "call->projects", matches)


@api.post("/search/partners", tags=["matches"], responses=ERRORS)
def search_partners(
    body: Annotated[SearchPartners, Body()], recommender: RecommenderDep
) -> MatchList:
    """Organisations for a pasted text, such as an abstract not yet in the hub."""
    matches = recommender.search(body.text, Target.PARTNERS, body.k, body.kinds)
    return MatchList.of(body.text[:200], "text->partners", matches)


@api.post("/search/calls", tags=["matches"], responses=ERRORS)
def search_calls(body: Annotated[SearchCalls, Body()], recommender: RecommenderDep) -> MatchList:
    """Open funding calls for a pasted text."""
    matches = recommender.search(
        body.text, Target.CALLS, body.k, include_forthcoming=body.include_forthcoming
    )
    return MatchList.of(body.text[:200], "text->calls", matches)
