"""FAKE Slack Web API: a local HTTP server that records every call.

Slack cannot be reached from here, so the real slack_sdk WebClient (inside the
real Bolt app and the real worker) talks to this server via SLACK_API_URL,
like slack-bolt's own test suite does. It answers the methods the bot uses
with Slack-shaped responses and records (method, params, token) for assertions.
It also accepts POSTs to /response/<id> (slash-command response_url).

Files, views and users, for the interactive parts: `add_file()` puts a file in
the fake workspace (files.info answers with its metadata, GET on its
url_private_download serves the bytes only with a bot token, as Slack does:
without one Slack answers an HTML sign-in page); views.publish / views.open
keep the last view per user; files.getUploadURLExternal + POST to the upload
URL + files.completeUploadExternal (what files_upload_v2 calls) keep the bytes;
users.info answers with `locale` only when asked (include_locale), like Slack.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0TEST01"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._ts = itertools.count(1)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message as last posted
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # for conversations.replies
        self.errors: dict[str, str] = {}  # method -> Slack error to answer with (ok: false)
        self.socket_url = ""  # what apps.connections.open hands out (FakeSocketMode.url)
        self.files: dict[str, dict[str, Any]] = {}  # file id -> {"info": files.info "file", "content": bytes}
        self.uploads: dict[str, bytes] = {}  # file id -> bytes uploaded through files_upload_v2
        self.views: dict[str, dict[str, Any]] = {}  # user id -> last published Home view
        self.users: dict[str, dict[str, Any]] = {}  # user id -> users.info "user" (locale etc.)
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, newest first
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/response/{name}"

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- assertions helpers ------------------------------------------------
    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, pred, timeout: float = 10.0) -> list[Call]:
        """Wait until pred(calls) is truthy; returns the calls. Fails loudly on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if pred(self.calls):
                    return list(self.calls)
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [c.method for c in self.calls]
                    raise AssertionError(f"fake Slack: condition not met in {timeout}s; calls: {names}")
                self.cond.wait(left)

    def wait_method(self, method: str, n: int = 1, timeout: float = 10.0) -> list[Call]:
        self.wait_for(lambda calls: sum(c.method == method for c in calls) >= n, timeout)
        return self.of(method)

    def add_thread(self, channel: str, messages: list[dict[str, Any]]) -> None:
        self.threads[(channel, messages[0]["ts"])] = messages

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_file(
        self, name: str, content: bytes, user: str = "U0ALICE1", size: int | None = None, filetype: str | None = None
    ) -> dict[str, Any]:
        """A file shared in the fake workspace; `size` may lie (a file bigger than it says)."""
        fid = f"F{len(self.files) + 1:08d}"
        info = {
            "id": fid,
            "name": name,
            "title": name,
            "user": user,
            "filetype": filetype or name.rsplit(".", 1)[-1].lower(),
            "mimetype": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "size": len(content) if size is None else size,
            "url_private": f"{self.base}/files-pri/{TEAM_ID}-{fid}/{name}",
            "url_private_download": f"{self.base}/files-pri/{TEAM_ID}-{fid}/download/{name}",
            "permalink": f"https://test.slack.com/files/{user}/{fid}/{name}",
        }
        self.files[fid] = {"info": info, "content": content}
        return info

    def delete_message(self, channel: str, ts: str) -> None:
        """The user deleted a message (or its thread): chat.update on it now fails like Slack's."""
        self.messages.pop((channel, ts), None)

    # --- the server ------------------------------------------------------
    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method in self.errors:
            return {"ok": False, "error": self.errors[method]}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://test.slack.com/",
                "team": "Test",
                "user": "specbot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }
        if method == "chat.postMessage":
            ts = f"{1_800_000_000 + next(self._ts)}.000100"
            msg = {"ts": ts, "user": BOT_USER_ID, "bot_id": BOT_ID, **p}
            self.messages[(p.get("channel"), ts)] = msg
            return {"ok": True, "channel": p.get("channel"), "ts": ts, "message": msg}
        if method == "chat.update":
            key = (p.get("channel"), p.get("ts"))
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].update(p)
            return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000200"}
        if method == "conversations.replies":
            return {"ok": True, "messages": self.threads.get((p.get("channel"), p.get("ts")), []), "has_more": False}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url} if self.socket_url else {"ok": False, "error": "not_set"}
        if method in ("reactions.add", "reactions.remove"):
            return {"ok": True}
        if method == "chat.delete":
            self.messages.pop((p.get("channel"), p.get("ts")), None)
            return {"ok": True}
        if method == "conversations.history":
            return {"ok": True, "messages": self.history.get(str(p.get("channel")), []), "has_more": False}
        if method == "files.info":
            f = self.files.get(str(p.get("file")))
            return {"ok": True, "file": f["info"]} if f else {"ok": False, "error": "file_not_found"}
        if method == "users.info":
            u = dict(self.users.get(str(p.get("user")), {"id": p.get("user"), "locale": "en-US"}))
            if str(p.get("include_locale")).lower() not in ("1", "true"):
                u.pop("locale", None)
            return {"ok": True, "user": u}
        if method == "views.publish":
            view = p["view"] if isinstance(p.get("view"), dict) else json.loads(p.get("view") or "{}")
            self.views[str(p.get("user_id"))] = view
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}
        if method == "views.open":
            if not p.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}
            view = p["view"] if isinstance(p.get("view"), dict) else json.loads(p.get("view") or "{}")
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **view}}
        if method == "files.getUploadURLExternal":
            fid = f"FUP{next(self._ts):07d}"
            return {"ok": True, "file_id": fid, "upload_url": f"{self.base}/upload/{fid}"}
        if method == "files.completeUploadExternal":
            files = p["files"] if isinstance(p.get("files"), list) else json.loads(p.get("files") or "[]")
            out = []
            for f in files:
                if f["id"] not in self.uploads:
                    return {"ok": False, "error": "file_upload_not_found"}
                link = f"https://test.slack.com/files/{BOT_USER_ID}/{f['id']}/chart.png"
                size = len(self.uploads[f["id"]])
                out.append({"id": f["id"], "title": f.get("title"), "size": size, "permalink": link})
            return {"ok": True, "files": out}
        return {"ok": True}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # http.server API
                """url_private(_download): the bytes with a bot token, Slack's sign-in page without."""
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") or None
                fid = self.path.split("/files-pri/", 1)[-1].split("/", 1)[0].split("-", 1)[-1]
                f = fake.files.get(fid) if self.path.startswith("/files-pri/") else None
                with fake.cond:
                    fake.calls.append(Call("file.download", {"path": self.path}, token))
                    fake.cond.notify_all()
                if f is None:
                    self._send(404, b"not found", "text/plain")
                elif not token:
                    self._send(200, b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>", "text/html")
                else:
                    self._send(200, f["content"], "application/octet-stream")

            def do_POST(self) -> None:  # http.server API
                n = int(self.headers.get("Content-Length") or 0)
                if self.path.startswith("/upload/"):  # files_upload_v2 step 2: raw bytes, no token
                    fid = self.path.removeprefix("/upload/")
                    fake.uploads[fid] = self.rfile.read(n)
                    with fake.cond:
                        fake.calls.append(Call("file.upload", {"file_id": fid, "bytes": n}, None))
                        fake.cond.notify_all()
                    self._send(200, b"OK - " + str(n).encode(), "text/plain")
                    return
                raw = self.rfile.read(n).decode()
                ctype = self.headers.get("Content-Type", "")
                params: dict[str, Any] = json.loads(raw) if "json" in ctype and raw else dict(parse_qsl(raw))
                for k in ("blocks", "attachments", "view", "files"):
                    if isinstance(params.get(k), str) and params[k][:1] in ("[", "{"):
                        params[k] = json.loads(params[k])
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") or params.get("token")
                if self.path.startswith("/response/"):
                    method, body = "response_url", {"ok": True}
                else:
                    method = self.path.removeprefix("/api/").split("?")[0]
                    body = fake._answer(method, params)
                with fake.cond:
                    fake.calls.append(Call(method, params, token, body))
                    fake.cond.notify_all()
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class FakeSocketMode:
    """FAKE Socket Mode endpoint: a local WebSocket server speaking Slack's envelope protocol.

    Point FakeSlack.socket_url at .url; the bot's real Socket Mode client then
    connects here, gets `hello`, receives envelopes and must ack each envelope_id.
    """

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: dict[str, dict[str, Any]] = {}
        self.connections: list[Any] = []
        self.cond = threading.Condition()
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=fake"

    def _handle(self, ws: Any) -> None:
        with self.cond:
            self.connections.append(ws)
            self.cond.notify_all()
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0SPECBOT"}}))
        for raw in ws:
            msg = json.loads(raw)
            with self.cond:
                self.acks[msg.get("envelope_id", "")] = msg
                self.cond.notify_all()

    def wait_connected(self, timeout: float = 90.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.connections, timeout):
                raise AssertionError("the bot never opened a Socket Mode connection")

    def send(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        envelope_id = f"env-{time.monotonic_ns()}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api"}  # fmt: skip
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""}
        self.connections[-1].send(json.dumps(envelope))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with self.cond:
            if not self.cond.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"envelope {envelope_id} was not acknowledged")
            return self.acks[envelope_id]

    def stop(self) -> None:
        self.server.shutdown()


