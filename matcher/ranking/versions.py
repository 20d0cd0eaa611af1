"""Versions of a saved ranker: the active file, the ones it replaced, and rolling back.

A new ranker replaces `ranker/<kind>.json` atomically; the file it replaces is kept first as
`ranker/history/<kind>-<timestamp>.json` (where there was none, the scorer that ranked meanwhile,
the default, is kept, so rolling back restores exactly what ranked before). Rolling back puts the
newest kept version back and moves the one it replaces to `<kind>-<timestamp>.rolled-back.json`,
which later roll-backs skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import clock
from ..errors import NotFound
from .scorer import LinearScorer, load_scorer, save_scorer

ROLLED_BACK = ".rolled-back.json"


@dataclass(frozen=True)
class RankerVersion:
    path: Path
    scorer: LinearScorer | None
    """None when the file was saved for another model."""


def history_dir(active: Path) -> Path:
    return active.parent / "history"


def _stamp() -> str:
    return clock.now().strftime("%Y%m%dT%H%M%S%fZ")


def install_ranker(scorer: LinearScorer, active: Path, current: LinearScorer) -> Path:
    """Save `scorer` as the active ranker at `active`, keeping what ranked until now (the file,
    or `current` where there is none) in the history. Returns the kept version's path."""
    kept = history_dir(active) / f"{active.stem}-{_stamp()}.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    if active.exists():
        kept.write_bytes(active.read_bytes())
    else:
        save_scorer(current, kept)
    save_scorer(scorer, active)
    return kept


def ranker_history(active: Path, model: str) -> list[RankerVersion]:
    """The kept versions that a roll-back can restore, newest first."""
    folder = history_dir(active)
    if not folder.exists():
        return []
    found = [
        p
        for p in folder.glob(f"{active.stem}-*.json")
        if not p.name.endswith(ROLLED_BACK) and not p.name.startswith(".")
    ]
    return [RankerVersion(p, load_scorer(p, model)) for p in sorted(found, reverse=True)]


def roll_back_ranker(active: Path, model: str) -> RankerVersion:
    """Restore the newest kept version as the active ranker. Raises NotFound when none is kept."""
    kept = ranker_history(active, model)
    if not kept:
        raise NotFound("kept version of the ranker", active.stem)
    newest = kept[0]
    if active.exists():
        (history_dir(active) / f"{active.stem}-{_stamp()}{ROLLED_BACK}").write_bytes(
            active.read_bytes()
        )
    # One rename, so a server reloading meanwhile finds either version, never none.
    os.replace(newest.path, active)
    return RankerVersion(active, newest.scorer)
