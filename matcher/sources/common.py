"""What every importer shares: the items a source yields, the report of a run, and cleaning of
the text real exports carry (HTML, broken encodings)."""

from __future__ import annotations

import html
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ftfy

from ..domain import Entity
from ..errors import InvalidRecord, InvalidRecords
from ..store import Store

Progress = Callable[[int], None]
"""Called with the number of records read so far, now and then on long files."""


@dataclass(frozen=True)
class SourceItem:
    """One entity a source gives, and where it came from."""

    entity: Entity
    source_id: str
    """The source's own id (a topic id, a PIC, an NCT number): what makes a re-import idempotent."""
    record: str
    """Where in the file: 'line 12', 'study NCT01234567'."""
    notes: tuple[str, ...] = ()
    """What the importer derived and from what (e.g. an eligibility rule and its sentence)."""


class Source(Protocol):
    """A source's module: `read` yields an item or an InvalidRecord (naming the file, the
    record and the field) per record, never half a record."""

    NAME: str

    def read(
        self, path: Path, progress: Progress | None = None
    ) -> Iterator[SourceItem | InvalidRecord]: ...


@dataclass(frozen=True)
class Outcome:
    source_id: str
    entity_id: str
    action: str
    """added, updated, unchanged, skipped, invalid, or absent (gone from the source)."""
    record: str = ""
    reason: str = ""
    notes: tuple[str, ...] = ()


@dataclass
class ImportReport:
    source: str
    path: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    committed: bool = True

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.action for o in self.outcomes)

    @property
    def records_per_second(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "committed": self.committed,
            "seconds": round(self.seconds, 3),
            "counts": dict(self.counts),
            "records": [o.__dict__ | {"notes": list(o.notes)} for o in self.outcomes],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1, ensure_ascii=False) + "\n")


def import_items(
    store: Store,
    source: str,
    path: Path,
    items: Iterable[SourceItem | InvalidRecord],
    *,
    strict: bool = False,
    erased: Collection[str] = frozenset(),
    snapshot: bool = False,
) -> ImportReport:
    """Store every valid item in one transaction (or, with `strict`, nothing when any record is
    bad: InvalidRecords lists them), with the source id of each. Items whose entity id is erased
    are skipped, so an erasure stays in force. With `snapshot` (the file is the whole source),
    what an earlier import of this source brought and this one lacks is marked absent (kept,
    and reported)."""
    started = time.perf_counter()
    report = ImportReport(source, str(path))
    good: dict[str, SourceItem] = {}
    problems: list[InvalidRecord] = []
    for item in items:
        if isinstance(item, InvalidRecord):
            problems.append(item)
            report.outcomes.append(Outcome("", "", "invalid", item.record, str(item)))
            continue
        if item.entity.id in erased:
            report.outcomes.append(
                Outcome(item.source_id, item.entity.id, "skipped", item.record, "erased")
            )
            continue
        if item.entity.id in good:
            report.outcomes.append(
                Outcome(
                    item.source_id, item.entity.id, "skipped", item.record,
                    f"the same id as {good[item.entity.id].record}: the later one is kept",
                )
            )  # fmt: skip
        good[item.entity.id] = item
    if strict and problems:
        raise InvalidRecords(problems[:50], omitted=max(0, len(problems) - 50))
    upserted, absent = store.import_upsert(
        source,
        [i.entity for i in good.values()],
        {i.entity.id: i.source_id for i in good.values()},
        snapshot=snapshot,
    )
    for item in good.values():
        action = upserted.actions.get(item.entity.id, "unchanged")
        report.outcomes.append(
            Outcome(item.source_id, item.entity.id, action, item.record, notes=item.notes)
        )
    for id in absent:
        report.outcomes.append(
            Outcome("", id, "absent", reason="no longer in the source: marked, not deleted")
        )
    report.seconds = time.perf_counter() - started
    return report


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u2009\u202f]+")
_BLOCK = re.compile(r"(?i)</?(p|div|br|li|ul|ol|h[1-6]|tr|table|section)\b[^>]*>")


def clean_text(raw: str | None) -> str:
    """Readable plain text from a source's field: broken encodings repaired (ftfy: UTF-8 read
    as cp1252, and the like), HTML tags dropped (block tags become line breaks), entities
    decoded, spaces collapsed."""
    if not raw:
        return ""
    text = ftfy.fix_text(raw)
    text = _BLOCK.sub("\n", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = ftfy.fix_text(text)
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)
