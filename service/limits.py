"""Expensive requests (a pasted text to embed, the CSV export) limited per caller.

Each API key may make `MATCHER_EXPENSIVE_PER_MINUTE` of them in any sliding minute; a user
signed in with a session has one budget for all their sessions, so signing in again does not
reset it. The requests are counted in the database, so every server process spends from the same
budget. Over the limit the request is refused with 429 and `Retry-After`. Failed sign-ins are
limited per address elsewhere (auth.py); this limit counts authenticated callers only."""

from __future__ import annotations

import contextlib
import time

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException

from matcher import NotAuthenticated, Principal, Store
from matcher.access import split_key

from .deps import PrincipalDep


class TooManyRequests(HTTPException):
    """429 with `Retry-After`: answered through the app's one error table (status 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"Too many pasted-text searches and exports with this key in a minute; try again in "
            f"{retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class RequestLimiter:
    """At most `limit` requests per caller in a sliding `window` of seconds, counted in the
    store: every server process spends from the same budget."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window

    def spend(self, store: Store, caller: str) -> None:
        """Count one request of this caller. Raises TooManyRequests when over the limit (the
        refused request is not counted)."""
        wait = store.take(f"expensive\x1f{caller}", self.limit, self.window, time.time())
        if wait is not None:
            raise TooManyRequests(int(wait) + 1)


def caller_of(request: Request, principal: Principal) -> str:
    """Whom a request is counted against: the API key it authenticated with (its key id, read
    as auth.py reads the key: `X-API-Key` first, then `Authorization: Bearer`), else the user of
    its session."""
    scheme, bearer = get_authorization_scheme_param(request.headers.get("Authorization"))
    key = request.headers.get("X-API-Key") or (bearer if scheme.lower() == "bearer" else None)
    # A malformed key is not the credential that authenticated the request: count the user.
    with contextlib.suppress(NotAuthenticated):
        if key:
            return f"key:{split_key(key)[0]}"
    return f"user:{principal.user}"


def limit_expensive(request: Request, principal: PrincipalDep) -> None:
    """A dependency of the expensive routes: counts the request against its caller. Raises
    TooManyRequests (429)."""
    limiter: RequestLimiter = request.app.state.expensive
    limiter.spend(request.app.state.gate.store, caller_of(request, principal))


EXPENSIVE = Depends(limit_expensive)
"""For the `dependencies` of an expensive route."""
