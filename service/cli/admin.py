"""The `matcher users`, `matcher erase`, `matcher erasures` and `matcher audit` commands
(registered by cli.py)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import click

from matcher import (
    Role,
    clock,
    create_user,
    erase,
    erasure_ledger,
    issue_key,
    ledger_path,
    replay,
    revoke_key,
    set_password,
    update_user,
)

from ..wiring import make_encoder, open_store
from .console import _friendly, _settings


@click.group()
def users() -> None:
    """Manage users and their API keys.

    The first admin: `matcher users create NAME --role admin`, then `matcher users key NAME`."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--organisation", default=None, help="Guests only: their organisation's id.")
@click.option("--name", "display_name", default="", help="A display name.")
@click.option("--password", "ask_password", is_flag=True, help="Also set a password for the web.")
@_friendly
def users_create(
    username: str, role: str, organisation: str | None, display_name: str, ask_password: bool
) -> None:
    """Create USERNAME with a role: admin, bizdev, researcher or guest."""
    password = _ask_password() if ask_password else None
    with open_store(_settings()) as store:
        user = create_user(store, username, Role(role), organisation, display_name, password)
    click.echo(f"Created {user.username} ({user.role.value}).")
    click.echo(f"Next: `matcher users key {user.username}` to give them an API key.")


