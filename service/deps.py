"""Dependencies that routes declare with Annotated, and the one the app applies to every route.

Every route that reads hub data takes a `ViewDep`: the one place where the caller's credentials
become a scoped View, through which objects are loaded and matches ranked."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from matcher import Gate, Principal, Recommender, Settings, View, require_admin

from .auth import get_principal


def refuse_unknown_query(request: Request) -> None:
    """Refuse query parameters that the route does not declare (422, `invalid_request`), as
    request bodies refuse unknown fields: `?kinds=cdmo` on a route that takes `kind` is a typo
    that would otherwise be ignored in silence. The app applies this to every route."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = query_names(route.dependant)
    unknown = [name for name in request.query_params if name not in declared]
    if not unknown:
        return
    takes = ", ".join(sorted(declared)) or "none"
    raise RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": f"Unknown query parameter {name!r}; this route takes: {takes}.",
                "input": request.query_params[name],
            }
            for name in unknown
        ]
    )


async def refuse_duplicate_keys(request: Request) -> None:
    """Refuse a JSON body that names a key twice at any depth (422, `invalid_request`): the
    parser keeps the last one, so `{"password": "wrong", "password": "right"}` would be read as
    one password while a proxy or a log reads another. The app applies this to every route; it
    looks only at bodies that the route reads and that FastAPI parsed as JSON already."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    if "json" not in request.headers.get("content-type", "json"):
        return  # a form (the web pages), read as a form: names there may repeat by design
    body = await request.body()  # read and cached by FastAPI before any dependency runs
    repeated: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for name, value in pairs:
            if name in seen:
                repeated.append(name)
            seen[name] = value
        return seen

    try:
        json.loads(body, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return  # not JSON: the body's own validation answers
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "duplicate_key",
                    "loc": ("body", name),
                    "msg": f"The key {name!r} appears more than once in the body.",
                    "input": None,
                }
                for name in dict.fromkeys(repeated)
            ]
        )


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route reads, its dependencies' included, by the name sent."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a Query() model
                names |= {f.alias or n for n, f in model.model_fields.items()}
            else:
                names |= {field.alias, field.validation_alias or field.alias}
        pending.extend(current.dependencies)
    return names


def get_gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


def get_recommender(request: Request) -> Recommender:
    return get_gate(request).recommender


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_view(request: Request, principal: PrincipalDep) -> View:
    return get_gate(request).view(principal)


def get_admin(principal: PrincipalDep) -> Principal:
    require_admin(principal)
    return principal


GateDep = Annotated[Gate, Depends(get_gate)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewDep = Annotated[View, Depends(get_view)]
AdminDep = Annotated[Principal, Depends(get_admin)]
