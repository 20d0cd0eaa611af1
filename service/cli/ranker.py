"""`matcher ranker learn|status|rollback`: the hub's ranker learned from its own feedback."""

from __future__ import annotations

import json
from typing import Any

import click

from matcher import (
    EntityKind,
    NotFound,
    Target,
    learn_ranker,
    load_scorer,
    ranker_history,
    ranker_path,
    roll_back_ranker,
)

from ..wiring import open_recommender, open_store
from .console import _friendly, _settings

KIND = click.option(
    "--kind",
    type=click.Choice(["partners", "calls"]),
    default="partners",
    show_default=True,
    help="Which ranker: partners for projects, or calls for projects.",
)
RELOAD = (
    "A running server ranks with it after its next restart or index reload (any change of the "
    "data, or an admin's re-index)."
)


def _entity(kind: str) -> EntityKind:
    return EntityKind.ORGANISATION if kind == "partners" else EntityKind.CALL


def _weights(weights: Any) -> str:
    return ", ".join(f"{k} {float(v):+.3f}" for k, v in weights.items() if float(v))


@click.group("ranker")
def ranker() -> None:
    """The ranker the service scores pairs with: learn it from the hub's feedback, see its
    versions, roll back."""


@ranker.command("learn")
@KIND
@click.option("--dry-run", is_flag=True, help="Learn and show the weights; save nothing.")
@_friendly
def ranker_learn(kind: str, dry_run: bool) -> None:
    """Update the ranker from every user's feedback (relevant and already known count as right
    matches, not relevant as wrong) and save it as the active version, keeping the one it
    replaces in models/ranker/history. Below the floor of judgements nothing changes."""
    settings = _settings()
    with open_store(settings) as store:
        recommender = open_recommender(settings, store, lazy=True)
        report = learn_ranker(
            store, recommender, settings.models_dir, Target(kind), dry_run=dry_run
        )
    learned = report.learned
    click.echo(
        f"{learned.judgements} judgements on {learned.projects} projects "
        f"({learned.contrasted} with both a right and a wrong match); "
        f"{report.skipped} judged pairs not in the loaded indexes."
    )
    if not learned.changed:
        click.echo(f"Unchanged: {learned.reason}. The ranker stays {_name(report.base)}.")
        return
    click.echo(f"Base ({_name(report.base)}): {_weights(report.base.weights)}")
    click.echo(f"Learned: {_weights(learned.scorer.weights)}")
    if dry_run:
        click.echo("Dry run: nothing saved.")
        return
    click.echo(f"Saved {report.path}; the previous version is kept as {report.kept}.")
    click.echo(f"Calibration: {report.calibration}. {RELOAD}")
    click.echo("Undo with `matcher ranker rollback`.")


def _name(scorer: Any) -> str:
    return str(scorer.manifest.get("name", "unnamed"))


@ranker.command("status")
@KIND
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_friendly
def ranker_status(kind: str, as_json: bool) -> None:
    """Show the active ranker (the saved file, or the default scorer), its manifest, and the
    kept versions a roll-back can restore."""
    settings = _settings()
    path = ranker_path(settings.models_dir, _entity(kind))
    active = load_scorer(path, settings.model) if path.exists() else None
    kept = ranker_history(path, settings.model)
    if as_json:
        out = {
            "path": str(path),
            "active": None if active is None else _describe(active),
            "history": [
                {"path": str(v.path), **({} if v.scorer is None else _describe(v.scorer))}
                for v in kept
            ],
        }
        click.echo(json.dumps(out, indent=2))
        return
    if active is None:
        state = "saved for another model" if path.exists() else "no file"
        click.echo(f"{kind}: the default scorer ranks ({path}: {state}).")
    else:
        click.echo(f"{kind}: {path}")
        click.echo(f"  weights: {_weights(active.weights)}")
        for key, value in active.manifest.items():
            if key != "base":
                click.echo(f"  {key}: {json.dumps(value)}")
        base = active.manifest.get("base")
        if isinstance(base, dict):
            click.echo(f"  base: {base.get('name', '')} ({base.get('fingerprint', '')})")
    click.echo(f"History ({len(kept)} kept, newest first; `matcher ranker rollback` restores it):")
    for version in kept:
        name = "another model" if version.scorer is None else _name(version.scorer)
        click.echo(f"  {version.path.name}: {name}")


def _describe(scorer: Any) -> dict[str, Any]:
    return {
        "name": _name(scorer),
        "weights": dict(scorer.weights),
        "bias": scorer.bias,
        "manifest": dict(scorer.manifest),
    }


@ranker.command("rollback")
@KIND
@_friendly
def ranker_rollback(kind: str) -> None:
    """Restore the previous version of the ranker (the newest kept in models/ranker/history);
    the version it replaces is kept as rolled back."""
    settings = _settings()
    path = ranker_path(settings.models_dir, _entity(kind))
    try:
        restored = roll_back_ranker(path, settings.model)
    except NotFound as error:
        raise click.ClickException(
            f"No earlier version of the {kind} ranker is kept: `matcher ranker learn` keeps one "
            "each time it saves."
        ) from error
    name = "a ranker for another model" if restored.scorer is None else _name(restored.scorer)
    click.echo(f"Restored {path}: {name}. {RELOAD}")


def register(main: click.Group) -> None:
    main.add_command(ranker)
