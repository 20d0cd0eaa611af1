"""`matcher import SOURCE PATH`: real sources into the store (matcher/sources)."""

from __future__ import annotations

from pathlib import Path

import click

from matcher import InvalidRecords, erased_ids, ledger_path
from matcher.sources import SOURCES, import_source

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


def register(main: click.Group) -> None:
    main.add_command(import_command)
