"""Erasure: a project, an organisation or a user removed for good.

The record leaves the store (its documents, team rows and cached embeddings with it) and every
index is rebuilt without it. A ledger entry says what was erased, when and by whom, never what it
held; it is written to the database and, first, to an append-only file beside it, so that after a
restore from a backup taken before the erasure `matcher erase --replay` applies it again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .. import clock
from ..build import build_indexes
from ..domain import EntityKind
from ..errors import InvalidQuery, NotFound
from ..roles import Erasure
from ..store import Store
from ..text import content_hash
from ..vectors.embedding import DocumentEncoder

log = logging.getLogger(__name__)

ERASABLE = ("project", "organisation", "user")


@dataclass(frozen=True)
class LedgerLine:
    at: str
    by: str
    kind: str
    id: str


def ledger_path(db_path: Path) -> Path:
    """The ledger file kept beside the database (back it up separately from the database)."""
    return Path(db_path).with_name(Path(db_path).stem + ".erasures.jsonl")


def erase(
    store: Store,
    encoder: DocumentEncoder,
    models_dir: Path,
    kind: str,
    id: str,
    by: str,
    ledger: Path,
) -> Erasure:
    """Erase one record and rebuild the indexes. Raises NotFound or InvalidQuery."""
    hashes = _vector_hashes(store, encoder, kind, id)
    _append(ledger, kind, id, by)
    erasure = store.erase(kind, id, by, hashes)
    if kind != "user":
        build_indexes(store, encoder, models_dir)
    log.info("erased %s %s (ledger entry %d)", kind, id, erasure.id)
    return erasure


def replay(store: Store, encoder: DocumentEncoder, models_dir: Path, ledger: Path) -> list[Erasure]:
    """Apply again every ledger entry whose record is back (a restored backup). Returns the
    erasures applied now."""
    applied = []
    for line in read_ledger(ledger):
        try:
            hashes = _vector_hashes(store, encoder, line.kind, line.id)
        except NotFound:
            continue
        if line.kind == "user" and store.user(line.id).created_at > clock.parse(line.at):
            continue  # a later account of the same name, which the erasure did not concern
        applied.append(store.erase(line.kind, line.id, line.by, hashes))
    if any(e.kind != "user" for e in applied):
        build_indexes(store, encoder, models_dir)
    return applied


def erasure_ledger(store: Store) -> list[Erasure]:
    """The database's erasure ledger, oldest first: what was erased, when and by whom (the
    entry's number is the one an erased user's audit entries carry), never what it held."""
    return store.erasures()


def read_ledger(ledger: Path) -> list[LedgerLine]:
    if not ledger.exists():
        return []
    lines = []
    for number, raw in enumerate(ledger.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            lines.append(LedgerLine(record["at"], record["by"], record["kind"], record["id"]))
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidQuery(
                f"file {ledger}, line {number}: not a ledger entry ({error}); entries have "
                "at, by, kind and id."
            ) from None
    return lines


def erased_ids(ledger: Path) -> set[str]:
    """Ids of erased projects and organisations, which loading must not bring back."""
    return {line.id for line in read_ledger(ledger) if line.kind != "user"}


def _vector_hashes(store: Store, encoder: DocumentEncoder, kind: str, id: str) -> list[str]:
    if kind not in ERASABLE:
        raise InvalidQuery(f"Cannot erase a {kind!r}: erase a project, organisation or user.")
    if kind == "user":
        store.user(id)
        return []
    entity = store.get(id, EntityKind(kind))
    texts = [d.text for d in entity.documents()]
    return [content_hash(unit) for unit in encoder.units(texts, sentences=True)]


def _append(ledger: Path, kind: str, id: str, by: str) -> None:
    # To the microsecond, so that an account created in the same second is not taken for the
    # one erased (replay).
    at = clock.stamp(clock.now())
    line = json.dumps({"at": at, "by": by, "kind": kind, "id": id}, sort_keys=True) + "\n"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with open(ledger, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
