"""Importers of real sources, one module per source: EU Funding & Tenders topics (`eu_ft`),
CORDIS projects and participants (`cordis`), ClinicalTrials.gov studies (`ctgov`). Each module's
`read` yields items (or a problem per bad record); `import_source` stores them."""

from __future__ import annotations

import importlib
from collections.abc import Collection
from pathlib import Path
from typing import cast

from ..errors import InvalidQuery
from ..store import Store
from .common import ImportReport, Outcome, Progress, Source, SourceItem, clean_text, import_items

SOURCES = {
    "eu-ft": "EU Funding & Tenders topics (JSON lines, optionally gzipped)",
    "cordis": "CORDIS project and organization tables (';'-separated CSV or JSON)",
    "ctgov": "ClinicalTrials.gov studies (API v2 JSON: one study per file, or JSON lines)",
}
_MODULES = {"eu-ft": "eu_ft", "cordis": "cordis", "ctgov": "ctgov"}
SNAPSHOTS = {"eu-ft": True, "cordis": True, "ctgov": False}
"""Whether a source's file is usually the whole source (an export of every open topic, the
full CORDIS tables) or a part of it (some ClinicalTrials.gov studies)."""


def source(name: str) -> Source:
    """The module that reads this source. Raises InvalidQuery naming the known sources."""
    if name not in _MODULES:
        known = ", ".join(SOURCES)
        raise InvalidQuery(f"No source named {name!r}: the sources are {known}.")
    return cast(Source, importlib.import_module(f"{__name__}.{_MODULES[name]}"))


def import_source(
    store: Store,
    name: str,
    path: Path,
    *,
    strict: bool = False,
    progress: Progress | None = None,
    erased: Collection[str] = frozenset(),
    snapshot: bool | None = None,
) -> ImportReport:
    """Read a source's file and store what it holds (see `import_items`); `snapshot` defaults
    to what the source's files usually are (SNAPSHOTS)."""
    reader = source(name)
    return import_items(
        store,
        name,
        path,
        reader.read(Path(path), progress),
        strict=strict,
        erased=erased,
        snapshot=SNAPSHOTS[name] if snapshot is None else snapshot,
    )


__all__ = [
    "SNAPSHOTS",
    "SOURCES",
    "ImportReport",
    "Outcome",
    "Progress",
    "Source",
    "SourceItem",
    "clean_text",
    "import_items",
    "import_source",
    "source",
]
