"""The `matcher` command line. Each command parses its arguments, calls the library, prints."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from matcher import (
    ALL_STATUSES,
    GOOD,
    LOCAL_OPERATOR,
    STRONG,
    CallStatus,
    Gate,
    Match,
    Modality,
    Need,
    OrgKind,
    Profile,
    Ranking,
    RayEngine,
    Recommender,
    Settings,
    Stage,
    Store,
    Target,
    View,
    authenticate,
    build_indexes,
    erased_ids,
    ledger_path,
    load_directory,
)

from ..wiring import make_encoder, open_recommender, open_store, warm_multilingual
from . import admin as cli_admin
from . import digest as cli_digest
from . import ranker as cli_ranker
from . import sources as cli_sources
from .console import _friendly, _settings

F = TypeVar("F", bound=Callable[..., Any])


class _Bar:
    """A click progress bar behind the library's BuildProgress protocol."""

    def __init__(self) -> None:
        self._bar: Any = None

    def start(self, label: str, total: int) -> None:
        self._bar = click.progressbar(length=max(total, 0), label=label.ljust(24), file=None)
        self._bar.__enter__()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


KEY = click.option(
    "--key",
    envvar="MATCHER_API_KEY",
    default=None,
    help="Act as this API key's user (or set MATCHER_API_KEY). Without a key the command runs "
    "as the local operator, who has the database file and sees everything.",
)


def _view(
    store: Store, settings: Settings, key: str | None, recommender: Recommender | None = None
) -> View:
    principal = authenticate(store, key) if key else LOCAL_OPERATOR
    return Gate(store, recommender, settings.current_date).view(principal)


def _print_matches(ranking: Ranking, as_json: bool, query: str, direction: str) -> None:
    if as_json:
        # The API's schema (FastAPI and pydantic) is loaded only for JSON output.
        from ..api.schemas import MatchList

        out = MatchList.of(query, direction, ranking)
        click.echo(json.dumps(out.model_dump(mode="json"), indent=2))
        return
    if ranking.notice:
        click.echo(ranking.notice)
    else:
        click.echo(
            f"{direction} for {query}: score = estimated probability of a relevant match "
            f"(strong >= {STRONG}, good >= {GOOD})"
        )
    if not ranking.matches:
        click.echo("No matches.")
        return
    for m in ranking:
        click.echo(f"{m.rank:>3}. {m.score:.3f} {m.strength.value:<6}  {m.id}  {m.name}  "
                   f"[{_label(m)}]")  # fmt: skip
        if m.reasons is None:
            continue
        click.echo(f"       {m.reasons.summary}")
        if m.reasons.sentences is not None:
            click.echo(f"       query:     {m.reasons.sentences.query}")
            click.echo(f"       candidate: {m.reasons.sentences.candidate}")


def _label(m: Match) -> str:
    if m.kind is not None:
        also = f"; one organisation with {', '.join(m.also)}" if m.also else ""
        return f"{m.kind.value.replace('_', ' ')}, {m.country}{also}"
    return m.funder or (m.modality.value if m.modality else m.entity.value)


TOP_K = click.option(
    "-k", type=click.IntRange(1, 100), default=None, help="Default: MATCHER_TOP_K (10)."
)
AS_JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print the matches as JSON, as the API."
)
KINDS = click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice([k.value for k in OrgKind]),
    help="Partners only: only organisations of this kind (repeatable).",
)
STATUS = click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([CallStatus.OPEN.value, CallStatus.FORTHCOMING.value]),
    help="Calls only: only these statuses (repeatable; default open and forthcoming).",
)
INELIGIBLE = click.option(
    "--include-ineligible",
    is_flag=True,
    help="Also calls (or projects, for a call) that the hub may not apply with, with the verdict.",
)


