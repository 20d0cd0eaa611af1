"""Release 0.2.0's schema (its hand-written version 4), as it stood: a database made by that
release is stamped with this revision; an empty one is created by it.

Revision ID: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("rowid", sa.Integer, primary_key=True),
        sa.Column("id", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("subkind", sa.String),
        sa.Column("visibility", sa.String),
        sa.Column("owner", sa.String),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String, nullable=False),
        sa.Column("stored_at", sa.String, nullable=False),
        sa.CheckConstraint(
            "kind IN ('project', 'organisation', 'call')", name="entities_kind_check"
        ),
    )
    op.create_index("entities_kind", "entities", ["kind", "rowid"])
    op.create_table(
        "documents",
        sa.Column("rowid", sa.Integer, primary_key=True),
        sa.Column(
            "entity_rowid",
            sa.Integer,
            sa.ForeignKey("entities.rowid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.UniqueConstraint("entity_rowid", "position"),
    )
    op.create_table(
        "embeddings",
        sa.Column("model", sa.String, nullable=False),
        sa.Column("hash", sa.String, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("model", "hash"),
    )
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("by", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("object_id", sa.String, nullable=False),
    )
    op.create_table(
        "members",
        sa.Column(
            "entity_rowid",
            sa.Integer,
            sa.ForeignKey("entities.rowid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user", sa.String, nullable=False),
        sa.Column("ended_by", sa.Integer, sa.ForeignKey("erasures.id")),
        sa.PrimaryKeyConstraint("entity_rowid", "user"),
    )
    op.create_index("members_user", "members", ["user"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String, nullable=False, unique=True),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("organisation", sa.String),
        sa.Column("display_name", sa.String, nullable=False, server_default=""),
        sa.Column("password_hash", sa.String),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("created_at", sa.String, nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'bizdev', 'researcher', 'guest')", name="users_role_check"
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("secret_hash", sa.String, nullable=False),
        sa.Column("label", sa.String, nullable=False, server_default=""),
        sa.Column("created_at", sa.String, nullable=False),
        sa.Column("expires_at", sa.String),
        sa.Column("revoked_at", sa.String),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("expires_at", sa.String, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("object_id", sa.String, nullable=False),
    )
    op.create_index("audit_object", "audit", ["object_id", "at"])
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    identity = op.create_table(
        "identity",
        sa.Column("one", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String, nullable=False),
        sa.CheckConstraint("one = 1", name="identity_one_check"),
    )
    op.bulk_insert(meta, [{"key": "generation", "value": 0}])
    op.bulk_insert(identity, [{"one": 1, "id": secrets.token_hex(16)}])


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")
