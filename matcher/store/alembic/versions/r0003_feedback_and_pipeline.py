"""Feedback on suggested pairs, and the pipeline of shortlisted matches with their history.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def _entity(name: str) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer, sa.ForeignKey("entities.rowid", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        _entity("project_rowid"),
        _entity("candidate_rowid"),
        sa.Column("verdict", sa.String, nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
        sa.UniqueConstraint("user_id", "project_rowid", "candidate_rowid"),
        sa.CheckConstraint(
            "verdict IN ('relevant', 'not_relevant', 'already_known')",
            name="feedback_verdict_check",
        ),
    )
    op.create_table(
        "pipeline",
        sa.Column("id", sa.Integer, primary_key=True),
        _entity("project_rowid"),
        _entity("candidate_rowid"),
        sa.Column("stage", sa.String, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.UniqueConstraint("project_rowid", "candidate_rowid"),
    )
    op.create_table(
        "pipeline_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "entry_id", sa.Integer, sa.ForeignKey("pipeline.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("stage", sa.String, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("by", sa.String, nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
    )
    op.create_index("pipeline_events_entry", "pipeline_events", ["entry_id", "id"])


def downgrade() -> None:
    raise NotImplementedError("A store is not downgraded: restore a backup instead.")