@users.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--password",
    default=None,
    help="Give each new user this web password (for a demo; real users set their own).",
)
@_friendly
def users_load(file: Path, password: str | None) -> None:
    """Create the users listed in FILE (JSON lines: username, role, organisation, name, email)
    that do not exist yet; existing ones are left as they are, but get the file's address when
    they have none."""
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            email = row.get("email")
            if email is not None and (not isinstance(email, str) or "@" not in email):
                raise ValueError(f"email {email!r} is not an address")
            rows.append(
                (
                    row["username"],
                    Role(row["role"]),
                    row.get("organisation"),
                    row.get("name", ""),
                    email,
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise click.ClickException(
                f"file {file}, line {number}: not a user ({error}); a line has username, role "
                "(admin, bizdev, researcher or guest), and optionally organisation, name and "
                "email (where the weekly digest goes)."
            ) from None
    created = []
    with open_store(_settings()) as store:
        known = {u.username: u for u in store.users()}
        for username, role, organisation, name, email in rows:
            if username not in known:
                create_user(store, username, role, organisation, name, password)
                created.append(username)
            if email and (username not in known or not known[username].email):
                store.set_email(username, email)
    click.echo(f"Created {len(created)} users: {', '.join(created) or 'none (all exist)'}.")


@users.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None)
@click.option("--organisation", default=None, help="Guests only: their organisation's id.")
@click.option("--name", "display_name", default=None)
@click.option("--disable/--enable", "disabled", default=None,
              help="A disabled user's keys and sessions stop working.")  # fmt: skip
@click.option("--email", default=None,
              help="Where their weekly digest goes; an empty value sends none.")  # fmt: skip
@_friendly
def users_set(
    username: str,
    role: str | None,
    organisation: str | None,
    display_name: str | None,
    disabled: bool | None,
    email: str | None,
) -> None:
    """Change USERNAME's role, organisation, name or e-mail address, or disable or enable
    them."""
    if email and "@" not in email:
        raise click.BadParameter(f"{email!r} is not an address", param_hint="--email")
    with open_store(_settings()) as store:
        if email is not None:
            store.set_email(username, email.strip() or None)
        user = update_user(
            store,
            username,
            role=Role(role) if role else None,
            organisation=organisation,
            display_name=display_name,
            disabled=disabled,
        )
    state = "disabled" if user.disabled else "enabled"
    click.echo(f"{user.username}: {user.role.value}, {state}.")


@users.command("list")
@_friendly
def users_list() -> None:
    """List the users and their roles."""
    with open_store(_settings()) as store:
        for u in store.users():
            organisation = f"\t{u.organisation}" if u.organisation else ""
            disabled = "\tdisabled" if u.disabled else ""
            click.echo(f"{u.username}\t{u.role.value}{organisation}{disabled}")


@users.command("key")
@click.argument("username")
@click.option("--label", default="", help="What the key is for, e.g. 'laptop'.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None)
@_friendly
def users_key(username: str, label: str, expires_days: int | None) -> None:
    """Create an API key for USERNAME and print it (it is shown only this once)."""
    with open_store(_settings()) as store:
        key, secret = issue_key(store, username, label, expires_days)
    click.echo(secret)
    expiry = f", expires {key.expires_at:%Y-%m-%d}" if key.expires_at else ""
    click.echo(f"Key {key.key_id} for {username}{expiry}. Store it now: it is not shown again.",
               err=True)  # fmt: skip


@users.command("keys")
@click.argument("username")
@_friendly
def users_keys(username: str) -> None:
    """List USERNAME's keys (ids, labels, state; never the keys)."""
    with open_store(_settings()) as store:
        for k in store.keys(username):
            state = "revoked" if k.revoked_at else f"expires {k.expires_at}" if k.expires_at else ""
            click.echo(f"{k.key_id}\t{k.label}\t{k.created_at:%Y-%m-%d}\t{state}")


@users.command("revoke")
@click.argument("username")
@click.argument("key_id")
@_friendly
def users_revoke(username: str, key_id: str) -> None:
    """Revoke one of USERNAME's keys at once."""
    with open_store(_settings()) as store:
        revoke_key(store, username, key_id)
    click.echo(f"Revoked key {key_id} of {username}.")


@users.command("passwd")
@click.argument("username")
@_friendly
def users_passwd(username: str) -> None:
    """Set USERNAME's password for the web pages (closes their sessions)."""
    password = _ask_password()
    with open_store(_settings()) as store:
        set_password(store, username, password)
    click.echo(f"Password set for {username}.")


@click.command("erase")
@click.argument("kind", type=click.Choice(["project", "organisation", "user"]), required=False)
@click.argument("object_id", required=False)
@click.option("--by", default=None, help="Who erases (default: the login name).")
@click.option("--replay", "replay_ledger", is_flag=True,
              help="Apply every ledger entry again, e.g. after restoring a backup.")  # fmt: skip
@click.confirmation_option(prompt="Erase for good?", help="Do not ask for confirmation.")
@_friendly
def erase_command(
    kind: str | None, object_id: str | None, by: str | None, replay_ledger: bool
) -> None:
    """Erase a project, an organisation or a user for good: from the store, the embedding cache
    and every index, with an entry (what, when, by whom) in the erasure ledger."""
    settings = _settings()
    ledger = ledger_path(settings.db_path)
    with open_store(settings) as store:
        encoder = make_encoder(settings, store)
        if replay_ledger:
            applied = replay(store, encoder, settings.models_dir, ledger)
            click.echo(f"Re-applied {len(applied)} erasures from {ledger}.")
            return
        if kind is None or object_id is None:
            raise click.UsageError("Name what to erase: KIND ID, or use --replay.")
        who = by or os.environ.get("USER") or getpass.getuser()
        erasure = erase(store, encoder, settings.models_dir, kind, object_id, who, ledger)
    click.echo(f"Erased {kind} {object_id} (ledger entry {erasure.id}, {ledger}).")


@click.command("erasures")
@_friendly
def erasures_command() -> None:
    """List the erasure ledger, oldest first: entry, when, by whom, what (kind and id)."""
    with open_store(_settings()) as store:
        entries = erasure_ledger(store)
    if not entries:
        click.echo("No erasures in this database.")
    for e in entries:
        click.echo(f"{e.id}\t{e.at:%Y-%m-%dT%H:%M:%SZ}\t{e.by}\t{e.kind}\t{e.object_id}")


@click.command("audit")
@click.option("--project", default=None, help="Only this project.")
@click.option("--actor", default=None, help="Only this user.")
@click.option("--since", default=None, help="Only from this time on (ISO 8601).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@_friendly
def audit_command(project: str | None, actor: str | None, since: str | None, limit: int) -> None:
    """Who read, matched or exported which confidential project, newest first."""
    try:
        moment = clock.parse(since) if since else None
    except ValueError:
        raise click.BadParameter(
            f"{since!r} is not an ISO 8601 time", param_hint="--since"
        ) from None
    with open_store(_settings()) as store:
        for e in store.audit(project, actor, moment, limit):
            click.echo(f"{e.at:%Y-%m-%dT%H:%M:%S}\t{e.actor}\t{e.role}\t{e.action}\t{e.object_id}")


def _ask_password() -> str:
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def register(main: click.Group) -> None:
    main.add_command(users)
    main.add_command(erase_command)
    main.add_command(erasures_command)
    main.add_command(audit_command)
