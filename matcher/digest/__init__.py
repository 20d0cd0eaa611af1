"""The weekly digest: what is new and what is due, for each reader (`compose`), as plain data
(`model`). Only the data is imported here: the store keeps it, and `compose` needs the store."""

from .model import (
    HORIZON_DAYS,
    STALE_DAYS,
    Digest,
    Fit,
    Item,
    Recipient,
    Section,
    SectionKey,
    SendRecord,
    SendState,
    Subscription,
    Threshold,
    Week,
    item_key,
    sections_for,
)

__all__ = [
    "HORIZON_DAYS",
    "STALE_DAYS",
    "Digest",
    "Fit",
    "Item",
    "Recipient",
    "Section",
    "SectionKey",
    "SendRecord",
    "SendState",
    "Subscription",
    "Threshold",
    "Week",
    "item_key",
    "sections_for",
]
