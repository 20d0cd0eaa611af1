"""Loading a directory of JSON Lines files into the store, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .domain import Entity
from .errors import InvalidRecord, InvalidRecords
from .records import parse_call, parse_organisation, parse_project
from .store import Store, UpsertReport

FILES: dict[str, Callable[[Any], Entity]] = {
    "projects.jsonl": parse_project,
    "organisations.jsonl": parse_organisation,
    "calls.jsonl": parse_call,
}


@dataclass(frozen=True)
class LoadReport:
    files: dict[str, int]
    upsert: UpsertReport
    skipped: tuple[str, ...] = ()
    """Ids left out because they were erased (see erasure.py)."""


MAX_PROBLEMS = 50
"""The most bad records listed per file; the rest are counted."""


def read_file(path: Path, parse: Callable[[Any], Entity]) -> list[Entity]:
    """Parse every line of a JSON Lines file. Raises InvalidRecords listing every bad record (up
    to MAX_PROBLEMS), each naming the file, the line or id, and the field."""
    entities, problems = _parse_file(path, parse)
    if problems:
        raise _invalid(problems)
    return entities


def _parse_file(
    path: Path, parse: Callable[[Any], Entity]
) -> tuple[list[Entity], list[InvalidRecord]]:
    """The good records of a file, and a problem for each bad one."""
    entities: list[Entity] = []
    problems: list[InvalidRecord] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRecord(f"cannot be read ({error})", file=str(path)) from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(
                InvalidRecord(
                    f"is not valid JSON ({error.msg} at column {error.colno})",
                    file=str(path),
                    record=where,
                )
            )
            continue
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where = f"line {number} (id {raw['id']!r})"
        try:
            entity = parse(raw)
        except InvalidRecord as error:
            problems.append(
                InvalidRecord(error.reason, file=str(path), record=where, field=error.field)
            )
            continue
        if entity.id in seen:
            problems.append(
                InvalidRecord(
                    f"duplicate id {entity.id!r}, first on line {seen[entity.id]}",
                    file=str(path),
                    record=where,
                    field="id",
                )
            )
            continue
        seen[entity.id] = number
        entities.append(entity)
    return entities, problems


def _invalid(problems: list[InvalidRecord]) -> InvalidRecords:
    """One error for these problems, listing at most MAX_PROBLEMS of each file."""
    listed: list[InvalidRecord] = []
    per_file: dict[str, int] = {}
    for problem in problems:
        per_file[problem.file] = per_file.get(problem.file, 0) + 1
        if per_file[problem.file] <= MAX_PROBLEMS:
            listed.append(problem)
    return InvalidRecords(listed, omitted=len(problems) - len(listed))


def read_directory(directory: Path) -> dict[str, list[Entity]]:
    """Every known file present in the directory, parsed; ids must be unique across files.
    Raises InvalidRecords listing the bad records of every file (up to MAX_PROBLEMS each)."""
    if not directory.is_dir():
        raise InvalidRecord(f"{directory} is not a directory", file=str(directory))
    present = {name: parse for name, parse in FILES.items() if (directory / name).exists()}
    if not present:
        raise InvalidRecord(
            f"holds none of {', '.join(FILES)}; see data/README.md for the format",
            file=str(directory),
        )
    parsed: dict[str, list[Entity]] = {}
    problems: list[InvalidRecord] = []
    owner: dict[str, str] = {}
    for name, parse in present.items():
        entities, bad = _parse_file(directory / name, parse)
        problems += bad
        for entity in entities:
            if entity.id in owner:
                problems.append(
                    InvalidRecord(
                        f"id {entity.id!r} is also used in {owner[entity.id]}",
                        file=str(directory / name),
                        record=entity.id,
                        field="id",
                    )
                )
                continue
            owner[entity.id] = name
        parsed[name] = entities
    if problems:
        raise _invalid(problems)
    return parsed


def load_directory(
    store: Store, directory: Path, erased: Collection[str] = frozenset()
) -> LoadReport:
    """Validate everything first, then write it in one transaction: a bad record stores nothing,
    and InvalidRecords lists every bad record. Records whose ids are in `erased` are left out, so
    an erasure stays in force."""
    parsed = read_directory(Path(directory))
    everything = [entity for entities in parsed.values() for entity in entities]
    skipped = tuple(e.id for e in everything if e.id in erased)
    report = store.upsert([e for e in everything if e.id not in erased])
    return LoadReport({name: len(e) for name, e in parsed.items()}, report, skipped)
