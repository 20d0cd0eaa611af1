"""Builds the library's components from settings: shared by the HTTP app and the CLI."""

from __future__ import annotations

import gc

from matcher import (
    DocumentEncoder,
    Embedder,
    EntityKind,
    Gate,
    Recommender,
    SentenceTransformerEmbedder,
    Settings,
    Store,
)

# Not re-exported from `matcher` yet: its __init__ is being reworked in another change.
from matcher.ranking.crosslingual import CrossLingual
from matcher.vectors.multilingual import multilingual_embedders


def open_store(settings: Settings) -> Store:
    return Store(settings.database)


def make_encoder(
    settings: Settings, store: Store, embedder: Embedder | None = None
) -> DocumentEncoder:
    """An encoder over the configured model; pass `embedder` to share one already loaded."""
    if embedder is None:
        embedder = SentenceTransformerEmbedder(
            settings.model, device=settings.device, batch_size=settings.batch_size
        )
    return DocumentEncoder(embedder, store)


def make_multilingual(settings: Settings, store: Store) -> CrossLingual | None:
    """The cross-language matcher when MATCHER_MULTILINGUAL names a model; None when it is off.
    Loads nothing yet (the model loads on the first text not in English)."""
    if not settings.multilingual:
        return None
    queries, passages = multilingual_embedders(settings.multilingual)
    return CrossLingual(DocumentEncoder(queries), DocumentEncoder(passages, store))


def warm_multilingual(settings: Settings, store: Store) -> tuple[str, int] | None:
    """Embed every stored document with the multilingual model where not cached yet (for
    `matcher build`): the model's name and how many chunks were embedded; None when off."""
    multilingual = make_multilingual(settings, store)
    if multilingual is None:
        return None
    texts = [d.text for kind in EntityKind for d in store.documents(kind)]
    return multilingual.name, multilingual.warm(texts)


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
        multilingual=make_multilingual(settings, store),
    )


def serve_fresh_indexes(gate: Gate, settings: Settings, embedder: Embedder | None = None) -> None:
    """The one way a running server swaps in new indexes (after a build in another process, or
    an admin's re-index): open them for the store, hand them to the gate (which holds the only
    reference, so the old ones can be freed), and settle them out of the collector's full
    passes. Raises IndexNotBuilt or StaleIndex, leaving the current indexes in place."""
    if embedder is None:
        embedder = gate.recommender.encoder.embedder
    gate.recommender = open_recommender(settings, gate.store, embedder)
    settle()


def settle() -> None:
    """Keep the loaded indexes out of the garbage collector's full passes: they are hundreds of
    thousands of long-lived objects (at 20,000 organisations a full pass over them took up to
    580 ms, in the middle of some request). Objects from before a reload are unfrozen first,
    so the old indexes can still be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
