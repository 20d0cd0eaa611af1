"""Sign-in, sign-out, the home page and what every page shares: static files, and errors shown
as pages (a missing session sends the browser to sign in)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from matcher import NotAuthenticated, Role, login, logout

from ..auth import SESSION_COOKIE, SIGNED_IN, is_https, password_bucket
from .render import STATIC, page
from .security import (
    PRESESSION_COOKIE,
    CsrfRefused,
    PagePrincipal,
    SignInRequired,
    check_csrf,
    check_presession,
    new_presession,
    safe_next,
    sign_in_url,
)

PAGES = "pages"
"""The tag of every page route: errors on them are answered as pages (service/errors.py)."""

site = APIRouter(tags=[PAGES], include_in_schema=False)


@site.get("/")
def home(principal: PagePrincipal) -> RedirectResponse:
    """Business developers and admins start at the portfolio, researchers at the projects,
    guests at their own organisation's page."""
    start = {
        Role.ADMIN: "/portfolio",
        Role.BIZDEV: "/portfolio",
        Role.RESEARCHER: "/projects",
        Role.GUEST: f"/organisations/{quote(principal.organisation or '', safe='')}",
    }[principal.role]
    return RedirectResponse(start, status_code=303)


@site.get("/signin")
def sign_in_page(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> HTMLResponse:
    token = new_presession()
    response = page(request, "signin.html", None, next=safe_next(next), signin_token=token)
    _set_presession(request, response, token)
    return response


@site.post("/signin")
def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_presession(request, csrf)
    limiter = request.app.state.limiter
    bucket = password_bucket(request, username)
    limiter.check(bucket)
    store = request.app.state.gate.store
    try:
        token, expires = login(store, username, password)
    except NotAuthenticated:
        limiter.failed(bucket)
        fresh = new_presession()
        response: Response = page(
            request,
            "signin.html",
            None,
            status_code=401,
            next=safe_next(next),
            signin_token=fresh,
            error="Unknown username or wrong password.",
            username=username,
        )
        _set_presession(request, response, fresh)
        return response
    setattr(request.state, SIGNED_IN, True)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int((expires - dt.datetime.now(dt.UTC)).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    response.delete_cookie(PRESESSION_COOKIE, httponly=True, samesite="strict")
    return response


@site.post("/signout")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    check_csrf(request, csrf)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        logout(request.app.state.gate.store, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=is_https(request)
    )
    return response


def mount(app: FastAPI) -> None:
    """Add the pages, their static files and their error handling to the app."""
    from . import admin, digest, objects, portfolio

    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    app.include_router(site)
    app.include_router(portfolio.router)
    app.include_router(objects.router)
    app.include_router(admin.router)
    app.include_router(digest.router)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """An error on a page, as a page."""
    return page(request, "error.html", None, status_code=status, title=title, message=message)


async def _to_sign_in(request: Request, exc: Exception) -> Response:
    next_url = exc.next_url if isinstance(exc, SignInRequired) else "/"
    return RedirectResponse(sign_in_url(next_url), status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return error_page(request, 403, "Form refused", str(exc))


def _set_presession(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        PRESESSION_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
