"""End to end, the Slack experience: Slack (FAKE Web API + signed requests) -> the
real bot -> real Redis -> a real `specbot worker` process -> real vLLM on CPU.

A question is answered with buttons; someone presses 👎; the asker asks for
another answer, which the worker writes from the same prompt and follows with
"Which is better?"; the asker picks B; the pair comes out of
`specbot feedback export --format dpo` as the first row, marked "ab". Then an
indexer DMs a spec, and the worker indexes it and answers with the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import redis

from specbot.contracts import alternative_job_id, job_id_for
from specbot.slack import views
from specbot.slack.limits import violations
from tests.bot.test_bot import SECRET, start_bot, wait_until
from tests.conftest import run_cli
from tests.fakes.slack_fake import TEAM_ID, FakeSlack, SlackSender, block_actions, mention, new_ts
from tests.workers_helpers import worker_process
from workers.jobs import ANSWERED

pytestmark = pytest.mark.slow
ASKER, OTHER, INDEXER = "U0ALICE1", "U0BOB001", "U0IDX001"


def test_thumbs_down_try_another_choose_b_and_export_the_pair(
    indexed_sample: Path, llm_env: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeSlack().start()
    server, url = start_bot(monkeypatch, fake, {"SLACK_INDEXERS": INDEXER})
    send = SlackSender(url, SECRET)
    conn = redis.Redis.from_url(redis_url)
    data = os.environ["SPECBOT_DATA_DIR"]
    env = {"LLM_BASE_URL": llm_env, "REDIS_URL": redis_url, "SPECBOT_DATA_DIR": data, "SLACK_INDEXERS": INDEXER}
    try:
        with worker_process(env, log=tmp_path / "worker.log"):
            ev = mention("What is the maximum brake pedal force?")
            send.event(ev)
            job_a = job_id_for(TEAM_ID, "C0CHAN01", ev["ts"])
            wait_until(lambda: conn.get(ANSWERED.format(job_a)), timeout=240)
            (post,) = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == ev["ts"]]
            a_ts = post.response["ts"]

            def message(ts: str) -> dict:
                return fake.messages[("C0CHAN01", ts)]

            def press(action_id: str, user: str, ts: str, value: str) -> None:
                payload = block_actions(action_id, value, user=user, message={"ts": ts, **message(ts)},
                                        thread_ts=ev["ts"])  # fmt: skip
                assert send.interaction(payload).status_code == 200

            def button(ts: str, action_id: str) -> dict | None:
                for b in message(ts)["blocks"]:
                    for e in b.get("elements") or []:
                        if e.get("action_id") == action_id:
                            return e
                return None

            up = button(a_ts, views.VOTE_DOWN)
            assert up is not None and up["text"]["text"] == "👎 0"
            press(views.VOTE_DOWN, OTHER, a_ts, up["value"])
            # The feedback job records the vote and shows it, with "Try another answer".
            retry = wait_until(lambda: button(a_ts, views.TRY_ANOTHER), timeout=60)
            assert button(a_ts, views.VOTE_DOWN)["text"]["text"] == "👎 1"  # type: ignore[index]
            press(views.TRY_ANOTHER, ASKER, a_ts, retry["value"])

            job_b = alternative_job_id(job_a)
            wait_until(lambda: conn.get(ANSWERED.format(job_b)), timeout=240)
            ab = wait_until(
                lambda: [
                    c for c in fake.of("chat.postMessage") if views.AB_BLOCK in json.dumps(c.params.get("blocks"))
                ],
                timeout=60,
            )[0]
            assert ab.params["thread_ts"] == ev["ts"]
            posts = [c for c in fake.of("chat.postMessage") if c.params.get("thread_ts") == ev["ts"]]
            assert len(posts) == 3  # answer A, answer B, "Which is better?"
            b_msg = message(posts[1].response["ts"])
            assert "Another answer" in json.dumps(b_msg["blocks"])
            assert button(posts[1].response["ts"], views.TRY_ANOTHER) is None  # no retry of a retry

            choice = next(e for e in ab.params["blocks"][1]["elements"] if e["action_id"] == views.AB_B)
            press(views.AB_B, ASKER, ab.response["ts"], choice["value"])
            wait_until(lambda: "chose B" in message(ab.response["ts"])["text"], timeout=60)

            # An indexer DMs a spec: indexed by the worker, reported in the DM thread.
            info = fake.add_file("dm-spec.docx", indexed_sample.read_bytes(), user=INDEXER)
            ts = new_ts()
            send.event({"type": "message", "subtype": "file_share", "channel": "D0DM0001", "channel_type": "im",
                        "user": INDEXER, "text": "", "ts": ts, "event_ts": ts,
                        "files": [{"id": info["id"], "name": info["name"]}]})  # fmt: skip
            report = wait_until(
                lambda: [c for c in fake.of("chat.postMessage") if str(c.params.get("text")).startswith("Indexed")],
                timeout=240,
            )[0]
            assert report.params["thread_ts"] == ts and "*dm-spec.docx*" in report.params["text"]

        out = tmp_path / "dpo.jsonl"
        r = run_cli("feedback", "export", "--format", "dpo", "--out", str(out), env={"SPECBOT_DATA_DIR": data})
        assert r.returncode == 0, r.stderr
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        a_text = json.loads(conn.get(ANSWERED.format(job_a)))["answer"]
        b_text = json.loads(conn.get(ANSWERED.format(job_b)))["answer"]
        if a_text.strip() == b_text.strip():
            # The small model can write the same short answer twice: no preference to learn.
            assert not [r for r in rows if r["source"] == "ab"]
        else:
            assert rows[0]["source"] == "ab"
            assert (rows[0]["chosen"][0]["content"], rows[0]["rejected"][0]["content"]) == (b_text, a_text)
        for c in fake.calls:
            if c.method in ("chat.postMessage", "chat.update") and c.params.get("blocks"):
                assert violations("message", c.params["blocks"], text=c.params.get("text")) == []
    finally:
        send.close()
        server.shutdown()
        server.server_close()
        fake.stop()
