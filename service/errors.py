"""Errors mapped to HTTP responses in one place; every error has the same JSON shape:

{"error": {"status": 404, "code": "not_found", "message": "...", "details": []}}

FAILURES is the one table: each exception the app can meet (the library's, the service's, and
the HTTP statuses that Starlette and FastAPI raise) with its status, its code and what it means.
The handlers answer from it, and `responses()` documents the routes' errors in OpenAPI from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher import (
    ConfigError,
    Conflict,
    IndexNotBuilt,
    InvalidQuery,
    InvalidRecord,
    MatcherError,
    ModelLoadError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    StaleIndex,
    StoreError,
)

from .auth import ConflictingCredentials, TooManyFailures


class ErrorDetail(BaseModel):
    status: int
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No project with id 'P-999'."])
    details: list[Any] = []


class ErrorOut(BaseModel):
    error: ErrorDetail


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """What an error answers: its HTTP status, a stable code, and what it means."""

    status: int
    code: str
    description: str


MAX_BODY = 256 * 1024
"""The largest request body accepted, in bytes (a pasted abstract is at most 20,000 characters)."""

FAILURES: dict[type[Exception] | int, Failure] = {
    # The service's own.
    RequestValidationError: Failure(
        422,
        "invalid_request",
        "The request is not valid: a parameter, an unknown query parameter, or the body.",
    ),
    TooManyFailures: Failure(
        429,
        "too_many_requests",
        "Too many failed sign-ins with these credentials from this address; see Retry-After.",
    ),
    ConflictingCredentials: Failure(
        400,
        "conflicting_credentials",
        "The request carries two different credentials (two keys, a key and a session).",
    ),
    # The library's errors; a subclass answers as its nearest listed ancestor.
    NotAuthenticated: Failure(
        401,
        "unauthorized",
        "No credentials, or a key that is malformed, unknown, revoked or expired.",
    ),
    PermissionDenied: Failure(403, "forbidden", "The caller's role may not do this."),
    NotFound: Failure(404, "not_found", "No object with this id that the caller may see."),
    Conflict: Failure(409, "conflict", "The object exists already."),
    InvalidQuery: Failure(422, "invalid_query", "The query cannot be answered as asked."),
    InvalidRecord: Failure(
        422, "invalid_record", "A record is not valid; the message names the field."
    ),
    IndexNotBuilt: Failure(503, "index_not_built", "No index has been built yet."),
    StaleIndex: Failure(
        503, "stale_index", "The indexes do not match the stored objects or the model."
    ),
    ModelLoadError: Failure(503, "model_unavailable", "The embedding model cannot be loaded."),
    StoreError: Failure(503, "store_unavailable", "The database cannot be used."),
    ConfigError: Failure(500, "bad_configuration", "A server setting has an unusable value."),
    MatcherError: Failure(500, "internal_error", "The matcher failed unexpectedly."),
    # HTTP statuses that Starlette and FastAPI raise themselves (as HTTPException).
    400: Failure(400, "bad_request", "The body cannot be read: not JSON, or not UTF-8."),
    404: Failure(404, "not_found", "No route has this path."),
    405: Failure(405, "method_not_allowed", "The route does not take this method."),
    413: Failure(413, "payload_too_large", f"The request body is over {MAX_BODY // 1024} KiB."),
    415: Failure(415, "unsupported_media_type", "The body is not JSON (application/json)."),
    422: Failure(422, "invalid_request", "The request is not valid."),
    429: Failure(
        429,
        "rate_limited",
        "Too many pasted-text searches and exports with this key (or this user's sessions) in "
        "a minute (MATCHER_EXPENSIVE_PER_MINUTE); see Retry-After.",
    ),
    # Anything else.
    Exception: Failure(
        500, "internal_error", "Something went wrong on our side; it has been logged."
    ),
}
UNEXPECTED = (FAILURES[MatcherError], FAILURES[Exception])
"""Answered with their description only, never the exception's text, and logged."""


def failure_of(error: Exception) -> Failure:
    """The table's entry for an exception: by its status for an HTTPException, else by the
    nearest class in its ancestry that the table lists."""
    if isinstance(error, StarletteHTTPException):
        found = FAILURES.get(error.status_code)
        return found or Failure(error.status_code, "http_error", str(error.detail))
    for kind in type(error).__mro__:
        if kind in FAILURES:
            return FAILURES[kind]
    return FAILURES[Exception]


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that can answer these error statuses: the error shape,
    and each code the status can carry with what it means, from FAILURES."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes: dict[str, str] = {}
        for failure in FAILURES.values():
            if failure.status == status:
                codes.setdefault(failure.code, failure.description)
        if not codes:
            raise ValueError(f"No error in FAILURES answers {status}.")
        description = "\n".join(f"- `{code}`: {text}" for code, text in codes.items())
        documented[status] = {"model": ErrorOut, "description": description}
    return documented


def error_body(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "details": details or []}}


def _response(failure: Failure, message: str, details: list[Any] | None = None) -> JSONResponse:
    body = error_body(failure.status, failure.code, message, details)
    return JSONResponse(body, status_code=failure.status)


async def _answer(request: Request, exc: Exception) -> Response:
    """The one handler: the status and code from FAILURES, the message and headers by kind.
    On a web page the same failure is shown as a page."""
    failure = failure_of(exc)
    if "pages" in getattr(request.scope.get("route"), "tags", ()):
        return _page(request, failure, exc)
    if isinstance(exc, RequestValidationError):
        details = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:3])
        return _response(failure, f"The request is not valid: {summary}", details)
    if isinstance(exc, StarletteHTTPException):
        response = _response(failure, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    if isinstance(exc, TooManyFailures):
        response = _response(failure, str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, MatcherError) and failure not in UNEXPECTED:
        response = _response(failure, str(exc))
        if failure.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _response(failure, failure.description)


def _page(request: Request, failure: Failure, exc: Exception) -> Response:
    from .web.routes import error_page

    if failure in UNEXPECTED or not isinstance(exc, MatcherError | StarletteHTTPException):
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        message = failure.description
    elif isinstance(exc, StarletteHTTPException):
        message = str(exc.detail)
    else:
        message = str(exc)
    if isinstance(exc, RequestValidationError):
        message = "The form or address is not valid: " + "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:3]
        )
    title = {403: "Not allowed", 404: "Not found", 429: "Too many requests"}.get(
        failure.status, "Something went wrong" if failure.status >= 500 else "Cannot do that"
    )
    response = error_page(request, failure.status, title, message)
    if isinstance(exc, TooManyFailures):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


class BodyLimit:
    """Refuses request bodies over MAX_BODY bytes with 413, whether or not they declare their
    length, before anything reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No declared length (a chunked body): read it here, up to the limit, then replay it.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _response(
            FAILURES[413],
            f"The request body is larger than {self.limit // 1024} KiB; send a shorter text.",
        )
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)
    for kind in (TooManyFailures, MatcherError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(kind, _answer)
    app.add_exception_handler(Exception, _answer)
