"""Pages: filled in next (see service/web/routes.py for the shared parts)."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import PAGES

router = APIRouter(tags=[PAGES], include_in_schema=False)
