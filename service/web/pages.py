"""The hub's pages: portfolio, projects, organisations, calls, search and pipeline."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import PAGES

router = APIRouter(tags=[PAGES], include_in_schema=False)
