"""SQLAlchemy 2 models for the feedback database.

The schema is owned by Alembic (feedback/migrations); these classes must match
the latest revision. A test compares them with the migrated database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    team: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    question_ts: Mapped[str | None] = mapped_column(String(32))
    asker: Mapped[str | None] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    hits: Mapped[list] = mapped_column(JSON, default=list)
    # The sections the answer cites (a subset of hits), as shown under it; NULL before revision 0003.
    sources: Mapped[list | None] = mapped_column(JSON)
    messages: Mapped[list] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(256))
    timings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "Try another answer": the answer this one is the second try of (same question, same prompt).
    alt_of: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"), index=True)

    votes: Mapped[list[Vote]] = relationship(back_populates="answer", lazy="raise")
    corrections: Mapped[list[Correction]] = relationship(back_populates="answer", lazy="raise")


class Vote(Base):
    """One emoji reaction by one voter on one answer.

    (answer, voter, emoji) is unique: re-adding a removed reaction revives the
    row (removed_at back to NULL, added_at moves on), so a voter's latest action counts.
    """

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("answer_id", "voter", "emoji", name="uq_votes_answer_voter_emoji"),
        Index("ix_votes_answer_id", "answer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(128))
    emoji: Mapped[str] = mapped_column(String(64))
    value: Mapped[int | None] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Slack event time of the last add/remove applied: an older event that
    # arrives late (queue retry) does not overwrite a newer one.
    event_ts: Mapped[str | None] = mapped_column(String(32))
    last_event_id: Mapped[str | None] = mapped_column(String(64))

    answer: Mapped[Answer] = relationship(back_populates="votes", lazy="raise")


class Correction(Base):
    """A user's corrected answer, written as a reply in the answer's thread."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Slack event_id: a replayed event finds its row and changes nothing.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)

    answer: Mapped[Answer] = relationship(back_populates="corrections", lazy="raise")


class AppliedEvent(Base):
    """Slack event IDs already applied, so a replayed vote event is a no-op."""

    __tablename__ = "feedback_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Preference(Base):
    """A person's choice between two answers to the same question ("Which is better?").

    One row per A/B pair: the latest choice of the asker or a reviewer counts
    (changing one's mind is allowed; a replayed button press is not a change).
    """

    __tablename__ = "preferences"
    __table_args__ = (UniqueConstraint("answer_a_id", "answer_b_id", name="uq_preferences_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_a_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    answer_b_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"))
    choice: Mapped[str] = mapped_column(String(8))  # a | b | neither
    chooser: Mapped[str] = mapped_column(String(128))
    chooser_role: Mapped[str] = mapped_column(String(16))  # asker | reviewer
    # Where the pair came from; the export marks rows with it ("ab": the A/B buttons).
    source: Mapped[str] = mapped_column(String(16), default="ab")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Slack action_ts of the press applied last: an older press delivered late changes nothing.
    action_ts: Mapped[str | None] = mapped_column(String(32))


class Review(Base):
    """A reviewer's decision on a 👎 answer or a correction; it overrides the export's trust rules.

    kind "answer": approve = the 👎 stands (the answer is a bad example), reject = the 👎 is
    ignored. kind "correction": approve = trusted training data, reject = left out.
    """

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("kind", "target_id", name="uq_reviews_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # answer | correction
    target_id: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(8))  # approve | reject
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SpecUpload(Base):
    """One indexing of a spec: who added which file, when, and what the indexer said.

    Append-only. `source` is "slack" for files added from Slack (with the file's
    permalink, so sources can link to it) or "cli" for `specbot index`. `added_by` is
    the raw Slack user ID (shown in the Home tab as a mention): adding a spec is an
    admin action by a listed indexer, not feedback, so it is not hashed.
    """

    __tablename__ = "spec_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc: Mapped[str] = mapped_column(String(512), index=True)
    source: Mapped[str] = mapped_column(String(16))  # slack | cli
    status: Mapped[str] = mapped_column(String(16))  # indexed | unchanged | failed
    added_by: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    file_id: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(Text)
    sections: Mapped[int] = mapped_column(Integer, default=0)
    tables: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    replaced: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Meta(Base):
    """Values every process using this database must agree on, written once.

    `user_id_salt`: the salt of the user-ID hashes when USER_ID_SALT is not set
    (feedback.store.user_salt). It lives here, not in a data dir, because bot and
    worker replicas in a cluster share the database but not a disk.
    """

    __tablename__ = "feedback_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
