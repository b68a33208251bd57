"""Records behind the Slack buttons, the Home tab and specs added from Slack,
on SQLite and on the real PostgreSQL (fixture `db_url`), and what the export
makes of them: A/B pairs first (marked by source), trust rules, reviews.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

SYSTEM = {"role": "system", "content": "Answer from the context. Cite sections."}
Q = "What is the supply voltage range of X1?"
GOOD, BAD, OTHER = "9 to 16 V (§5.3.1).", "12 V only.", "Between 9 V and 16 V, see 5.3.1."


def prompt(question: str = Q) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": f"Context:\n[5.3.1] Supply: 9-16 V\n\nQuestion: {question}"}]


def answer(job: str, ts: str, text: str, question: str = Q, asker: str = "UASKER1", **kw: Any) -> None:
    from feedback.store import record_answer

    payload = {"team": "T1", "channel": "C1", "thread_ts": "1700000000.000001", "ts": ts, "user": asker,
               "question": question}  # fmt: skip
    result = {"answer": text, "message_ts": ts, "messages": kw.get("messages", prompt(question)), "model": "smol",
              "sources": [], "timings": {}}  # fmt: skip
    record_answer(job, payload, result)


def press(ts: str, user: str, value: int, action_ts: str, event_id: str | None = None) -> dict[str, Any]:
    from feedback.interactions import press_vote

    return press_vote(channel="C1", message_ts=ts, user=user, value=value, action_ts=action_ts,
                      event_id=event_id or f"b:{ts}:{user}:{action_ts}")  # fmt: skip


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def export(fmt: str, tmp_path: Path, **kw: Any) -> list[dict[str, Any]]:
    from feedback.export import export as do_export
    from feedback.store import get_engine

    out = tmp_path / f"{fmt}-{len(list(tmp_path.iterdir()))}.jsonl"
    do_export(fmt, out, get_engine(), **kw)
    return rows(out)


A1, A2, B1 = "1700000001.000100", "1700000002.000100", "1700000009.000100"


def test_button_votes_one_per_user_changeable_retractable_counted(db_url: str) -> None:
    from feedback.jobs import AnswerNotFound, record_vote

    with pytest.raises(AnswerNotFound):  # a press that overtakes the worker's write is retried
        press(A1, "U1", 1, "1700000100.000001")
    answer("job-1", A1, GOOD)
    r = press(A1, "U1", 1, "1700000100.000001")
    assert (r["status"], r["up"], r["down"], r["mine"]) == ("voted", 1, 0, 1)
    # Slack delivers the same press twice (double click, retry): nothing changes twice.
    r = press(A1, "U1", 1, "1700000100.000001")
    assert (r["status"], r["up"], r["down"], r["mine"]) == ("duplicate", 1, 0, 1)
    r = press(A1, "U1", -1, "1700000101.000001")  # changes their mind
    assert (r["status"], r["up"], r["down"], r["mine"]) == ("voted", 0, 1, -1)
    r = press(A1, "U1", -1, "1700000102.000001")  # the same button again takes it back
    assert (r["status"], r["up"], r["down"], r["mine"]) == ("retracted", 0, 0, None)
    r = press(A1, "U1", 1, "1700000099.000001")  # an older press delivered late
    assert (r["status"], r["up"], r["down"], r["mine"]) == ("stale", 0, 0, None)
    press(A1, "U2", -1, "1700000103.000001")
    # Reactions are the same records: a 👍 reaction counts on the button.
    record_vote({"team": "T1", "channel": "C1", "message_ts": A1, "user": "U3", "reaction": "+1", "added": True,
                 "event_id": "Ev1", "event_ts": "1700000104.000001"})  # fmt: skip
    r = press(A1, "U2", -1, "1700000105.000001")
    assert (r["up"], r["down"]) == (1, 0)


def test_button_votes_feed_the_export_like_reactions(db_url: str, tmp_path: Path) -> None:
    answer("job-1", A1, GOOD)
    answer("job-2", A2, BAD)
    press(A1, "U1", 1, "1700000100.000001")
    press(A2, "U1", -1, "1700000100.000002")
    (row,) = export("dpo", tmp_path)
    assert (row["chosen"][0]["content"], row["rejected"][0]["content"], row["source"]) == (GOOD, BAD, "votes")
    kto = export("kto", tmp_path)
    assert {(r["completion"][0]["content"], r["label"]) for r in kto} == {(GOOD, True), (BAD, False)}


def seed_ab(choice: str = "b", user: str = "UASKER1", role: str = "asker") -> dict[str, Any]:
    from feedback.interactions import link_alternative, record_preference

    answer("job-a", A1, BAD)
    answer("job-b", B1, OTHER)  # "Try another answer": same question, same prompt
    link_alternative(job_id="job-b", alt_of_job_id="job-a")
    return record_preference(a_job="job-a", b_job="job-b", choice=choice, user=user, role=role,
                             action_ts="1700000200.000001")  # fmt: skip


def test_ab_choice_becomes_the_first_dpo_rows_marked_by_source(db_url: str, tmp_path: Path) -> None:
    from feedback.interactions import alternative_of

    assert seed_ab("b")["status"] == "new"
    assert alternative_of("job-a") == "job-b"
    # A vote-built pair for the same question, from two other answers.
    answer("job-1", "1700000003.000100", GOOD)
    answer("job-2", "1700000004.000100", "No idea.")
    press("1700000003.000100", "U5", 1, "1700000300.000001")
    press("1700000004.000100", "U5", -1, "1700000300.000002")
    out = export("dpo", tmp_path)
    assert [r["source"] for r in out] == ["ab", "votes"]
    ab = out[0]
    assert ab["prompt"] == prompt() and ab["chosen"][0]["content"] == OTHER and ab["rejected"][0]["content"] == BAD
    # The rows are what TRL loads (extra "source" column and all).
    from feedback.train import check_rows

    assert len(check_rows("dpo", out, "x")) == 2


def test_ab_double_press_changed_mind_and_neither(db_url: str, tmp_path: Path) -> None:
    from feedback.interactions import record_preference

    seed_ab("a")
    again = record_preference(a_job="job-a", b_job="job-b", choice="a", user="UASKER1", role="asker",
                              action_ts="1700000200.000001")  # fmt: skip
    assert again["status"] == "duplicate"
    changed = record_preference(a_job="job-a", b_job="job-b", choice="b", user="UREV", role="reviewer",
                                action_ts="1700000201.000001")  # fmt: skip
    assert changed == {"status": "changed", "choice": "b"}
    (row,) = export("dpo", tmp_path)
    assert row["chosen"][0]["content"] == OTHER
    record_preference(a_job="job-a", b_job="job-b", choice="neither", user="UASKER1", role="asker",
                      action_ts="1700000202.000001")  # fmt: skip
    assert export("dpo", tmp_path) == []  # "neither" is no preference between the two
    with pytest.raises(ValueError, match="asker or a reviewer"):
        record_preference(a_job="job-a", b_job="job-b", choice="a", user="U9", role="bystander", action_ts="1")


def correct(eid: str, ts: str, user: str, body: str) -> dict[str, Any]:
    from feedback.jobs import record_correction

    return record_correction({"team": "T1", "channel": "C1", "thread_ts": "1700000000.000001", "answer_ts": ts,
                              "user": user, "text": body, "event_id": eid, "ts": "1700000400.000000"})  # fmt: skip


def chosen(out: list[dict[str, Any]]) -> set[str]:
    return {r["chosen"][0]["content"] for r in out}


def test_correction_trust_rules_and_reviews(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedback.interactions import record_review, review_queue
    from feedback.models import Correction
    from feedback.store import get_engine
    from specbot.settings import reset_settings

    monkeypatch.setenv("FEEDBACK_REVIEWERS", "UREV1, UREV2")
    reset_settings()
    answer("job-1", A1, BAD)
    fix_asker, fix_rev, fix_other = "By the asker: 9-16 V.", "By a reviewer: 9-16 V.", "By a bystander: 9-16 V."
    correct("E1", A1, "UASKER1", fix_asker)
    correct("E2", A1, "UREV2", fix_rev)
    correct("E3", A1, "UBYSTANDER", fix_other)
    assert chosen(export("dpo", tmp_path)) == {fix_asker, fix_rev}  # the bystander's waits for review
    assert chosen(export("dpo", tmp_path, include_unreviewed=True)) == {fix_asker, fix_rev, fix_other}
    queue = review_queue()
    assert [(q["kind"], q["text"]) for q in queue] == [("correction", fix_other)]

    with Session(get_engine()) as db:
        ids = {c.text: c.id for c in db.query(Correction)}
    assert record_review(kind="correction", target_id=ids[fix_other], decision="approve", reviewer="UREV1") == {
        "status": "new", "decision": "approve"}  # fmt: skip
    assert chosen(export("dpo", tmp_path)) == {fix_asker, fix_rev, fix_other}
    assert review_queue() == []
    # A reviewer may reject even the asker's correction; rejected never counts.
    record_review(kind="correction", target_id=ids[fix_asker], decision="reject", reviewer="UREV1")
    record_review(kind="correction", target_id=ids[fix_other], decision="reject", reviewer="UREV1")
    assert chosen(export("dpo", tmp_path, include_unreviewed=True)) == {fix_rev}
    assert record_review(kind="correction", target_id=999_999, decision="reject", reviewer="UREV1") == {
        "status": "gone"}  # fmt: skip


def test_review_of_a_thumbs_down_answer(db_url: str, tmp_path: Path) -> None:
    from feedback.interactions import record_review, review_queue

    answer("job-1", A1, GOOD)
    answer("job-2", A2, BAD)
    press(A1, "U1", 1, "1700000100.000001")
    press(A2, "U1", -1, "1700000100.000002")
    press(A2, "U2", 1, "1700000100.000003")  # a tie: A2 is not a bad example by votes alone
    (item,) = review_queue()
    assert (item["kind"], item["text"], item["down"]) == ("answer", BAD, 1)
    assert export("dpo", tmp_path) == []
    record_review(kind="answer", target_id=item["id"], decision="approve", reviewer="UREV1")
    (row,) = export("dpo", tmp_path)  # the reviewer confirmed the 👎: now a bad example
    assert (row["chosen"][0]["content"], row["rejected"][0]["content"]) == (GOOD, BAD)
    assert review_queue() == []
    record_review(kind="answer", target_id=item["id"], decision="reject", reviewer="UREV1")
    assert export("dpo", tmp_path) == []  # the 👎 is ignored: A2 is rated +1 now, no pair against A1
    kto = export("kto", tmp_path)
    assert {(r["completion"][0]["content"], r["label"]) for r in kto} == {(GOOD, True), (BAD, True)}


def test_spec_uploads_latest_version_and_who(db_url: str) -> None:
    from feedback.interactions import latest_uploads, record_spec_upload

    record_spec_upload(doc="a.docx", source="cli", status="indexed", sections=10, tables=2, chunks=12)
    b_link = "https://test.slack.com/files/UIDX1/F1/b.docx"
    record_spec_upload(doc="b.docx", source="slack", status="indexed", added_by="UIDX1", file_id="F1",
                       permalink=b_link, sections=5, tables=1, chunks=6)  # fmt: skip
    record_spec_upload(doc="b.docx", source="slack", status="unchanged", added_by="UIDX2", file_id="F2")
    record_spec_upload(doc="b.docx", source="slack", status="failed", added_by="UIDX2", error="encrypted")
    record_spec_upload(doc="a.docx", source="slack", status="indexed", added_by="UIDX2", file_id="F3",
                       permalink="https://test.slack.com/files/UIDX2/F3/a.docx", sections=11, tables=3,
                       chunks=13, replaced=True)  # fmt: skip
    got = latest_uploads()
    assert set(got) == {"a.docx", "b.docx"}
    a, b = got["a.docx"], got["b.docx"]
    assert (a.source, a.added_by, a.sections, a.tables) == ("slack", "UIDX2", 11, 3)
    assert a.permalink and a.permalink.endswith("/F3/a.docx")
    # The same content shared again changes nothing: the first adder and counts stand; failures never count.
    assert (b.added_by, b.sections, b.permalink) == ("UIDX1", 5, "https://test.slack.com/files/UIDX1/F1/b.docx")


def test_weekly_approval_over_eight_weeks(db_url: str) -> None:
    from feedback.interactions import weekly_approval
    from feedback.models import Answer
    from feedback.store import get_engine

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday
    for i, (weeks_ago, value) in enumerate([(0, 1), (0, -1), (2, 1), (7, -1), (9, 1)]):
        ts = f"17000010{i:02d}.000100"
        answer(f"job-{i}", ts, GOOD)
        with Session(get_engine()) as db, db.begin():
            db.execute(update(Answer).where(Answer.job_id == f"job-{i}")
                       .values(created_at=now - timedelta(weeks=weeks_ago)))  # fmt: skip
        press(ts, "U1", value, f"17000020{i:02d}.000001")
    pts = weekly_approval(8, now=now)
    assert [p["week"] for p in pts][0] == "2026-10-12" and pts[-1]["week"] == "2026-11-30"
    assert [p["rated"] for p in pts] == [1, 0, 0, 0, 0, 1, 0, 2]  # 9 weeks ago is out of the window
    assert [p["approval"] for p in pts] == [0.0, None, None, None, None, 1.0, None, 0.5]


def test_approval_chart_png() -> None:
    from feedback.stats import approval_png

    pts = [{"week": f"2026-10-{5 + 7 * i:02d}", "rated": i, "approved": i // 2,
            "approval": None if i == 0 else (i // 2) / i} for i in range(8)]  # fmt: skip
    png = approval_png(pts)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000


def test_specbot_index_records_sections_and_tables_for_the_home_tab(sample_spec: Path) -> None:
    from feedback.interactions import latest_uploads
    from specbot.cli import main

    assert main(["index", str(sample_spec), "--json"]) == 0
    up = latest_uploads()[sample_spec.name]
    assert (up.source, up.added_by, up.permalink) == ("cli", None, None)
    assert up.sections > 5 and up.chunks > 5
