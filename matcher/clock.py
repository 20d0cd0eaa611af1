"""The one timestamp codec: every moment the product stores or compares is UTC, written as
`2026-12-01T09:30:00.123456Z` (fixed width, so that text order is time order)."""

from __future__ import annotations

import datetime as dt

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> dt.datetime:
    """The current moment, in UTC."""
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """The moment as stored text. A naive moment is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime(FORMAT)


def parse(text: str) -> dt.datetime:
    """A stored moment (or any ISO 8601 moment: `Z`, an offset, or naive UTC) as an aware UTC
    datetime. Raises ValueError."""
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
