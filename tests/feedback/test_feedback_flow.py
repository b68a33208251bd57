"""Feedback records end to end, on SQLite and on the real PostgreSQL:
answers recorded by the worker, Slack votes/corrections through the jobs the
bot enqueues, and the TRL datasets exported from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

QUESTION = "What does the bottom view show?"
SYSTEM = {"role": "system", "content": "Answer from the context. Cite sections."}


def msgs(question: str, context: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"}]


def answer(job: str, ts: str, question: str, text_: str, context: str = "[5.3.1] Bottom View ...", **kw: Any) -> None:
    from feedback.store import record_answer

    payload = {
        "team": "T1",
        "channel": "C1",
        "thread_ts": "1700000000.000001",
        "ts": ts,
        "user": "U1",
        "question": question,
    }
    result = {
        "answer": text_,
        "message_ts": ts,
        "messages": msgs(question, context),
        "model": kw.get("model", "smol"),
        "sources": [{"doc": "spec.docx", "section": "5.3.1", "title": "Bottom View", "text": "…", "score": 1.0}],
        "timings": {"total_s": 1.0},
    }
    record_answer(job, payload, result)


def vote(eid: str, ts: str, user: str, reaction: str, added: bool = True, at: float = 0.0) -> dict[str, Any]:
    from feedback.jobs import record_vote

    return record_vote(
        {
            "team": "T1",
            "channel": "C1",
            "message_ts": ts,
            "user": user,
            "reaction": reaction,
            "added": added,
            "event_id": eid,
            "event_ts": f"{1700000100 + at:.6f}",
        }
    )


def correct(eid: str, ts: str, user: str, body: str) -> dict[str, Any]:
    from feedback.jobs import record_correction

    return record_correction(
        {
            "team": "T1",
            "channel": "C1",
            "thread_ts": "1700000000.000001",
            "answer_ts": ts,
            "user": user,
            "text": body,
            "event_id": eid,
            "ts": "1700000200.000000",
        }
    )


A1, A2, A3 = "1700000001.000100", "1700000002.000100", "1700000003.000100"
GOOD, BAD = "The bottom view shows the connector pins (5.3.1).", "The bottom view shows the label."
FIX = "It shows the pin layout of connector X1, see 5.3.1 Bottom View."


def events() -> list[tuple[str, tuple]]:
    """Slack events in arrival order, for three answers."""
    return [
        ("v", ("Ev1", A1, "U2", "+1")),
        ("v", ("Ev2", A1, "U3", "thumbsdown", True, 1)),
        ("v", ("Ev3", A1, "U3", "thumbsdown", False, 2)),  # U3 retracts the 👎 ...
        ("v", ("Ev4", A1, "U3", "+1::skin-tone-3", True, 3)),  # ... and gives a 👍 (skin tone ignored)
        ("v", ("Ev5", A2, "U2", "-1")),
        ("v", ("Ev6", A2, "U4", "+1", True, 1)),
        ("v", ("Ev7", A2, "U4", "x", True, 2)),  # U4 changes their mind: the latest vote counts
        ("v", ("Ev8", A2, "U5", "eyes", True, 3)),  # not a vote: stored raw, no value
        ("v", ("Ev9", A3, "U2", "white_check_mark")),
        ("v", ("Ev10", A3, "U3", "thumbsdown")),  # A3: tie -> left out of KTO
        ("c", ("Ec1", A2, "U1", FIX)),  # by the asker: trusted
    ]


def play() -> list[dict[str, Any]]:
    return [vote(*a) if kind == "v" else correct(*a) for kind, a in events()]


def seed() -> None:
    answer("job-1", A1, QUESTION, GOOD)
    answer("job-2", A2, QUESTION + "  ", BAD, context="[5.3] Views ...")  # same question, other context
    answer("job-3", A3, "Maximum current of X1?", "10 A.")
    play()


def read_jsonl(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()]


def snapshot() -> list[tuple]:
    from feedback.models import Correction, Vote
    from feedback.store import get_engine

    with Session(get_engine()) as db:
        votes = [(v.answer_id, v.voter, v.emoji, v.value, v.added_at, v.removed_at) for v in db.scalars(select(Vote))]
        cors = [(c.answer_id, c.author, c.text, c.created_at) for c in db.scalars(select(Correction))]
    return sorted(votes, key=repr) + sorted(cors, key=repr)


def test_migrations_create_the_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from feedback.models import Base
    from feedback.store import get_engine

    eng = get_engine()
    assert eng.url.render_as_string(hide_password=False) == db_url
    with eng.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        # The models and the migrated database agree (no missing column or table).
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if d[0] in ("add_table", "add_column", "remove_column")] == []


def test_feedback_flow_exports_expected_rows(db_url: str, tmp_path: Path) -> None:
    from feedback.export import export
    from feedback.models import Vote
    from feedback.store import get_engine

    seed()
    with Session(get_engine()) as db:
        voters = set(db.scalars(select(Vote.voter)))
        eyes = db.scalar(select(Vote).where(Vote.emoji == "eyes"))
        retracted = db.scalar(select(Vote).where(Vote.emoji == "thumbsdown", Vote.removed_at.is_not(None)))
    assert not voters & {"U2", "U3", "U4", "U5"}, "Slack IDs must be stored hashed"
    assert eyes is not None and eyes.value is None
    assert retracted is not None and retracted.value == -1

    prompt1, prompt2 = msgs(QUESTION, "[5.3.1] Bottom View ..."), msgs(QUESTION + "  ", "[5.3] Views ...")
    kto = tmp_path / "kto.jsonl"
    rep = export("kto", kto, get_engine())
    rows = sorted(read_jsonl(kto), key=lambda r: r["completion"][0]["content"])
    assert rows == sorted(
        [
            {"prompt": prompt1, "completion": [{"role": "assistant", "content": GOOD}], "label": True},
            {"prompt": prompt2, "completion": [{"role": "assistant", "content": BAD}], "label": False},
            {"prompt": prompt2, "completion": [{"role": "assistant", "content": FIX}], "label": True},
        ],
        key=lambda r: r["completion"][0]["content"],
    )
    assert rep.skipped.get("tie") == 1  # A3

    dpo = tmp_path / "dpo.jsonl"
    export("dpo", dpo, get_engine())
    rows = read_jsonl(dpo)
    pairs = {(r["chosen"][0]["content"], r["rejected"][0]["content"]): r["prompt"] for r in rows}
    assert pairs == {(FIX, BAD): prompt2, (GOOD, BAD): prompt1}
    assert [r["source"] for r in rows] == ["correction", "votes"]

    sft = tmp_path / "sft.jsonl"
    export("sft", sft, get_engine())
    assert sorted(r["messages"][-1]["content"] for r in read_jsonl(sft)) == sorted([GOOD, FIX])
    assert all(r["messages"][:-1] in (prompt1, prompt2) for r in read_jsonl(sft))

    import datasets

    ds = datasets.load_dataset("json", data_files={"train": str(dpo)}, split="train")
    assert ds.num_rows == 2 and set(ds.column_names) == {"prompt", "chosen", "rejected", "source"}


def test_replayed_events_change_nothing(db_url: str, tmp_path: Path) -> None:
    from feedback.export import export
    from feedback.store import get_engine

    seed()
    before, out1 = snapshot(), tmp_path / "a.jsonl"
    export("kto", out1, get_engine())
    statuses = play()  # Slack retries / queue replays deliver every event again
    assert {s["status"] for s in statuses} == {"duplicate"}
    out2 = tmp_path / "b.jsonl"
    export("kto", out2, get_engine())
    assert snapshot() == before
    assert out1.read_text() == out2.read_text()


def test_late_older_event_does_not_revive_a_removed_vote(db_url: str) -> None:
    from feedback.export import load_records
    from feedback.store import get_engine

    answer("job-1", A1, QUESTION, GOOD)
    vote("E2", A1, "U2", "+1", False, at=5)  # the removal arrives first ...
    vote("E1", A1, "U2", "+1", True, at=1)  # ... then the older add (delayed retry)
    (rec,) = load_records(get_engine())
    assert rec.voters == 0 and rec.net == 0


def test_vote_before_answer_raises_for_retry(db_url: str) -> None:
    from feedback.export import load_records
    from feedback.jobs import AnswerNotFound
    from feedback.store import get_engine

    with pytest.raises(AnswerNotFound):
        vote("E1", A1, "U2", "+1")
    with pytest.raises(AnswerNotFound):
        correct("C1", A1, "U1", FIX)
    answer("job-1", A1, QUESTION, GOOD)  # the answer row lands; RQ retries the jobs
    assert vote("E1", A1, "U2", "+1")["status"] == "new"
    assert correct("C1", A1, "U1", FIX)["status"] == "new"
    (rec,) = load_records(get_engine())
    assert (rec.net, rec.corrections) == (1, [FIX])


def test_database_down_raises_and_nothing_is_marked_done(monkeypatch: pytest.MonkeyPatch) -> None:
    from specbot.errors import SpecbotError
    from specbot.settings import reset_settings

    # Nothing listens on port 1: the job must fail loudly so that RQ retries it.
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    reset_settings()
    with pytest.raises(SpecbotError, match="cannot open the feedback database"):
        vote("E1", A1, "U2", "+1")


def test_raw_user_ids_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from feedback.models import Vote
    from feedback.store import get_engine
    from specbot.settings import reset_settings

    monkeypatch.setenv("FEEDBACK_HASH_USERS", "false")
    monkeypatch.setenv("FEEDBACK_EMOJI", "rocket:1,+1:1")
    reset_settings()
    answer("job-1", A1, QUESTION, GOOD)
    vote("E1", A1, "U2", "rocket")
    vote("E2", A1, "U3", "thumbsdown")  # not in this workspace's mapping: raw, no value
    with Session(get_engine()) as db:
        got = {(v.voter, v.emoji, v.value) for v in db.scalars(select(Vote))}
    assert got == {("U2", "rocket", 1), ("U3", "thumbsdown", None)}


def test_old_database_without_alembic_is_adopted(tmp_path: Path) -> None:
    """A database made by the first release (create_all of answers) migrates forward, rows kept."""
    import sqlalchemy as sa

    from feedback.export import load_records
    from feedback.models import Answer
    from feedback.store import get_engine
    from specbot.settings import get_settings

    url = get_settings().db_url
    old = create_engine(url)
    # The first release's table: today's columns minus those later revisions added.
    first = sa.Table(
        "answers",
        sa.MetaData(),
        *[
            sa.Column(c.name, c.type, primary_key=c.primary_key)
            for c in Answer.__table__.columns
            if c.name not in ("alt_of", "sources")
        ],
    )
    first.create(old)
    with old.begin() as c:
        c.execute(
            first.insert().values(
                job_id="j0",
                question="q",
                answer="a",
                hits=[],
                messages=[],
                timings={},
                created_at=__import__("datetime").datetime(2026, 1, 1),
            )
        )
    old.dispose()
    assert [r.question for r in load_records(get_engine())] == ["q"]
    with get_engine().connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
