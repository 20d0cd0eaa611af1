"""Builds the library's components from settings: shared by the HTTP app and the CLI."""

from __future__ import annotations

from matcher import (
    DocumentEncoder,
    Embedder,
    Recommender,
    SentenceTransformerEmbedder,
    Settings,
    Store,
)


def open_store(settings: Settings) -> Store:
    return Store(settings.db_path)


def make_encoder(
    settings: Settings, store: Store, embedder: Embedder | None = None
) -> DocumentEncoder:
    """An encoder over the configured model; pass `embedder` to share one already loaded."""
    if embedder is None:
        embedder = SentenceTransformerEmbedder(
            settings.model, device=settings.device, batch_size=settings.batch_size
        )
    return DocumentEncoder(embedder, store)


def open_recommender(
    settings: Settings, store: Store, embedder: Embedder | None = None, *, lazy: bool = False
) -> Recommender:
    """Load the indexes for the store; raises IndexNotBuilt or StaleIndex with what to run.
    `lazy` (one-off commands) builds each kind's in-memory indexes only when a query needs it."""
    return Recommender.open(
        store,
        make_encoder(settings, store, embedder),
        settings.models_dir,
        hub_country=settings.hub_country,
        today=settings.current_date,
        lazy=lazy,
    )
