"""Dependencies that routes declare with Annotated."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from matcher import Recommender, Settings


def get_recommender(request: Request) -> Recommender:
    recommender: Recommender = request.app.state.recommender
    return recommender


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
