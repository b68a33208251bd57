"""answers table (as first shipped with create_all)

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("team", sa.String(32)),
        sa.Column("channel", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("question_ts", sa.String(32)),
        sa.Column("asker", sa.String(128)),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("hits", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("model", sa.String(256)),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answers_job_id", "answers", ["job_id"], unique=True)
    op.create_index("ix_answers_message_ts", "answers", ["message_ts"])


def downgrade() -> None:
    op.drop_table("answers")
