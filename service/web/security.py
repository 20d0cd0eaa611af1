"""Who a page is for, and CSRF protection for every form.

Pages are signed in with the session cookie of POST /auth/login (HttpOnly, SameSite=Strict).
Every form carries a token derived from that session (HMAC of the session token): a page of
another site can neither read the cookie nor compute the token, and no server secret is needed,
so every server process checks every other's tokens. The sign-in form, before any session,
uses a random double-submit cookie instead."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request

from matcher import NotAuthenticated, Principal, View, session_principal

from ..auth import SESSION_COOKIE, SIGNED_IN

PRESESSION_COOKIE = "matcher_signin"
"""The sign-in form's double-submit cookie."""


class SignInRequired(Exception):
    """A page asked for without a valid session: answered by a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A form posted without the token of the session (or of the sign-in page): 403."""


def page_principal(request: Request) -> Principal:
    """The principal of the browser's session. Raises SignInRequired."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            principal = session_principal(request.app.state.gate.store, token)
        except NotAuthenticated:
            pass
        else:
            setattr(request.state, SIGNED_IN, True)  # the page is sent `Cache-Control: no-store`
            return principal
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # a form posted after the session ended: back to the start
        target = "/"
    raise SignInRequired(target)


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def page_view(request: Request, principal: PagePrincipal) -> View:
    view: View = request.app.state.gate.view(principal)
    return view


PageView = Annotated[View, Depends(page_view)]


def csrf_token(request: Request) -> str:
    """The token every form of this session carries; empty without a session."""
    session = request.cookies.get(SESSION_COOKIE)
    return _token(session) if session else ""


def check_csrf(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> None:
    """A dependency of every form post. Raises CsrfRefused."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session or not hmac.compare_digest(csrf, _token(session)):
        raise CsrfRefused("The form's security token is missing or stale: reload the page.")


def new_presession() -> str:
    return secrets.token_urlsafe(32)


def check_presession(request: Request, csrf: str) -> None:
    """The sign-in form: its hidden token must equal its double-submit cookie. Raises
    CsrfRefused."""
    cookie = request.cookies.get(PRESESSION_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        raise CsrfRefused("The sign-in form has expired: reload the page and sign in again.")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in_url(next_url: str) -> str:
    return f"/signin?next={quote(next_url, safe='/')}"


def _token(session: str) -> str:
    return hmac.new(session.encode(), b"matcher-csrf", hashlib.sha256).hexdigest()
