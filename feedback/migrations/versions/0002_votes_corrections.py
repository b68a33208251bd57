"""votes, corrections and applied Slack events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voter", sa.String(128), nullable=False),
        sa.Column("emoji", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer()),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.Column("event_ts", sa.String(32)),
        sa.Column("last_event_id", sa.String(64)),
        sa.UniqueConstraint("answer_id", "voter", "emoji", name="uq_votes_answer_voter_emoji"),
    )
    op.create_index("ix_votes_answer_id", "votes", ["answer_id"])
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("answer_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_corrections_answer_id", "corrections", ["answer_id"])
    op.create_table(
        "feedback_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback_events")
    op.drop_table("corrections")
    op.drop_table("votes")
