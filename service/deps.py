"""Dependencies that routes declare with Annotated.

Every route that reads hub data takes a `ViewDep`: the one place where the caller's credentials
become a scoped View, through which objects are loaded and matches ranked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from matcher import Gate, Principal, Recommender, Settings, View, require_admin

from .auth import get_principal


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
