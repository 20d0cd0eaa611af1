"""Authentication: an API key (`Authorization: Bearer ...` or `X-API-Key`) or a login session
cookie becomes the Principal of the request; a request carrying two different credentials is
refused. Failed attempts are counted per client address and credential (the username of a
password, the key id of a key), so one client cannot lock others out.

Who the client is: the connection's peer, unless the peer is a proxy named in
MATCHER_TRUSTED_PROXIES, whose X-Forwarded-For and X-Forwarded-Proto are then believed
(`ForwardedHeaders`). The limiter, the session cookie's `Secure` flag and uvicorn's access log
all read the address and scheme that this middleware leaves in the request."""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from matcher import (
    ConfigError,
    MatcherError,
    NotAuthenticated,
    Principal,
    Store,
    authenticate,
    session_principal,
)
from matcher.access import split_key

log = logging.getLogger(__name__)

SESSION_COOKIE = "matcher_session"
SIGNED_IN = "signed_in"
"""Set in the request's state once its credentials were accepted: its response is not stored
(`Cache-Control: no-store`)."""
UNVERIFIED = "unverified"
"""The client address of a request whose peer the server in front took from X-Forwarded-For
without MATCHER_TRUSTED_PROXIES naming it (uvicorn does so for loopback unless told not to):
the real address is unknown, so all such requests count as one address."""

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cgtm_...`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session set by POST /auth/login."
)


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many failed sign-ins with these credentials from this address; try again in "
            f"{retry_after} s."
        )


class ConflictingCredentials(MatcherError):
    """A request carrying two different credentials (two keys, a key and a session)."""


# ---------------------------------------------------------------------- who the client is


class TrustedProxies:
    """The addresses and networks named in MATCHER_TRUSTED_PROXIES."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ConfigError(
                    f"MATCHER_TRUSTED_PROXIES names {entry!r}, which is not an IP address or "
                    "network: give the proxies' addresses, e.g. 127.0.0.1 or 10.0.0.0/8"
                ) from None

    def __contains__(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _host(hop: str) -> str:
    """The address of one X-Forwarded-For entry, without a port (as uvicorn reads it)."""
    hop = hop.strip()
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":")[0]
    return hop


class ForwardedHeaders:
    """ASGI middleware: sets the request's client address and scheme from X-Forwarded-For and
    X-Forwarded-Proto when, and only when, the connection comes from a trusted proxy. The client
    is then the last address that is not a trusted proxy, so what a client writes in front of
    its own address is ignored. Run it outermost: it changes the scope in place, as uvicorn's
    own proxy middleware does, so uvicorn's access log shows the same address.

    From any other peer the headers are the client's own words. If the server in front has
    already taken the peer from them (uvicorn trusts loopback by default; `matcher serve` turns
    that off), the address is UNVERIFIED and a scheme of https is not believed."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            self.resolve(scope)
        await self.app(scope, receive, send)

    def resolve(self, scope: Scope) -> None:
        forwarded: list[str] = []
        proto: str | None = None
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                forwarded += [_host(h) for h in value.decode("latin-1").split(",") if h.strip()]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        if not forwarded and proto is None:
            return
        peer = scope.get("client")
        host = str(peer[0]) if peer else None
        if host is not None and host in forwarded:
            scope["client"] = (UNVERIFIED, 0)
            if scope.get("scheme") == "https":
                scope["scheme"] = "http"
            self._warn()
        elif host is not None and host in self.trusted:
            if forwarded:
                untrusted = [h for h in forwarded if h not in self.trusted]
                scope["client"] = (untrusted[-1] if untrusted else forwarded[0], 0)
            if proto in ("http", "https") and scope["type"] == "http":
                scope["scheme"] = proto
        elif proto is not None and scope.get("scheme") == "https":
            scope["scheme"] = "http"  # possibly the server's reading of the client's header

    def _warn(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "The server took a client address from X-Forwarded-For, but "
                "MATCHER_TRUSTED_PROXIES does not name the proxy: such requests count as one "
                "address. Run uvicorn with --no-proxy-headers (as `matcher serve` does), or set "
                "MATCHER_TRUSTED_PROXIES."
            )


def client_of(request: Request) -> str:
    """The client's address, as ForwardedHeaders left it."""
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """Whether the client reached us over HTTPS (directly, or as a trusted proxy says)."""
    return request.url.scheme == "https"


# ---------------------------------------------------------------------- failures


Bucket = tuple[str, str, str]
"""(client address, kind of credential, which one): what failures are counted against."""


class FailureLimiter:
    """At most `limit` failed authentications per bucket in a sliding `window`, counted in the
    store, so that every server process behind a load balancer counts the same failures."""

    def __init__(self, store: Store, limit: int, window: float = 60.0) -> None:
        self.store = store
        self.limit = limit
        self.window = window

    def check(self, bucket: Bucket) -> None:
        """Raises TooManyFailures while the bucket is over the limit."""
        wait = self.store.wait_for(_name(bucket), self.limit, self.window, time.time())
        if wait is not None:
            raise TooManyFailures(int(wait) + 1)

    def failed(self, bucket: Bucket) -> None:
        self.store.count_hit(_name(bucket), self.window, time.time())


def _name(bucket: Bucket) -> str:
    return "failed\x1f" + "\x1f".join(bucket)


def password_bucket(request: Request, username: str) -> Bucket:
    return (client_of(request), "password", username)


def _key_bucket(request: Request, key: str) -> Bucket:
    try:
        key_id = split_key(key)[0]
    except NotAuthenticated:
        key_id = "malformed"
    return (client_of(request), "key", key_id)


# ---------------------------------------------------------------------- the principal


def _credential(request: Request) -> tuple[str, str] | None:
    """The one credential a request carries, as (kind, value), or None. Raises
    ConflictingCredentials when it carries two different ones. An Authorization header of
    another scheme than Bearer is none of ours (a proxy's Basic sign-in may pass it on)."""
    found: set[tuple[str, str]] = set()
    for value in request.headers.getlist("x-api-key"):
        if value.strip():
            found.add(("key", value.strip()))
    for value in request.headers.getlist("authorization"):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found.add(("key", token.strip()))
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        found.add(("session", session))
    if len(found) > 1:
        raise ConflictingCredentials(
            "The request carries more than one credential (an API key in X-API-Key, an "
            "Authorization header, a session cookie): send exactly one."
        )
    return found.pop() if found else None


def _principal(request: Request) -> Principal | None:
    """The principal behind the request's one credential, None without one. Raises
    ConflictingCredentials (400), NotAuthenticated (401) or TooManyFailures (429)."""
    credential = _credential(request)
    if credential is None:
        return None
    kind, value = credential
    store: Store = request.app.state.gate.store
    check: Callable[[], Principal]
    if kind == "key":
        check = functools.partial(authenticate, store, value)
        bucket = _key_bucket(request, value)
    else:
        check = functools.partial(session_principal, store, value)
        bucket = (client_of(request), "session", "")
    limiter: FailureLimiter = request.app.state.limiter
    try:
        principal = check()
    except NotAuthenticated:
        # Checked after the credential, not before: keys and session tokens are 256-bit
        # random, so the limit only slows a flood, and a valid one is never refused.
        limiter.check(bucket)
        limiter.failed(bucket)
        raise
    setattr(request.state, SIGNED_IN, True)
    return principal


def get_principal(
    request: Request,
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
    session: Annotated[str | None, Depends(session_cookie)],
) -> Principal:
    """The principal behind the request's credentials. Raises NotAuthenticated (401),
    ConflictingCredentials (400) or TooManyFailures (429).

    The three security parameters document the ways to sign in (OpenAPI, /docs); the
    credentials are read by `_credential`, which sees every copy of each header."""
    principal = _principal(request)
    if principal is None:
        raise NotAuthenticated(
            "Sign in: send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`, "
            "or log in at POST /auth/login."
        )
    return principal


def optional_principal(
    request: Request,
    bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
    session: Annotated[str | None, Depends(session_cookie)],
) -> Principal | None:
    """As get_principal, but None for a request without credentials (an anonymous caller)."""
    return _principal(request)


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]
