"""The weekly digest: users' addresses and choices, bounced addresses, the signing key of the
digest's links, one send record per recipient and week, and what earlier digests showed.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def _user() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )


def _entity(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, sa.ForeignKey("entities.rowid", ondelete="CASCADE"))


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String))
    op.create_table(
        "signing_keys",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("secret", sa.String, nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("sections", sa.String, nullable=False),
        sa.Column("threshold", sa.String, nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.CheckConstraint("threshold IN ('strong', 'good')", name="subscriptions_threshold_check"),
    )
    op.create_table(
        "bounces",
        sa.Column("address", sa.String, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
    )
    op.create_table(
        "digest_sends",
        sa.Column("id", sa.Integer, primary_key=True),
        _user(),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("message_id", sa.String, nullable=False),
        sa.Column("address", sa.String, nullable=False, server_default=""),
        sa.Column("items", sa.Text, nullable=False, server_default="[]"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.UniqueConstraint("user_id", "week"),
        sa.CheckConstraint(
            "state IN ('composed', 'sending', 'sent', 'empty', 'unsubscribed', 'bounced', "
            "'failed', 'uncertain', 'cancelled')",
            name="digest_sends_state_check",
        ),
    )
    op.create_table(
        "digest_seen",
        _user(),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        _entity("project_rowid"),
        _entity("candidate_rowid"),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")
