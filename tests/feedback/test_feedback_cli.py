"""`specbot feedback export|stats` through the real console script, and votes
travelling through the real RQ "feedback" queue with retries."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feedback.test_feedback_flow import A1, GOOD, QUESTION, answer, read_jsonl, seed


def test_export_cli_writes_loadable_kto_with_holdout(tmp_path: Path) -> None:
    import datasets

    seed()
    answer("job-4", "1700000004.000100", "Which pins carry CAN?", "Pins 3 and 4.")
    from tests.feedback.test_feedback_flow import vote

    vote("Ev20", "1700000004.000100", "U2", "thumbsup")
    out = tmp_path / "out" / "kto.jsonl"
    r = run_cli("feedback", "export", "--format", "kto", "--out", str(out), "--holdout", "0.5", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    ev = Path(rep["eval_out"])
    assert ev == tmp_path / "out" / "kto.eval.jsonl"
    assert rep["rows"] >= 1 and rep["eval_rows"] >= 1 and rep["rows"] + rep["eval_rows"] == 4
    train_q = {m["content"] for row in read_jsonl(out) for m in row["prompt"] if m["role"] == "user"}
    eval_q = {m["content"] for row in read_jsonl(ev) for m in row["prompt"] if m["role"] == "user"}
    assert not train_q & eval_q, "a question must not sit on both sides of the split"
    ds = datasets.load_dataset("json", data_files={"train": str(out), "test": str(ev)})
    assert set(ds["train"].column_names) == {"prompt", "completion", "label"}
    assert ds["train"].num_rows + ds["test"].num_rows == 4


def test_export_cli_filters_by_model_and_since(tmp_path: Path) -> None:
    seed()  # all answers by model "smol", created now
    answer("job-9", "1700000009.000100", "Other?", "Other answer.", model="llama-lora-a")
    from tests.feedback.test_feedback_flow import vote

    vote("Ev90", "1700000009.000100", "U2", "+1")
    out = tmp_path / "sft.jsonl"
    r = run_cli("feedback", "export", "--format", "sft", "--out", str(out), "--model", "llama-lora-a")
    assert r.returncode == 0, r.stderr
    assert "wrote 1 SFT rows" in r.stdout
    assert [row["messages"][-1]["content"] for row in read_jsonl(out)] == ["Other answer."]
    r = run_cli("feedback", "export", "--format", "sft", "--out", str(out), "--since", "2999-01-01")
    assert r.returncode == 0 and read_jsonl(out) == []
    assert "no rows" in r.stderr


def test_export_cli_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    r = run_cli("feedback", "export", "--format", "xml", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("feedback", "export", "--format", "kto", "--out", str(tmp_path / "x"), "--since", "yesterday")
    assert r.returncode == 2 and "--since 'yesterday' is not a date" in r.stderr


def test_stats_cli_table_json_and_plot(tmp_path: Path) -> None:
    seed()
    answer("job-4", "1700000004.000100", "Unrated question?", "Some answer.")
    r = run_cli("feedback", "stats", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    # 4 answers, 3 rated (A1 +2, A2 -2, A3 tie), approval 1/3; the correction on A2 counted.
    assert st["total"] == {
        "answers": 4, "rated": 3, "share_rated": 0.75, "approved": 1, "approval": pytest.approx(1 / 3),
        "corrections": 1,
    }  # fmt: skip
    assert st["by_model"]["smol"]["answers"] == 4
    assert st["by_section"][0]["doc"] == "spec.docx" and st["by_section"][0]["section"] == "5.3.1"
    assert len(st["over_time"]) == 1 and st["over_time"][0]["rated"] == 3

    png = tmp_path / "chart.png"
    r = run_cli("feedback", "stats", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    for text in ("Feedback", "share rated", "approval", "By model / adapter", "By document", "spec.docx", "33%"):
        assert text in r.stdout


def test_slack_and_cli_stats_print_the_same_numbers() -> None:
    """`/spec stats` (bot/commands.py) and `specbot feedback stats` come from feedback/stats.py."""
    import re

    from bot.commands import stats_text
    from tests.feedback.test_feedback_flow import vote

    seed()
    vote("Ev30", "1700000001.000100", "U7", "tada")  # an emoji with no vote value
    vote("Ev31", "1700000001.000100", "U8", "+1")
    vote("Ev32", "1700000001.000100", "U8", "+1", added=False, at=5)  # retracted: not counted
    slack = stats_text()
    r = run_cli("feedback", "stats")
    assert r.returncode == 0, r.stderr
    cli = next(line for line in r.stdout.splitlines() if line.startswith("Feedback so far:"))
    # Slack spells the thumbs as :+1: / :-1:, the terminal as emoji: compare the numbers.
    numbers = [re.findall(r"\d+", re.sub(r":[a-z0-9_+-]+:", "", text.split("so far:")[1])) for text in (slack, cli)]
    assert numbers[0] == numbers[1]
    st = json.loads(run_cli("feedback", "stats", "--json").stdout)
    t = st["totals"]
    assert numbers[0] == [str(t[k]) for k in ("answers", "up", "down")] + [
        str(100 * t["up"] // (t["up"] + t["down"])),
        str(t["other"]),
        str(t["corrections"]),
    ]
    assert t["answers"] == st["total"]["answers"] and t["corrections"] == st["total"]["corrections"]
    assert t["other"] >= 1  # tada: a reaction, not a vote


def test_stats_cli_empty_database() -> None:
    r = run_cli("feedback", "stats")
    assert r.returncode == 0, r.stderr
    assert "—" in r.stdout  # no approval rate yet, rather than a crash or 0%


def test_vote_through_queue_is_retried_until_the_answer_exists(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A vote that overtakes its answer fails, is retried by RQ, and lands."""
    import redis
    from rq import Retry, SimpleWorker
    from rq.job import JobStatus

    from feedback.export import load_records
    from feedback.store import get_engine
    from specbot.contracts import SERIALIZER, feedback_queue

    conn = redis.Redis.from_url(redis_url)
    q = feedback_queue(conn)
    event = {"team": "T1", "channel": "C1", "message_ts": A1, "user": "U2", "reaction": "+1", "added": True,
             "event_id": "EvQ1", "event_ts": "1700000100.000000"}  # fmt: skip
    job = q.enqueue("feedback.jobs.record_vote", event, retry=Retry(max=3, interval=1))
    worker = SimpleWorker([q], connection=conn, serializer=SERIALIZER)
    worker.work(burst=True)
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED  # failed once, waiting for its retry
    assert "AnswerNotFound" in caplog.text

    answer("job-1", A1, QUESTION, GOOD)  # the worker commits the answer row
    # The retry is due 1 s after the failure: run the scheduler and worker until it has run.
    deadline = time.monotonic() + 30
    while job.get_status(refresh=True) != JobStatus.FINISHED:
        assert time.monotonic() < deadline, job.get_status(refresh=True)
        SimpleWorker([q], connection=conn, serializer=SERIALIZER).work(burst=True, with_scheduler=True)
        time.sleep(0.1)
    (rec,) = load_records(get_engine())
    assert (rec.net, rec.voters) == (1, 1)
