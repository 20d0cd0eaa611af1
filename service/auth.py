"""Authentication: an API key (`Authorization: Bearer ...` or `X-API-Key`) or a login session
cookie becomes the Principal of the request. Failed attempts are counted per client address, and
an address that fails too often is refused for a while (429) before its credentials are checked."""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from matcher import NotAuthenticated, Principal, Store, authenticate, session_principal

SESSION_COOKIE = "matcher_session"

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cgtm_...`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session set by POST /auth/login."
)


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many failed sign-ins from this address; try again in {retry_after} s."
        )


class FailureLimiter:
    """At most `limit` failed authentications per client address in a sliding `window`."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raises TooManyFailures while the client is over the limit."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) >= self.limit:
                raise TooManyFailures(int(failures[0] + self.window - now) + 1)
            if not failures:
                del self._failures[client]

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()  # bounded memory under a spray of addresses
            self._failures.setdefault(client, deque()).append(time.monotonic())


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def get_principal(
    request: Request,
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
    session: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The principal behind the request's credentials. Raises NotAuthenticated (401) or
    TooManyFailures (429)."""
    key = header_key or (bearer_key.credentials if bearer_key else None)
    store: Store = request.app.state.gate.store
    check: Callable[[], Principal]
    if key is not None:
        check = functools.partial(authenticate, store, key)
    elif session is not None:
        check = functools.partial(session_principal, store, session)
    else:
        raise NotAuthenticated(
            "Sign in: send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`, "
            "or log in at POST /auth/login."
        )
    limiter: FailureLimiter = request.app.state.limiter
    client = client_of(request)
    limiter.check(client)
    try:
        return check()
    except NotAuthenticated:
        limiter.failed(client)
        raise
