"""Each fact once: a project's owner and team are its `members` rows alone (no `owner` column,
nothing in the record); an entity's id, name, subkind and visibility are its columns alone;
every stored moment is written by the one codec; counted requests shared by all processes.

Revision ID: 0002
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

IN_COLUMNS = {
    "project": ("id", "title", "modality", "visibility", "owner", "team"),
    "organisation": ("id", "name", "kind"),
    "call": ("id", "title"),
}
MOMENTS = {
    "entities": ("rowid", ("stored_at",)),
    "users": ("id", ("created_at",)),
    "api_keys": ("key_id", ("created_at", "expires_at", "revoked_at")),
    "sessions": ("token_hash", ("expires_at",)),
    "audit": ("id", ("at",)),
    "erasures": ("id", ("at",)),
}

entities = sa.table(
    "entities",
    sa.column("rowid", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("record", sa.Text),
)
members = sa.table(
    "members",
    sa.column("entity_rowid", sa.Integer),
    sa.column("user", sa.String),
    sa.column("owner", sa.Boolean),
    sa.column("team_position", sa.Integer),
)


def upgrade() -> None:
    op.add_column(
        "members", sa.Column("owner", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("members", sa.Column("team_position", sa.Integer))
    db = op.get_bind()
    for rowid, kind, raw in db.execute(sa.select(entities)).all():
        record: dict[str, Any] = json.loads(raw)
        if kind == "project":
            _members(db, rowid, record.get("owner"), record.get("team") or [])
        rest = {k: v for k, v in record.items() if k not in IN_COLUMNS[kind]}
        db.execute(
            entities.update()
            .where(entities.c.rowid == rowid)
            .values(record=json.dumps(rest, sort_keys=True, ensure_ascii=False))
        )
    op.drop_column("entities", "owner")
    for name, (key, columns) in MOMENTS.items():
        _rewrite_moments(db, name, key, columns)
    op.create_table(
        "hits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket", sa.String, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("hits_bucket", "hits", ["bucket", "at"])


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")


def _members(db: sa.Connection, rowid: int, owner: str | None, team: list[str]) -> None:
    named = [owner] if owner else []
    named += [user for user in team if user not in named]
    stored = set(
        db.execute(sa.select(members.c.user).where(members.c.entity_rowid == rowid)).scalars()
    )
    for user in named:
        if user not in stored:
            db.execute(members.insert().values(entity_rowid=rowid, user=user))
        position = team.index(user) if user in team else None
        db.execute(
            members.update()
            .where(members.c.entity_rowid == rowid, members.c.user == user)
            .values(owner=user == owner, team_position=position)
        )


def _rewrite_moments(db: sa.Connection, name: str, key: str, columns: tuple[str, ...]) -> None:
    rows = sa.table(name, sa.column(key), *(sa.column(c, sa.String) for c in columns))
    for row in db.execute(sa.select(rows)).all():
        values = {c: _moment(getattr(row, c)) for c in columns}
        db.execute(rows.update().where(rows.c[key] == getattr(row, key)).values(**values))


def _moment(text: str | None) -> str | None:
    """Release 0.2.0 wrote moments to the second or to the millisecond, with or without `Z`."""
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
