"""Exceptions mapped to HTTP responses in one place; every error has the same JSON shape:

{"error": {"status": 404, "code": "not_found", "message": "...", "details": []}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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

from .auth import TooManyFailures

log = logging.getLogger(__name__)

STATUS: dict[type[MatcherError], tuple[int, str]] = {
    NotAuthenticated: (401, "unauthorized"),
    PermissionDenied: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    InvalidQuery: (422, "invalid_query"),
    InvalidRecord: (422, "invalid_record"),
    IndexNotBuilt: (503, "index_not_built"),
    StaleIndex: (503, "stale_index"),
    ModelLoadError: (503, "model_unavailable"),
    StoreError: (503, "store_unavailable"),
    ConfigError: (500, "bad_configuration"),
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_body(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message, "details": details or []}}


def _response(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, details), status_code=status)


MAX_BODY = 256 * 1024
"""The largest request body accepted, in bytes (a pasted abstract is at most 20,000 characters)."""


async def _matcher_error(request: Request, exc: Exception) -> JSONResponse:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            status, code = STATUS[kind]
            response = _response(status, code, str(exc))
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
    return _response(500, "internal_error", "The matcher failed unexpectedly.")


async def _too_many(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyFailures)
    response = _response(429, "too_many_requests", str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:3])
    return _response(422, "invalid_request", f"The request is not valid: {summary}", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = _response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _response(500, "internal_error", "Something went wrong on our side; it has been logged.")


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
            413,
            "payload_too_large",
            f"The request body is larger than {self.limit // 1024} KiB; send a shorter text.",
        )
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)
    app.add_exception_handler(TooManyFailures, _too_many)
    app.add_exception_handler(MatcherError, _matcher_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