# --- the Slack side of the conversation: signed requests to the bot ----------
def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 scheme: HMAC-SHA256 over `v0:{timestamp}:{body}` with the signing secret."""
    import hashlib
    import hmac

    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


_event_ids = itertools.count(1)
_msg_ts = itertools.count(1)


def new_ts() -> str:
    """A fresh message ts: now (a question's age counts from it), unique and increasing."""
    return f"{int(time.time())}.{next(_msg_ts):06d}"


def event_body(event: dict[str, Any], event_id: str | None = None, team: str = TEAM_ID) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0SPECBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def mention(text: str, channel: str = "C0CHAN01", user: str = "U0ALICE1", ts: str | None = None, **extra: Any):
    ts = ts or new_ts()
    ev = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel}
    ev["event_ts"] = ts
    ev.update(extra)
    return ev


def command_body(text: str, channel: str = "C0CHAN01", user: str = "U0ALICE1", response_url: str = "") -> str:
    from urllib.parse import urlencode

    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "specs",
            "user_id": user,
            "user_name": "alice",
            "command": "/spec",
            "text": text,
            "api_app_id": "A0SPECBOT",
            "response_url": response_url,
            "trigger_id": f"trig.{time.monotonic_ns()}",
        }
    )


# --- interactivity payloads (sent form-encoded as `payload=<json>`, like Slack) -------
_action_ts = itertools.count(1)


