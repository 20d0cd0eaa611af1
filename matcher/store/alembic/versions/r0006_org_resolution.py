"""Entity resolution of organisations: the latest clusters, and people's decisions on pairs.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None


def _entity(name: str, *, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.Integer,
        sa.ForeignKey("entities.rowid", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "org_clusters",
        _entity("member_rowid", primary_key=True),
        _entity("canonical_rowid"),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("why", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.String(27), nullable=False),
    )
    op.create_table(
        "org_decisions",
        _entity("a_rowid"),
        _entity("b_rowid"),
        sa.Column("same", sa.Boolean, nullable=False),
        sa.Column("by", sa.String, nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
        sa.PrimaryKeyConstraint("a_rowid", "b_rowid"),
    )


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")
