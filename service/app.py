"""The FastAPI application factory."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher import (
    Embedder,
    Gate,
    MatcherError,
    Recommender,
    Settings,
    __version__,
    rebuild_from_cache,
)

from . import errors, web
from .api import admin, api, auth, operations, workflow
from .auth import SIGNED_IN, FailureLimiter, ForwardedHeaders, TrustedProxies
from .deps import refuse_duplicate_keys, refuse_unknown_query
from .limits import RequestLimiter
from .wiring import open_recommender, open_store, serve_fresh_indexes, settle

log = logging.getLogger(__name__)


def create_app(settings: Settings, embedder: Embedder | None = None) -> FastAPI:
    """The HTTP API over the store and indexes named in the settings.

    The recommender is built once, when the app starts; a missing or stale index stops the start
    with the command that fixes it. `embedder` shares a model that is already loaded."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        try:
            app.state.settings = settings
            store.serve()  # an upgrade of the schema from elsewhere is refused meanwhile
            app.state.limiter = FailureLimiter(store, settings.auth_failures)
            _redact_access_log()
            generation = store.generation()
            # The gate holds the only reference to the recommender, so that a reload frees the
            # indexes it replaces.
            gate = Gate(store, open_recommender(settings, store, embedder))
            app.state.gate = gate
            # Load the model now, so that the first request does not wait for it.
            gate.recommender.encoder.embedder.embed(["warm up"])
            settle()
            # An index built with --no-sentences serves at once; the sentences that reasons
            # quote are embedded meanwhile, in small batches.
            stop = threading.Event()
            warming = threading.Thread(
                target=gate.recommender.warm_sentences, args=(stop.is_set,), daemon=True
            )
            warming.start()
            watching = threading.Thread(
                target=_follow, args=(gate, settings, generation, stop), daemon=True
            )
            watching.start()
            log.info("serving %s", gate.recommender.counts())
            yield
            stop.set()
            warming.join(timeout=30)
            watching.join(timeout=30)
        finally:
            store.close()

    app = FastAPI(
        title="CGT hub matcher",
        version=__version__,
        description=(
            "Partners and funding calls for the hub's cell and gene therapy projects, and the "
            "projects to pitch to a partner or a call, each match with its reasons."
        ),
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query), Depends(refuse_duplicate_keys)],
        responses=errors.responses(422),
        openapi_url=OPENAPI,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(NoStore)
    # Outermost, so that everything inside, and uvicorn's access log, see one client address.
    app.add_middleware(ForwardedHeaders, trusted=TrustedProxies(settings.trusted_proxies))
    app.state.expensive = RequestLimiter(settings.expensive_per_minute)
    app.include_router(operations)
    # Every route behind a credential refuses two different ones (400).
    app.include_router(auth, responses=errors.responses(400))
    app.include_router(api, responses=errors.responses(400))
    app.include_router(admin, responses=errors.responses(400))
    app.include_router(workflow, responses=errors.responses(400))
    web.mount(app)
    _serve_docs(app)
    return app


class NoStore:
    """ASGI middleware: `Cache-Control: no-store` on every response to a signed-in request
    (auth.py marks it), errors included, so that no cache keeps project data."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get(SIGNED_IN):
                MutableHeaders(scope=message)["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, sending)


KEY_SHAPED = re.compile(r"(cgtm(?:_|%5[fF])[0-9a-fA-F]{12}(?:_|%5[fF]))[A-Za-z0-9_\-%.~+/=]+")
"""An API key (`cgtm_<key id>_<secret>`), percent-encoded or not: its secret is redacted."""


class RedactKeys(logging.Filter):
    """Redacts the secret of anything shaped like an API key in a log record (a key sent in a
    query string is refused, and would otherwise reach uvicorn's access log); the key id stays,
    so that the key can be revoked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _redact(text: str) -> str:
    return KEY_SHAPED.sub(r"\1[redacted]", text)


def _redact_access_log() -> None:
    """Install RedactKeys on uvicorn's access logger, once per process, whoever runs uvicorn."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactKeys) for f in access.filters):
        access.addFilter(RedactKeys())


OPENAPI = "/openapi.json"
DOCS_ASSETS = "/static/docs"
"""Where the app serves the scripts, styles and icon of /docs and /redoc, from the package
fastapi-offline (Swagger UI 5 and ReDoc 2): the pages load nothing from another host."""


def _serve_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc, as FastAPI's own pages, with their assets served here."""
    app.mount(
        DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets"
    )

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + OPENAPI,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=root + "/docs/oauth2-redirect",
            # No badge that sends the schema to the public validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + OPENAPI,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/docs/oauth2-redirect", swagger_ui_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _follow(gate: Gate, settings: Settings, generation: int, stop: threading.Event) -> None:
    """Serve from fresh indexes once the data version moves on (a load and build, an erasure,
    in this or another process, on this host or another). The indexes come from the models
    folder when a build there matches the store, else are rebuilt from the store's embedding
    cache; the old ones serve until the new ones are ready. Until then every answer is still
    filtered through the store, so an erased or hidden object never appears, whatever the
    loaded indexes hold. The bound on staleness: MATCHER_FOLLOW_SECONDS plus the time to reload."""
    while not stop.wait(settings.follow_seconds):
        current = gate.store.generation()
        if current == generation:
            continue
        encoder = gate.recommender.encoder
        embedder = encoder.embedder
        try:
            Recommender.check(gate.store, settings.models_dir, embedder.name)
        except MatcherError:
            try:
                rebuilt = rebuild_from_cache(gate.store, encoder, settings.models_dir)
            except MatcherError as error:
                log.warning("indexes not rebuilt from the embedding cache: %s", error)
                continue
            if not rebuilt:
                continue  # some text not embedded yet (`matcher build`): look again next tick
        try:
            serve_fresh_indexes(gate, settings, embedder)
        except MatcherError as error:  # changed again meanwhile: the next tick sees it
            log.warning("indexes not reloaded: %s", error)
            continue
        log.info("reloaded the indexes: %s", gate.recommender.counts())
        generation = current
