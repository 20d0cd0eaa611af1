"""`matcher import SOURCE PATH`: real sources into the store (matcher/sources)."""

from __future__ import annotations

from pathlib import Path

import click

from matcher import InvalidRecords, erased_ids, ledger_path
from matcher.sources import SOURCES, import_source
from matcher.sources.resolve import Resolution

from ..wiring import open_store
from .console import _friendly, _settings


@click.command("import")
@click.argument("source_name", metavar="SOURCE", type=click.Choice(sorted(SOURCES)))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write what happened to each record (added, updated, unchanged, skipped, invalid, "
    "and why) to this JSON file.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Store nothing when any record is bad (by default the valid ones are stored).",
)
@click.option(
    "--snapshot/--partial",
    default=None,
    help="Whether PATH holds the whole source, so that what it lacks is marked absent (default: "
    "eu-ft and cordis are snapshots, ctgov files are partial).",
)
@_friendly
def import_command(
    source_name: str, path: Path, report_path: Path | None, strict: bool, snapshot: bool | None
) -> None:
    """Import SOURCE's records from PATH: eu-ft (EU Funding & Tenders topics), cordis (CORDIS
    projects and participants) or ctgov (ClinicalTrials.gov studies). Idempotent: a record is
    keyed on the source's own id, and an unchanged one is left as it is."""
    settings = _settings()

    def progress(count: int) -> None:
        click.echo(f"  {count} records read", err=True)

    with open_store(settings) as store:
        try:
            report = import_source(
                store,
                source_name,
                path,
                strict=strict,
                progress=progress,
                erased=erased_ids(ledger_path(settings.db_path)),
                snapshot=snapshot,
            )
        except InvalidRecords as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(
                f"{len(error.problems) + error.omitted} bad records; with --strict nothing was "
                "stored."
            ) from error
    counts = report.counts
    shown = ", ".join(
        f"{counts.get(k, 0)} {k}"
        for k in ("added", "updated", "unchanged", "skipped", "invalid", "absent")
    )
    click.echo(f"{source_name}: {shown} ({report.records_per_second:.0f} records/s).")
    for outcome in report.outcomes:
        if outcome.action == "invalid":
            click.echo(f"  invalid: {outcome.reason}", err=True)
    if report_path is not None:
        report.write(report_path)
        click.echo(f"Wrote the report to {report_path}.")
    if counts.get("added") or counts.get("updated"):
        click.echo("Next: `matcher build` to index what changed.")


@click.group("orgs")
def orgs() -> None:
    """Organisations from several sources that are one (entity resolution): resolve them, list
    the pairs a person should look at, merge two, or split a wrong merge."""


@orgs.command("resolve")
@click.option("--threshold", type=click.FloatRange(0.5, 1.0), default=0.95, show_default=True)
@_friendly
def orgs_resolve(threshold: float) -> None:
    """Resolve every stored organisation and store the clusters."""
    from matcher.sources.orgs import resolve_stored

    with open_store(_settings()) as store:
        resolution = resolve_stored(store, threshold)
    _summary(resolution)


@orgs.command("review")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@_friendly
def orgs_review(limit: int) -> None:
    """Resolve again and list the merges made and the pairs near the threshold, for a person
    to decide with `matcher orgs merge A B` or `matcher orgs split A B`."""
    from matcher.sources.orgs import resolve_stored

    with open_store(_settings()) as store:
        resolution = resolve_stored(store)
        names = {c.id: c.name for c in resolution.candidates}
    _summary(resolution)
    merged = [c for c in resolution.clusters if len(c.members) > 1]
    if merged:
        click.echo("Merged (automatic or decided):")
    for cluster in merged[:limit]:
        click.echo(f"  {cluster.id} {cluster.name!r} (confidence {cluster.confidence:.2f}):")
        for member in cluster.members:
            if member != cluster.id:
                click.echo(f"    + {member} {names.get(member, '')!r}")
    if resolution.reviews:
        click.echo("To review (not merged):")
    for review in resolution.reviews[:limit]:
        a, b = review.pair
        click.echo(
            f"  {a} {names.get(a, '')!r} ~ {b} {names.get(b, '')!r}: "
            f"{review.score:.2f}, {review.why}"
        )


@orgs.command("merge")
@click.argument("first")
@click.argument("second")
@_friendly
def orgs_merge(first: str, second: str) -> None:
    """FIRST and SECOND are one organisation (kept for every later resolution)."""
    from matcher.sources.orgs import decide

    with open_store(_settings()) as store:
        resolution = decide(store, first, second, True, "local-operator")
    click.echo(f"{first} and {second} are one organisation from now on.")
    _summary(resolution)


@orgs.command("split")
@click.argument("first")
@click.argument("second")
@_friendly
def orgs_split(first: str, second: str) -> None:
    """FIRST and SECOND are different organisations: undo a wrong merge for good."""
    from matcher.sources.orgs import decide

    with open_store(_settings()) as store:
        resolution = decide(store, first, second, False, "local-operator")
    click.echo(f"{first} and {second} are kept apart from now on.")
    _summary(resolution)


def _summary(resolution: Resolution) -> None:
    merged = [c for c in resolution.clusters if len(c.members) > 1]
    members = sum(len(c.members) for c in merged)
    click.echo(
        f"{len(resolution.candidates)} organisations: {len(merged)} clusters join {members} of "
        f"them; {len(resolution.reviews)} pairs to review (threshold {resolution.threshold})."
    )


def register(main: click.Group) -> None:
    main.add_command(import_command)
    main.add_command(orgs)
