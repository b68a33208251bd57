"""Buttons, "Which is better?", the correction modal, the Home tab, specs added from
Slack, the message shortcut and the bot's Korean: the real Bolt app on its HTTP
adapter, payloads signed with Slack's v0 scheme (block_actions, view_submission,
message_action, app_home_opened), Web API calls to the FAKE Slack
(tests/fakes/slack_fake.py; Slack cannot be reached from here), real Redis, and
the feedback / index jobs run by a real RQ worker in this process.

Every message, modal and Home view the fake receives is checked against Slack's
published Block Kit limits (specbot/slack/limits.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue, SimpleWorker
from sqlalchemy import select
from sqlalchemy.orm import Session

from specbot.contracts import (
    ANSWERS_QUEUE,
    FEEDBACK_QUEUE,
    INDEX_QUEUE,
    SERIALIZER,
    AnswerResult,
    QuestionJob,
    alternative_job_id,
    fetch_job,
    job_id_for,
)
from specbot.slack import views
from specbot.slack.limits import violations
from tests.bot.test_bot import SECRET, TOKEN, wait_until
from tests.fakes.slack_fake import (
    TEAM_ID,
    FakeSlack,
    SlackSender,
    block_actions,
    mention,
    message_shortcut,
    new_action_ts,
    new_ts,
    view_submission,
)

ASKER, OTHER, REVIEWER, INDEXER = "U0ALICE1", "U0BOB001", "U0REV001", "U0IDX001"
HITS = [
    {"doc": "ECU_spec.docx", "section": "5.3.1", "title": "Supply", "text": "The supply range is 9 to 16 V.",
     "score": 0.9},
    {"doc": "ECU_spec.docx", "section": "5.3.1", "title": "Supply", "text": "Below 9 V the ECU resets.", "score": 0.8},
]  # fmt: skip
PROMPT = [{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": "Q: supply?"}]


@dataclass
class IBot:
    url: str
    slack: FakeSlack
    send: SlackSender
    conn: redis.Redis
    deps: Any

    def settle(self) -> None:
        """Wait until the work of every request acked so far is done: pool-size tasks that can
        only pass a barrier together run once no earlier task holds a thread (FIFO queue)."""
        n = self.deps.pool_size
        barrier = threading.Barrier(n)
        futures = [self.deps.pool.submit(barrier.wait, 30) for _ in range(n)]
        for f in futures:
            f.result(timeout=60)

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.conn, serializer=SERIALIZER)

    def run(self, name: str) -> None:
        """What `specbot worker` does with the queue: every job, here, until it is empty."""
        self.settle()
        SimpleWorker([self.queue(name)], connection=self.conn, serializer=SERIALIZER).work(burst=True)

    def ephemerals(self, user: str) -> list[str]:
        return [str(c.params.get("text")) for c in self.slack.of("chat.postEphemeral") if c.params.get("user") == user]


@pytest.fixture
def ibot(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[IBot]:
    from bot.app import build_app, make_deps, serve_http, start_in_thread
    from specbot.settings import get_settings, reset_settings

    fake = FakeSlack().start()
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
           "FEEDBACK_REVIEWERS": REVIEWER, "SLACK_INDEXERS": INDEXER}  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    s = get_settings()
    deps = make_deps(s)
    server = serve_http(build_app(s, deps=deps), "127.0.0.1", 0)
    start_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    b = IBot(url, fake, SlackSender(url, SECRET), redis.Redis.from_url(redis_url), deps)
    yield b
    # Nothing the bot sent may break Slack's limits (Slack would refuse it with invalid_blocks).
    for c in fake.calls:
        if c.method in ("chat.postMessage", "chat.update", "chat.postEphemeral") and c.params.get("blocks"):
            assert violations("message", c.params["blocks"], text=c.params.get("text")) == [], c.method
        if c.method in ("views.publish", "views.open"):
            kind = c.params["view"]["type"]
            assert violations(kind, c.params["view"]) == [], c.method
    b.send.close()
    server.shutdown()
    server.server_close()
    fake.stop()


def deliver(b: IBot, asker: str = ASKER, lang: str | None = None, answer: str = "9 to 16 V (§5.3.1).") -> dict:
    """An answer as a worker delivers it (the real SlackDelivery) and records it."""
    from feedback.store import record_answer
    from workers.slack_delivery import SlackDelivery

    ts = new_ts()
    q = QuestionJob(question="What is the supply voltage range?", source="mention", user=asker, team=TEAM_ID,
                    channel="C0CHAN01", ts=ts, thread_ts=ts, lang=lang)  # fmt: skip
    job_id = job_id_for(TEAM_ID, "C0CHAN01", ts)
    result = AnswerResult.from_wire({"answer": answer, "sources": HITS[:1], "hits": HITS, "model": "smol",
                                     "messages": PROMPT})  # fmt: skip
    msg_ts = SlackDelivery(q, b.conn, job_id).finish(result)
    record_answer(job_id, q, result.model_copy(update={"message_ts": msg_ts}))
    msg = b.slack.messages[("C0CHAN01", str(msg_ts))]
    return {"job": job_id, "ts": msg_ts, "thread_ts": ts, "blocks": msg["blocks"]}


def buttons(blocks: list[dict]) -> dict[str, dict]:
    (actions,) = [b for b in blocks if b.get("block_id") == views.ANSWER_ACTIONS_BLOCK]
    return {e["action_id"]: e for e in actions["elements"]}


def press(b: IBot, ans: dict, action_id: str, user: str = ASKER, action_ts: str | None = None):  # type: ignore[no-untyped-def]
    message = {
        "ts": ans["ts"],
        "blocks": b.slack.messages.get(("C0CHAN01", ans["ts"]), {}).get("blocks", ans["blocks"]),
    }
    value = buttons(ans["blocks"])[action_id]["value"] if action_id in buttons(ans["blocks"]) else ans["value"]
    r = b.send.interaction(block_actions(action_id, value, user=user, message=message, thread_ts=ans["thread_ts"],
                                         action_ts=action_ts))  # fmt: skip
    assert r.status_code == 200


# --- 👍 / 👎 ---------------------------------------------------------------------------
def test_answer_has_buttons_and_votes_are_counted_changed_and_retracted(ibot: IBot) -> None:
    from feedback.export import load_records
    from feedback.store import get_engine

    ans = deliver(ibot)
    labels = {k: v["text"]["text"] for k, v in buttons(ans["blocks"]).items()}
    assert labels == {views.VOTE_UP: "👍 0", views.VOTE_DOWN: "👎 0", views.SOURCES: "Sources",
                      views.CORRECT: "Suggest a correction"}  # fmt: skip
    shown = lambda: buttons(ibot.slack.messages[("C0CHAN01", ans["ts"])]["blocks"])  # noqa: E731

    first = new_action_ts()
    press(ibot, ans, views.VOTE_UP, action_ts=first)
    press(ibot, ans, views.VOTE_UP, action_ts=first)  # the same press delivered twice (double click)
    ibot.settle()
    assert ibot.queue(FEEDBACK_QUEUE).count == 1
    ibot.run(FEEDBACK_QUEUE)
    assert shown()[views.VOTE_UP]["text"]["text"] == "👍 1"
    (rec,) = load_records(get_engine())
    assert (rec.net, rec.voters) == (1, 1)

    press(ibot, ans, views.VOTE_DOWN, user=OTHER)
    press(ibot, ans, views.VOTE_UP)  # pressing again takes Alice's vote back
    ibot.run(FEEDBACK_QUEUE)
    now = shown()
    assert (now[views.VOTE_UP]["text"]["text"], now[views.VOTE_DOWN]["text"]["text"]) == ("👍 0", "👎 1")
    # After a 👎 the answer offers another try.
    assert now[views.TRY_ANOTHER]["text"]["text"] == "Try another answer"
    (rec,) = load_records(get_engine())
    assert (rec.net, rec.voters) == (-1, 1)
    assert not ibot.slack.of("chat.postMessage")[1:], "votes post nothing in the channel"


def test_vote_on_a_deleted_answer_is_recorded_and_only_the_voter_hears(ibot: IBot) -> None:
    ans = deliver(ibot)
    ibot.slack.delete_message("C0CHAN01", ans["ts"])
    press(ibot, ans, views.VOTE_DOWN, user=OTHER)
    ibot.run(FEEDBACK_QUEUE)
    assert ibot.ephemerals(OTHER) == [
        "That answer is no longer there (its message was deleted), so nothing was changed."
    ]
    assert len(ibot.slack.of("chat.postMessage")) == 1  # only the answer itself, ever
    assert ibot.queue(FEEDBACK_QUEUE).failed_job_registry.count == 0


# --- Sources ---------------------------------------------------------------------------
def test_sources_button_shows_the_cited_sections_privately(ibot: IBot, indexed_sample: Path) -> None:
    from feedback.store import record_answer

    ans = deliver(ibot)
    # Cite a section of the real indexed sample: its whole text comes from the index.
    q = QuestionJob(question="pedal force?", source="mention", user=ASKER, team=TEAM_ID, channel="C0CHAN01",
                    ts=ans["thread_ts"], thread_ts=ans["thread_ts"])  # fmt: skip
    cited = {"doc": indexed_sample.name, "section": "3.1", "title": "Brake Pedal", "text": "(chunk)", "score": 1.0}
    record_answer(ans["job"], q, AnswerResult.from_wire({"answer": "500 N", "sources": [cited], "hits": [cited],
                                                         "messages": PROMPT, "message_ts": ans["ts"]}))  # fmt: skip
    press(ibot, ans, views.SOURCES, user=OTHER)
    ibot.settle()
    (call,) = ibot.slack.of("chat.postEphemeral")
    assert call.params["user"] == OTHER and call.params["thread_ts"] == ans["thread_ts"]
    text = json.dumps(call.params["blocks"], ensure_ascii=False)
    assert "§ 3.1 Brake Pedal" in text and "500 N" in text and "(chunk)" not in text


# --- Try another answer, "Which is better?" ---------------------------------------------
def test_try_another_answer_is_queued_once(ibot: IBot) -> None:
    ans = deliver(ibot)
    ans["value"] = views.answer_value(ans["job"], "en")
    press(ibot, ans, views.TRY_ANOTHER, user=OTHER)
    ibot.settle()
    job = fetch_job(ibot.conn, alternative_job_id(ans["job"]))
    assert job.func_name == "workers.jobs.answer_again"
    assert job.args[0]["answer_job_id"] == ans["job"] and job.args[0]["thread_ts"] == ans["thread_ts"]
    press(ibot, ans, views.TRY_ANOTHER, user=ASKER)  # a second press: no second job
    ibot.settle()
    assert ibot.queue(ANSWERS_QUEUE).count == 1
    assert ibot.ephemerals(OTHER) == [
        "Writing another answer to the same question… it will appear in this thread."
    ]  # fmt: skip
    assert ibot.ephemerals(ASKER) == [
        "Another answer to this question is already on its way or posted in this thread."
    ]  # fmt: skip


def ab_setup(b: IBot) -> tuple[dict, dict, dict]:
    """Answer A, its second try B, and the "Which is better?" message under them."""
    from feedback.interactions import link_alternative
    from feedback.store import record_answer

    a = deliver(b, answer="12 V.")
    q = QuestionJob(question="What is the supply voltage range?", source="mention", team=TEAM_ID,
                    channel="C0CHAN01", thread_ts=a["thread_ts"])  # fmt: skip
    b_job = "alt-test-" + a["job"][-8:]
    record_answer(b_job, q, AnswerResult.from_wire({"answer": "9 to 16 V.", "messages": PROMPT,
                                                    "message_ts": new_ts()}), alt_of_job=a["job"])  # fmt: skip
    link_alternative(job_id=b_job, alt_of_job_id=a["job"])
    from slack_sdk import WebClient

    text, blocks = views.ab_message(a["job"], b_job, None, "en")
    resp = WebClient(token=TOKEN, base_url=b.slack.url).chat_postMessage(
        channel="C0CHAN01", thread_ts=a["thread_ts"], text=text, blocks=blocks
    )
    ab = {"ts": resp["ts"], "thread_ts": a["thread_ts"], "blocks": blocks, "value": blocks[1]["elements"][0]["value"]}
    return a, {"job": b_job}, ab


def choose(b: IBot, ab: dict, action_id: str, user: str, action_ts: str | None = None) -> None:
    message = {"ts": ab["ts"], "blocks": ab["blocks"]}
    r = b.send.interaction(block_actions(action_id, ab["value"], user=user, message=message,
                                         thread_ts=ab["thread_ts"], action_ts=action_ts))  # fmt: skip
    assert r.status_code == 200


def test_ab_choice_by_the_asker_becomes_the_first_dpo_row(ibot: IBot, tmp_path: Path) -> None:
    from feedback.export import export
    from feedback.store import get_engine

    a, b, ab = ab_setup(ibot)
    choose(ibot, ab, views.AB_B, OTHER)  # not the asker, not a reviewer
    once = new_action_ts()
    choose(ibot, ab, views.AB_B, ASKER, action_ts=once)
    choose(ibot, ab, views.AB_B, ASKER, action_ts=once)  # the same press twice
    ibot.settle()
    assert ibot.ephemerals(OTHER) == ["Only the person who asked, or a reviewer, can choose between the answers."]
    assert ibot.queue(FEEDBACK_QUEUE).count == 1
    ibot.run(FEEDBACK_QUEUE)
    shown = ibot.slack.messages[("C0CHAN01", ab["ts"])]
    assert "<@U0ALICE1> chose B" in shown["text"] and not [x for x in shown["blocks"] if x["type"] == "actions"]
    out = tmp_path / "dpo.jsonl"
    export("dpo", out, get_engine())
    (row,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert row == {"prompt": PROMPT, "chosen": [{"role": "assistant", "content": "9 to 16 V."}],
                   "rejected": [{"role": "assistant", "content": "12 V."}], "source": "ab"}  # fmt: skip


def test_ab_reviewer_may_choose_and_a_press_after_the_thread_is_gone_posts_nothing(ibot: IBot) -> None:
    from feedback.models import Preference
    from feedback.store import get_engine

    a, b, ab = ab_setup(ibot)
    ibot.slack.delete_message("C0CHAN01", ab["ts"])  # the thread was deleted meanwhile
    choose(ibot, ab, views.AB_NEITHER, REVIEWER)
    ibot.run(FEEDBACK_QUEUE)
    with Session(get_engine()) as db:
        (pref,) = db.scalars(select(Preference))
    assert (pref.choice, pref.chooser_role) == ("neither", "reviewer")
    assert ibot.queue(FEEDBACK_QUEUE).failed_job_registry.count == 0
    assert len(ibot.slack.of("chat.postMessage")) == 2  # answer A and the A/B message, nothing else
    assert not ibot.ephemerals(REVIEWER)


# --- the correction modal ------------------------------------------------------------------
def test_correction_modal_records_a_correction_with_the_trust_rules(ibot: IBot, tmp_path: Path) -> None:
    from feedback.export import load_records
    from feedback.store import get_engine

    ans = deliver(ibot)
    press(ibot, ans, views.CORRECT, user=OTHER)
    ibot.settle()
    (opened,) = ibot.slack.of("views.open")
    modal = opened.params["view"]
    assert modal["callback_id"] == views.CORRECTION_CALLBACK and opened.params["trigger_id"]
    assert "What is the supply voltage range?" in json.dumps(modal["blocks"])
    blank = {"correction": {"text": {"type": "plain_text_input", "value": "  "}}}
    empty = ibot.send.interaction(view_submission(modal, blank, user=OTHER))
    assert empty.json() == {"response_action": "errors", "errors": {"correction": "Please write the corrected answer."}}
    values = {"correction": {"text": {"type": "plain_text_input", "value": "9-16 V, see 5.3.1."}}}
    assert ibot.send.interaction(view_submission(modal, values, user=OTHER)).status_code == 200
    ibot.run(FEEDBACK_QUEUE)
    assert ibot.ephemerals(OTHER) == ["Thanks — your correction was saved and waits for a reviewer."]
    (rec,) = load_records(get_engine())
    assert rec.corrections == [] and rec.unreviewed == 1  # a bystander's: kept, not trusted yet
    # The asker's own correction counts at once.
    press(ibot, ans, views.CORRECT, user=ASKER)
    ibot.settle()
    modal = ibot.slack.of("views.open")[-1].params["view"]
    values = {"correction": {"text": {"type": "plain_text_input", "value": "Between 9 and 16 V."}}}
    ibot.send.interaction(view_submission(modal, values, user=ASKER))
    ibot.run(FEEDBACK_QUEUE)
    assert ibot.ephemerals(ASKER) == ["Thanks — your correction was saved."]
    (rec,) = load_records(get_engine())
    assert rec.corrections == ["Between 9 and 16 V."]


# --- the Home tab ------------------------------------------------------------------------
def home_event(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME01", "tab": "home", "event_ts": new_ts()}


def test_home_tab_documents_chart_and_review_queue(ibot: IBot, indexed_sample: Path) -> None:
    from feedback.interactions import record_spec_upload

    record_spec_upload(doc=indexed_sample.name, source="slack", status="indexed", added_by=INDEXER, sections=12,
                       tables=3, chunks=20, permalink="https://test.slack.com/files/U0IDX001/F1/x.docx")  # fmt: skip
    ans = deliver(ibot)
    press(ibot, ans, views.VOTE_DOWN, user=OTHER)
    ibot.run(FEEDBACK_QUEUE)

    ibot.send.event(home_event(OTHER))
    ibot.settle()
    view = ibot.slack.views[OTHER]
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert f"{indexed_sample.name}" in text and "12 sections, 3 tables" in text and "by <@U0IDX001>" in text
    (img,) = [x for x in view["blocks"] if x["type"] == "image"]
    fid = img["slack_file"]["id"]
    assert ibot.slack.uploads[fid].startswith(b"\x89PNG")  # files.uploadV2 carried the chart
    assert "Waiting for review" not in text  # not a reviewer

    ibot.send.event(home_event(REVIEWER))
    ibot.settle()
    view = ibot.slack.views[REVIEWER]
    assert "Waiting for review" in json.dumps(view["blocks"])
    assert len(ibot.slack.of("file.upload")) == 1  # the same figures reuse the uploaded chart
    (approve,) = [e for x in view["blocks"] if x["type"] == "actions" for e in x["elements"]
                  if e["action_id"] == views.REVIEW_APPROVE]  # fmt: skip
    ibot.send.interaction(block_actions(views.REVIEW_APPROVE, approve["value"], user=REVIEWER, view=view))
    ibot.settle()
    again = ibot.slack.views[REVIEWER]
    assert "Nothing waits for review." in json.dumps(again["blocks"])


def test_home_tab_falls_back_to_a_sparkline_when_upload_is_refused(ibot: IBot) -> None:
    ans = deliver(ibot)
    press(ibot, ans, views.VOTE_UP, user=OTHER)
    ibot.run(FEEDBACK_QUEUE)
    ibot.slack.errors["files.getUploadURLExternal"] = "missing_scope"
    ibot.send.event(home_event(OTHER))
    ibot.settle()
    blocks = ibot.slack.views[OTHER]["blocks"]
    assert not [x for x in blocks if x["type"] == "image"]
    assert "100% of 1 rated answers approved" in json.dumps(blocks, ensure_ascii=False)


# --- specs added from Slack --------------------------------------------------------------
def dm_share(b: IBot, user: str, info: dict[str, Any], text: str = "") -> str:
    ts = new_ts()
    ev = {"type": "message", "subtype": "file_share", "channel": "D0DM0001", "channel_type": "im", "user": user,
          "text": text, "ts": ts, "event_ts": ts, "files": [{"id": info["id"], "name": info["name"]}]}  # fmt: skip
    assert b.send.event(ev).status_code == 200
    return ts


def said(b: IBot, channel: str = "D0DM0001") -> list[str]:
    return [str(c.params.get("text")) for c in b.slack.of("chat.postMessage") if c.params.get("channel") == channel]


def test_indexer_adds_a_spec_by_dm_and_a_same_named_one_replaces_it(ibot: IBot, sample_spec: Path) -> None:
    from feedback.interactions import latest_uploads
    from indexer.catalog import indexed_documents

    info = ibot.slack.add_file("brakes.docx", sample_spec.read_bytes(), user=INDEXER)
    ts = dm_share(ibot, INDEXER, info)
    ibot.run(INDEX_QUEUE)
    first, report = said(ibot)
    assert first == "Got *brakes.docx*. Indexing it now; I'll reply here with the report."
    assert report.startswith("Indexed *brakes.docx*: ") and " sections, " in report and "OCR'd images" in report
    assert all(c.params.get("thread_ts") == ts for c in ibot.slack.of("chat.postMessage"))
    (dl,) = ibot.slack.of("file.download")
    assert dl.token == TOKEN  # downloaded with the bot token
    assert [d.doc for d in indexed_documents()] == ["brakes.docx"]
    up = latest_uploads()["brakes.docx"]
    assert (up.added_by, up.permalink) == (INDEXER, info["permalink"])

    # The same name, new content: replaces the indexed version.
    from tests.fixtures_docx import make_plain_docx

    newer = make_plain_docx(sample_spec.parent / "v2.docx", text="Brake pedal force is limited to 450 N.")
    info2 = ibot.slack.add_file("brakes.docx", newer.read_bytes(), user=INDEXER)
    dm_share(ibot, INDEXER, info2)
    ibot.run(INDEX_QUEUE)
    assert "replaces the previously indexed *brakes.docx*" in said(ibot)[-1]
    assert [d.doc for d in indexed_documents()] == ["brakes.docx"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.pdf", b"%PDF-1.7\n1 0 obj<<>>endobj\n", "I couldn't index *notes.pdf*: "),
        ("broken.docx", b"PK\x03\x04 not really a zip", "I couldn't index *broken.docx*: "),
        ("big.docx", b"x" * 3000, "*big.docx* is 0.003 MB; the limit is 0.002 MB."),
    ],
)
def test_bad_files_get_the_indexers_reasons(
    ibot: IBot, name: str, content: bytes, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.pipeline import index_file
    from indexer.store import open_index
    from specbot.settings import reset_settings

    monkeypatch.setenv("SLACK_MAX_FILE_MB", "0.002")
    reset_settings()
    info = ibot.slack.add_file(name, content, user=INDEXER)
    dm_share(ibot, INDEXER, info)
    ibot.run(INDEX_QUEUE)
    reply = said(ibot)[-1]
    assert reply.startswith(expected), reply
    if name != "big.docx":  # the same reason `specbot index` gives for that file
        path = Path(ibot.deps.settings.specbot_data_dir) / name
        path.write_bytes(content)
        assert index_file(path, open_index()).error in reply


def test_encrypted_spec_is_refused_with_the_reason(ibot: IBot, tmp_path: Path) -> None:
    from tests.fixtures_docx import make_encrypted

    enc = make_encrypted(tmp_path / "locked.docx")
    dm_share(ibot, INDEXER, ibot.slack.add_file("locked.docx", enc.read_bytes(), user=INDEXER))
    ibot.run(INDEX_QUEUE)
    assert "password" in said(ibot)[-1].lower()


def test_others_are_refused_politely(ibot: IBot, sample_spec: Path) -> None:
    dm_share(ibot, OTHER, ibot.slack.add_file("x.docx", sample_spec.read_bytes(), user=OTHER))
    ibot.settle()
    (reply,) = said(ibot)
    assert reply.endswith("To add a document to the index, ask an admin.")
    assert ibot.queue(INDEX_QUEUE).count == 0
    # Asking for it in a thread gets the refusal in those words.
    ibot.send.event(mention("index", user=OTHER, thread_ts=new_ts()))
    ibot.settle()
    assert ibot.ephemerals(OTHER) == [
        "Sorry, only people on specbot's indexer list can add specs. Ask an admin to add you to `SLACK_INDEXERS`."
    ]


def test_index_mention_in_the_thread_where_the_docx_was_shared(ibot: IBot, sample_spec: Path) -> None:
    info = ibot.slack.add_file("thread-spec.docx", sample_spec.read_bytes(), user=OTHER)
    parent, share = new_ts(), new_ts()
    ibot.slack.add_thread("C0CHAN01", [
        {"ts": parent, "user": OTHER, "text": "new spec version"},
        {"ts": share, "user": OTHER, "text": "", "files": [{"id": info["id"], "name": info["name"]}]},
    ])  # fmt: skip
    ibot.send.event(mention("index", user=INDEXER, thread_ts=parent))
    ibot.run(INDEX_QUEUE)
    replies = [c for c in ibot.slack.of("chat.postMessage") if c.params.get("channel") == "C0CHAN01"]
    assert [c.params["thread_ts"] for c in replies] == [parent, parent]
    assert replies[-1].params["text"].startswith("Indexed *thread-spec.docx*")
    # `/spec index` in the channel: the latest share there.
    ibot.slack.history["C0CHAN01"] = [{"ts": share, "files": [{"id": info["id"], "name": info["name"]}]}]
    assert ibot.send.command("index", user=OTHER).status_code == 200
    ibot.settle()
    assert ibot.ephemerals(OTHER)[-1].startswith("Sorry, only people on specbot's indexer list")


# --- the message shortcut, Korean -----------------------------------------------------------
def test_message_shortcut_asks_in_that_messages_thread(ibot: IBot) -> None:
    parent, reply = new_ts(), new_ts()
    msg = {"ts": reply, "thread_ts": parent, "user": OTHER, "text": "Does <@U0XYZ> know the CAN bit rate?"}
    assert ibot.send.interaction(message_shortcut(msg, user=ASKER)).status_code == 200
    job = wait_until(lambda: ibot.queue(ANSWERS_QUEUE).jobs)[0]
    q = job.args[0]
    # The mention in the text is no ping in the question: it is taken out.
    assert (q["source"], q["question"], q["thread_ts"], q["user"]) == (
        "shortcut", "Does   know the CAN bit rate?", parent, ASKER)  # fmt: skip


def test_korean_question_or_locale_gets_the_bots_korean(ibot: IBot) -> None:
    """Before its ack the bot makes no Web API call: a Korean question is Korean, a cached
    locale decides, else the worker finds out (users.info with include_locale, cached)."""
    from workers.jobs import with_lang

    ibot.send.event(mention("공급 전압 범위는?"))
    ibot.conn.set("specbot:slack:locale:U0KIM001", "ko-KR")
    ibot.send.event(mention("What is the supply voltage range?", user="U0KIM001"))
    ibot.send.event(mention("What is the pin count?", user="U0SMITH1"))
    ibot.settle()
    jobs = {j.args[0]["question"]: j.args[0] for j in ibot.queue(ANSWERS_QUEUE).jobs}
    langs = {q: j["lang"] for q, j in jobs.items()}
    assert langs == {"공급 전압 범위는?": "ko", "What is the supply voltage range?": "ko",
                     "What is the pin count?": None}  # fmt: skip
    assert not ibot.slack.of("users.info")  # nothing before the ack
    # The worker resolves the unknown one, once per user (cached).
    ibot.slack.users["U0SMITH1"] = {"id": "U0SMITH1", "locale": "ko-KR"}
    q = QuestionJob.from_wire(jobs["What is the pin count?"])
    assert with_lang(q, ibot.conn).lang == "ko" and with_lang(q, ibot.conn).lang == "ko"
    (call,) = ibot.slack.of("users.info")
    assert call.params["user"] == "U0SMITH1" and call.params["include_locale"] in ("true", "1", True)
    # /spec help: the ack's language comes from the text or the cached locale.
    assert "*specbot answers questions" in ibot.send.command("help").text
    ibot.conn.set("specbot:slack:locale:U0ALICE1", "ko-KR")
    assert "*specbot은 사양 문서에 대한 질문에 답하고" in ibot.send.command("help").text
    # A help mention is answered after the ack, in the asker's language.
    ibot.send.event(mention(""))
    ibot.settle()
    assert said(ibot, "C0CHAN01")[-1].startswith("*specbot은 사양 문서에 대한 질문에 답하고")
