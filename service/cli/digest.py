"""The `matcher digest` commands (preview, send, status, resolve, bounce) and `matcher mailbox`,
a loopback SMTP server that keeps what it receives as .eml files (for the demo and for a look)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from matcher import Gate, Settings, Store
from matcher.digest import SendState, Week

from ..wiring import open_recommender, open_store
from .console import _friendly, _settings

WEEK = click.option(
    "--week",
    default=None,
    help="The ISO week, e.g. 2026-W50 (default: this week, by MATCHER_TODAY or the clock).",
)


@click.group()
def digest() -> None:
    """The weekly digest e-mail: preview it, send it (what cron or a systemd timer runs), and
    settle what a send left uncertain."""


def _week(settings: Settings, text: str | None) -> Week:
    if text is None:
        return Week.of(settings.current_date())
    try:
        return Week.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--week") from None


def _gate(settings: Settings, store: Store) -> Gate:
    return Gate(store, open_recommender(settings, store, lazy=True), settings.current_date)


@digest.command("preview")
@click.option("--user", "username", required=True, help="Whose digest.")
@WEEK
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/digest-preview"),
    show_default=True,
    help="Where the .eml and .html files go.",
)
@_friendly
def digest_preview(username: str, week: str | None, out: Path) -> None:
    """Write USER's digest for a week as an .eml file and an .html file (nothing is sent and
    nothing is marked as shown)."""
    from ..digest import preview

    settings = _settings()
    chosen = _week(settings, week)
    with open_store(settings) as store:
        shown = preview(_gate(settings, store), settings, username, chosen)
    if shown.digest.empty:
        click.echo(f"{username}'s digest for {chosen} is empty: it would not be sent.")
    eml, html = shown.write(out)
    click.echo(f"Subject: {shown.message['Subject']}")
    click.echo(f"Wrote {eml} and {html} (open the .html in a browser).")


@digest.command("send")
@WEEK
@click.option(
    "--user",
    "usernames",
    multiple=True,
    help="Only these users (repeatable); by default every subscribed user with an address.",
)
@click.option("--quiet", is_flag=True, help="Print the summary only.")
@_friendly
def digest_send(week: str | None, usernames: tuple[str, ...], quiet: bool) -> None:
    """Send the week's digest to everyone who has not had it: at most once per recipient and
    week, however often (or however many at once) this runs. Exits with status 2 when some
    message failed or is uncertain."""
    from ..digest import send_week

    settings = _settings()
    chosen = _week(settings, week)
    with open_store(settings) as store:
        summary = send_week(
            _gate(settings, store),
            settings,
            chosen,
            usernames or None,
            progress=None if quiet else click.echo,
        )
    for line in summary.lines():
        click.echo(line)
    if summary.counts.get(SendState.FAILED) or summary.counts.get(SendState.UNCERTAIN):
        raise SystemExit(2)


@digest.command("status")
@WEEK
@_friendly
def digest_status(week: str | None) -> None:
    """Where each recipient's digest of a week stands."""
    settings = _settings()
    chosen = str(_week(settings, week))
    with open_store(settings) as store:
        records = store.send_records(chosen)
    if not records:
        click.echo(f"No digest of {chosen} has been sent or tried.")
    for r in records:
        when = f"{r.updated_at:%Y-%m-%d %H:%M}"
        tail = f"  {r.detail}" if r.detail else ""
        click.echo(f"{r.username:24} {r.state.value:12} {when}  tries {r.attempts}{tail}")


_DECISIONS = {
    "sent": SendState.SENT,
    "resend": SendState.COMPOSED,
    "cancelled": SendState.CANCELLED,
}


@digest.command("resolve")
@click.argument("username")
@WEEK
@click.option(
    "--as",
    "decision",
    type=click.Choice(sorted(_DECISIONS)),
    required=True,
    help="sent: it arrived (what it showed counts as shown); resend: send it on the next run; "
    "cancelled: leave it.",
)
@_friendly
def digest_resolve(username: str, week: str | None, decision: str) -> None:
    """Decide what happened to USERNAME's uncertain (or failed) digest of a week."""
    settings = _settings()
    chosen = str(_week(settings, week))
    with open_store(settings) as store:
        record = store.send_record(username, chosen)
        if record is None or record.state not in (SendState.UNCERTAIN, SendState.FAILED):
            state = record.state.value if record else "not tried"
            raise click.ClickException(
                f"{username}'s digest of {chosen} is {state}: only an uncertain or failed one is "
                "resolved."
            )
        done = store.resolve(username, chosen, _DECISIONS[decision], "local-operator")
    click.echo(f"{username} {chosen}: {done.state.value}.")


@digest.command("bounce")
@click.argument("address")
@click.option("--reason", default="reported bounced", show_default=True)
@click.option("--clear", is_flag=True, help="The address works again.")
@_friendly
def digest_bounce(address: str, reason: str, clear: bool) -> None:
    """Record that mail to ADDRESS bounces (no digest goes there), or clear it."""
    with open_store(_settings()) as store:
        if clear:
            found = store.clear_bounce(address)
            click.echo(f"{address}: {'cleared' if found else 'was not bounced'}.")
        else:
            store.bounce(address, reason)
            click.echo(f"{address}: bounced ({reason}); no digest goes there until cleared.")


@click.command("mailbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/mailbox"),
    show_default=True,
)
def mailbox(host: str, port: int, folder: Path) -> None:
    """A loopback SMTP server for trying the digest: each message it receives is written to
    DIR as an .eml file (and its HTML part as .html). Stop it with Ctrl-C."""
    from ..digest.mailbox import Mailbox

    with Mailbox(folder, host, port) as box:
        click.echo(f"Listening on {host}:{box.port}; messages go to {folder}/. Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def register(main: click.Group) -> None:
    main.add_command(digest)
    main.add_command(mailbox)
