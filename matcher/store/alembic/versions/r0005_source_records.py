"""The records of imported sources: which entity each source id became, when it was last seen,
and since when it is absent from the source's snapshot.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_records",
        sa.Column("source", sa.String, nullable=False),
        sa.Column("source_id", sa.String, nullable=False),
        sa.Column(
            "entity_rowid",
            sa.Integer,
            sa.ForeignKey("entities.rowid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("first_seen", sa.String(27), nullable=False),
        sa.Column("last_seen", sa.String(27), nullable=False),
        sa.Column("absent_since", sa.String(27)),
        sa.PrimaryKeyConstraint("source", "source_id"),
    )
    op.create_index("source_records_entity", "source_records", ["entity_rowid"])


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")