@click.group()
@click.version_option(package_name="cgt-matcher")
@click.option("-v", "--verbose", is_flag=True, help="Log what the library does.")
def main(verbose: bool) -> None:
    """Match the hub's cell and gene therapy projects with partners and funding calls.

    Settings come from MATCHER_* environment variables (see README.md), e.g. MATCHER_DB_PATH,
    MATCHER_MODELS_DIR and MATCHER_MODEL."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)


@main.command()
@_friendly
def init() -> None:
    """Create the database (or bring its schema up to date)."""
    settings = _settings()
    with open_store(settings) as store:
        click.echo(f"Database ready at {store.location} (schema revision {store.schema_version}).")
        click.echo("Next: `matcher load DIR` to load projects, organisations and calls.")


@main.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_friendly
def load(directory: Path) -> None:
    """Load projects.jsonl, organisations.jsonl and calls.jsonl from DIRECTORY.

    Every record is checked first; if any is bad, each is listed (up to 50 per file) with its
    file, line and field, and nothing is stored."""
    from matcher import InvalidRecords

    settings = _settings()
    with open_store(settings) as store:
        try:
            report = load_directory(store, directory, erased_ids(ledger_path(settings.db_path)))
        except InvalidRecords as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            if error.omitted:
                click.echo(f"... and {error.omitted} more", err=True)
            count = len(error.problems) + error.omitted
            raise click.ClickException(
                f"{count} bad record{'s' if count != 1 else ''}; nothing was stored. "
                "Fix them and run `matcher load` again."
            ) from error
    for name, count in report.files.items():
        click.echo(f"{name}: {count} records")
    u = report.upsert
    click.echo(f"added {u.added}, updated {u.updated}, unchanged {u.unchanged}.")
    if report.skipped:
        click.echo(f"left out {len(report.skipped)} erased records: {', '.join(report.skipped)}")
    click.echo("Next: `matcher build` to (re)build the indexes.")


@main.command()
@click.option("--sentences/--no-sentences", default=True, show_default=True,
              help="Also embed every sentence now, for the reasons of matches; without it the "
              "server embeds them in the background after it starts.")  # fmt: skip
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where the texts are embedded: in this process, or by Ray Data workers (the "
    "extra [ray]), each loading the model once, on MATCHER_DEVICE.",
)
@click.option(
    "--address",
    default=None,
    metavar="ADDR",
    help="With --engine ray: the Ray cluster to use (e.g. ray://head:10001 or auto); "
    "without it Ray starts on this machine.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="With --engine ray: how many workers embed (default: one per CPU, or per GPU with "
    "MATCHER_DEVICE=cuda).",
)
@_friendly
def build(sentences: bool, engine: str, address: str | None, workers: int | None) -> None:
    """Embed every text (reusing cached ones) and write the indexes to MATCHER_MODELS_DIR."""
    settings = _settings()
    ray = None
    if engine == "ray":
        ray = RayEngine(
            device=settings.device,
            batch_size=settings.batch_size,
            address=address,
            workers=workers,
        )
    elif address is not None or workers is not None:
        raise click.UsageError("--address and --workers go with --engine ray.")
    with open_store(settings) as store:
        encoder = make_encoder(settings, store)
        try:
            reports = build_indexes(store, encoder, settings.models_dir, _Bar(), sentences, ray)
        finally:
            if ray is not None:
                ray.close()
        multilingual = warm_multilingual(settings, store)
    for r in reports:
        if r.rebuilt:
            how = "index built"
        elif r.indexed or r.removed:
            how = f"index updated: {r.indexed} added or changed, {r.removed} taken out"
        else:
            how = "index up to date"
        click.echo(
            f"{r.kind}s: {r.documents} documents, {r.embedded} texts embedded, {how}, "
            f"{r.seconds:.1f} s"
        )
    if multilingual is not None:
        click.echo(f"multilingual vectors ({multilingual[0]}): {multilingual[1]} texts embedded")
    click.echo(f"Indexes written to {settings.models_dir}. Next: `matcher serve`.")


@main.command()
@click.argument("project_id")
@click.option(
    "--to",
    "to",
    type=click.Choice(["partners", "calls"]),
    default="partners",
    show_default=True,
    help="What to recommend.",
)
@TOP_K
@KINDS
@STATUS
@INELIGIBLE
@AS_JSON
@KEY
@_friendly
def recommend(
    project_id: str,
    to: str,
    k: int | None,
    kinds: tuple[str, ...],
    statuses: tuple[str, ...],
    include_ineligible: bool,
    as_json: bool,
    key: str | None,
) -> None:
    """Partners or funding calls (open and forthcoming) for PROJECT_ID, best first, with
    reasons."""
    settings = _settings()
    with open_store(settings) as store:
        view = _view(store, settings, key, open_recommender(settings, store, lazy=True))
        if to == "partners":
            matches = view.partners_for(
                project_id, k or settings.top_k, [OrgKind(x) for x in kinds]
            )
        else:
            matches = view.calls_for(
                project_id, k or settings.top_k, _statuses(statuses), include_ineligible
            )
    _print_matches(matches, as_json, project_id, f"project->{to}")


def _statuses(values: tuple[str, ...]) -> frozenset[CallStatus]:
    return frozenset(CallStatus(v) for v in values) or ALL_STATUSES


@main.command()
@click.argument("org_or_call_id")
@TOP_K
@INELIGIBLE
@AS_JSON
@KEY
@_friendly
def reverse(
    org_or_call_id: str, k: int | None, include_ineligible: bool, as_json: bool, key: str | None
) -> None:
    """The hub's projects that fit an organisation or a funding call (for a call, those that
    may apply to it; a closed or withdrawn call says so first)."""
    settings = _settings()
    with open_store(settings) as store:
        view = _view(store, settings, key, open_recommender(settings, store, lazy=True))
        matches = view.projects_for(
            org_or_call_id, k or settings.top_k, include_ineligible=include_ineligible
        )
        kind = view.recommender.known(org_or_call_id)
    source = kind.value if kind is not None else "reverse"
    _print_matches(matches, as_json, org_or_call_id, f"{source}->projects")


@main.command()
@click.argument("text")
@click.option(
    "--to",
    "to",
    type=click.Choice(["partners", "calls", "projects"]),
    default="partners",
    show_default=True,
)
@TOP_K
@KINDS
@click.option(
    "--stage",
    type=click.Choice([s.value for s in Stage]),
    help="The text's project stage, so that calls' stage rules are decided.",
)
@click.option("--modality", type=click.Choice([m.value for m in Modality]))
@click.option(
    "--need",
    "needs",
    multiple=True,
    type=click.Choice([n.value for n in Need]),
    help="What the text's project needs (repeatable): matched against capabilities.",
)
@STATUS
@INELIGIBLE
@AS_JSON
@KEY
@_friendly
def search(
    text: str,
    to: str,
    k: int | None,
    kinds: tuple[str, ...],
    stage: str | None,
    modality: str | None,
    needs: tuple[str, ...],
    statuses: tuple[str, ...],
    include_ineligible: bool,
    as_json: bool,
    key: str | None,
) -> None:
    """Partners, calls (open and forthcoming) or projects for a free TEXT such as a pasted
    abstract."""
    settings = _settings()
    profile = Profile(
        Stage(stage) if stage else None,
        Modality(modality) if modality else None,
        tuple(Need(n) for n in needs),
    )
    with open_store(settings) as store:
        view = _view(store, settings, key, open_recommender(settings, store, lazy=True))
        matches = view.search(
            text, Target(to), k or settings.top_k, [OrgKind(x) for x in kinds],
            _statuses(statuses), include_ineligible, profile,
        )  # fmt: skip
    _print_matches(matches, as_json, text[:60], f"text->{to}")


@main.command(name="list")
@click.argument("kind", type=click.Choice(["projects", "organisations", "calls"]))
@KEY
@_friendly
def list_(kind: str, key: str | None) -> None:
    """List the stored projects, organisations or calls (id and name) the caller may see."""
    settings = _settings()
    with open_store(settings) as store:
        view = _view(store, settings, key)
        if kind == "projects":
            for p in view.projects().items:
                click.echo(f"{p.id}\t{p.title}\t{p.modality}, {p.stage}, {p.visibility}")
        elif kind == "organisations":
            for o in view.organisations().items:
                click.echo(f"{o.id}\t{o.name}\t{o.kind}, {o.country}")
        else:
            for record in view.calls().items:
                c = record.call
                click.echo(f"{c.id}\t{c.title}\t{c.funder}, {record.status.value}")


@main.command()
@click.option("--host", default=None, help="Default: MATCHER_HOST or 127.0.0.1.")
@click.option("--port", type=int, default=None, help="Default: MATCHER_PORT or 8000.")
@click.option(
    "--load",
    "load_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="First load this directory and build the indexes (without sentences, which the server "
    "then embeds in the background), all in this one process: what `make demo` does.",
)
@_friendly
def serve(host: str | None, port: int | None, load_dir: Path | None) -> None:
    """Serve the HTTP API (docs at /docs, schema at /openapi.json)."""
    import uvicorn

    from ..app import create_app

    settings = _settings()
    with open_store(settings) as store:
        encoder = make_encoder(settings, store)
        if load_dir is not None:
            report = load_directory(store, load_dir, erased_ids(ledger_path(settings.db_path)))
            click.echo(f"loaded {sum(report.files.values())} records from {load_dir}")
            build_indexes(store, encoder, settings.models_dir, _Bar(), sentences=False)
        # Fail here, with the fix, rather than inside uvicorn; the app builds the recommender.
        Recommender.check(store, settings.models_dir, encoder.embedder.name)
    uvicorn.run(
        create_app(settings, encoder.embedder),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        # uvicorn would take X-Forwarded-For and X-Forwarded-Proto from any loopback peer. The
        # app believes them from MATCHER_TRUSTED_PROXIES only (service/auth.py), for the
        # limiter, the cookie and the access log alike, so uvicorn must leave them to it.
        proxy_headers=False,
    )


cli_admin.register(main)
cli_digest.register(main)
cli_ranker.register(main)
cli_sources.register(main)
