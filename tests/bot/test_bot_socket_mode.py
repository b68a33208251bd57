"""Socket Mode: `specbot bot` with SLACK_APP_TOKEN connects out over a WebSocket
(here to FakeSocketMode, a FAKE of Slack's endpoint) instead of serving HTTP.
Retries arrive as `retry_attempt` on the envelope and must not answer twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import redis
from rq import Queue

from specbot.contracts import ANSWERS_QUEUE, SERIALIZER
from tests.bot.test_bot import TOKEN, wait_until
from tests.fakes.slack_fake import FakeSlack, FakeSocketMode, command_body, event_body, mention

APP_TOKEN = "xapp-1-A0SPECBOT-1234-SeCrEtApPtOkEn"


def _get(url: str) -> dict | None:
    try:
        return httpx.get(url, timeout=2).json()
    except httpx.HTTPError:
        return None


def test_socket_mode_handles_events_once_and_acks_commands(redis_url: str, tmp_path: Path) -> None:
    from tests.conftest import free_port

    fake, sock = FakeSlack().start(), FakeSocketMode()
    fake.socket_url = sock.url
    ops_port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": fake.url,
           "SLACK_SIGNING_SECRET": "", "METRICS_PORT": str(ops_port)}  # fmt: skip
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "specbot"), "-v", "bot"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    conn = redis.Redis.from_url(redis_url)
    try:
        try:
            sock.wait_connected()
        except AssertionError:
            raise AssertionError(f"no Socket Mode connection; bot log:\n{log.read_text()[-3000:]}") from None
        assert fake.of("apps.connections.open")[0].token == APP_TOKEN
        # The probes' endpoint (deploy/: GET /healthz on METRICS_PORT) in Socket Mode too.
        ops = f"http://127.0.0.1:{ops_port}"
        assert wait_until(lambda: _get(ops + "/healthz")) == {"ok": True, "redis": True}
        assert "specbot_queue_length" in httpx.get(ops + "/metrics").text
        body = event_body(mention("What is the supply voltage range?"), event_id="EvSOCK1")
        first = sock.send("events_api", body)
        assert sock.wait_ack(first)["envelope_id"] == first
        eyes = fake.wait_method("reactions.add")[0]
        assert eyes.params["timestamp"] == body["event"]["ts"]
        wait_until(lambda: Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER).count == 1)
        # Slack did not see our ack in time and redelivers with retry_attempt.
        sock.wait_ack(sock.send("events_api", body, retry_attempt=1))
        sock.wait_ack(sock.send("events_api", body, retry_attempt=2))
        cmd = dict(parse_qsl(command_body("/spec over a socket")))
        cmd["text"] = "what is 2.1?"
        ack = sock.wait_ack(sock.send("slash_commands", cmd))
        assert "Looking it up" in str(ack.get("payload"))
        wait_until(lambda: Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER).count == 2)
        # The retries were acked by the dedupe middleware before any listener ran: their
        # acks (waited for above) are the signal that they were dropped.
        assert Queue(ANSWERS_QUEUE, connection=conn, serializer=SERIALIZER).count == 2  # the retries added nothing
        assert len(fake.of("reactions.add")) == 1
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, "SIGTERM stops the bot cleanly"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        sock.stop()
        fake.stop()
    text = log.read_text()
    assert "Socket Mode" in text
    assert APP_TOKEN not in text and TOKEN not in text
