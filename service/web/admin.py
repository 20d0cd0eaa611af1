"""The admins' page of the feedback users gave: how many said relevant, not relevant or already
known about each pair, most judged first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .render import page
from .routes import PAGES
from .security import PageView

router = APIRouter(tags=[PAGES], include_in_schema=False)


@router.get("/feedback")
def feedback_counts(request: Request, view: PageView) -> HTMLResponse:
    """Admins only (View.feedback_counts refuses the other roles: a 403 page)."""
    counts = view.feedback_counts()
    return page(request, "feedback.html", view.principal, counts=counts)
