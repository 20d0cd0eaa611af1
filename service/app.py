"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from matcher import Embedder, Settings, __version__

from . import errors
from .routes import api, operations
from .wiring import open_recommender, open_store

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
            recommender = open_recommender(settings, store, embedder)
            app.state.recommender = recommender
            # Load the model now, so that the first request does not wait for it.
            recommender.encoder.embedder.embed(["warm up"])
            # An index built with --no-sentences serves at once; the sentences that reasons
            # quote are embedded meanwhile, in small batches.
            stop = threading.Event()
            warming = threading.Thread(
                target=recommender.warm_sentences, args=(stop.is_set,), daemon=True
            )
            warming.start()
            log.info("serving %s", recommender.counts())
            yield
            stop.set()
            warming.join(timeout=30)
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
    )
    errors.install(app)
    app.include_router(operations)
    app.include_router(api)
    return app
