"""Slack experience: A/B preferences, reviews, specs added from Slack, second answers

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as b:
        b.add_column(sa.Column("alt_of", sa.Integer(), nullable=True))
        b.add_column(sa.Column("sources", sa.JSON(), nullable=True))
        b.create_foreign_key("fk_answers_alt_of", "answers", ["alt_of"], ["id"], ondelete="SET NULL")
        b.create_index("ix_answers_alt_of", ["alt_of"])
    op.create_table(
        "preferences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("answer_a_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("answer_b_id", sa.Integer(), sa.ForeignKey("answers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("chooser", sa.String(128), nullable=False),
        sa.Column("chooser_role", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action_ts", sa.String(32)),
        sa.UniqueConstraint("answer_a_id", "answer_b_id", name="uq_preferences_pair"),
    )
    op.create_index("ix_preferences_answer_a_id", "preferences", ["answer_a_id"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "target_id", name="uq_reviews_target"),
    )
    op.create_table(
        "spec_uploads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("doc", sa.String(512), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("added_by", sa.String(64)),
        sa.Column("team", sa.String(32)),
        sa.Column("channel", sa.String(32)),
        sa.Column("file_id", sa.String(32)),
        sa.Column("permalink", sa.Text()),
        sa.Column("sections", sa.Integer(), nullable=False),
        sa.Column("tables", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("replaced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_spec_uploads_doc", "spec_uploads", ["doc"])


def downgrade() -> None:
    op.drop_table("spec_uploads")
    op.drop_table("reviews")
    op.drop_table("preferences")
    with op.batch_alter_table("answers") as b:
        b.drop_index("ix_answers_alt_of")
        b.drop_constraint("fk_answers_alt_of", type_="foreignkey")
        b.drop_column("alt_of")
        b.drop_column("sources")