def new_action_ts() -> str:
    return f"{1_750_000_000 + next(_action_ts)}.{next(_action_ts):06d}"


def block_actions(
    action_id: str,
    value: str,
    *,
    user: str = "U0ALICE1",
    channel: str = "C0CHAN01",
    message: dict[str, Any] | None = None,
    thread_ts: str | None = None,
    action_ts: str | None = None,
    view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button press. In a message: `message` is the message as Slack shows it (ts, blocks);
    in the Home tab: `view` is the published view."""
    action = {"action_id": action_id, "block_id": "b", "value": value, "type": "button",
              "action_ts": action_ts or new_action_ts(), "text": {"type": "plain_text", "text": "x"}}  # fmt: skip
    body: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0SPECBOT",
        "token": "legacy-verification-token",
        "trigger_id": f"trig.{time.monotonic_ns()}",
        "actions": [action],
    }
    if view is not None:
        body["container"] = {"type": "view", "view_id": "VHOME"}
        body["view"] = {"id": "VHOME", "type": "home", **view}
    else:
        msg = message or {}
        body["container"] = {"type": "message", "message_ts": msg.get("ts"), "channel_id": channel,
                             "is_ephemeral": False, **({"thread_ts": thread_ts} if thread_ts else {})}  # fmt: skip
        body["channel"] = {"id": channel, "name": "specs"}
        in_thread = {"thread_ts": thread_ts} if thread_ts else {}
        body["message"] = {"type": "message", "user": BOT_USER_ID, **msg, **in_thread}
        body["response_url"] = ""
    return body


def view_submission(view: dict[str, Any], values: dict[str, Any], user: str = "U0ALICE1") -> dict[str, Any]:
    """The correction modal submitted: `values` as Slack puts them in view.state.values."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0SPECBOT",
        "token": "legacy-verification-token",
        "trigger_id": f"trig.{time.monotonic_ns()}",
        "view": {"id": f"V{time.monotonic_ns()}", "hash": "h", **view, "state": {"values": values}},
    }


def message_shortcut(message: dict[str, Any], callback_id: str = "ask_specbot", user: str = "U0ALICE1",
                     channel: str = "C0CHAN01") -> dict[str, Any]:  # fmt: skip
    return {
        "type": "message_action",
        "callback_id": callback_id,
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "team_id": TEAM_ID},
        "channel": {"id": channel, "name": "specs"},
        "message": {"type": "message", **message},
        "message_ts": message.get("ts"),
        "trigger_id": f"trig.{time.monotonic_ns()}",
        "response_url": "",
        "token": "legacy-verification-token",
    }


class SlackSender:
    """Plays Slack: POSTs signed requests to the bot's /slack/events."""

    def __init__(self, base_url: str, secret: str) -> None:
        import httpx

        self.base = base_url.rstrip("/")
        self.secret = secret
        self.http = httpx.Client(timeout=10)

    def raw(self, body: str, content_type: str, headers: dict[str, str] | None = None):
        h = {"Content-Type": content_type, **sign(self.secret, body), **(headers or {})}
        return self.http.post(self.base + "/slack/events", content=body.encode(), headers=h)

    def event(self, event: dict[str, Any], event_id: str | None = None, retry_num: int | None = None, **kw: Any):
        body = json.dumps(event_body(event, event_id, **kw))
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.raw(body, "application/json", headers)

    def command(self, text: str, **kw: Any):
        return self.raw(command_body(text, **kw), "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]):
        """block_actions, view_submission, message_action: form-encoded `payload=`, signed."""
        from urllib.parse import urlencode

        return self.raw(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def close(self) -> None:
        self.http.close()
