"""`specbot bot`: the Slack app, over Socket Mode or HTTP.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed); otherwise an
HTTP server with `POST /slack/events` (events, commands, interactivity; Bolt
verifies the signatures) and `GET /healthz`. The HTTP server is Bolt's WSGI
adapter on the standard library's threaded WSGI server: small, and one thread
per request so a slow client never delays another's ack.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from pydantic import SecretStr
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.deps import Deps
from bot.listeners import register
from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.redisconn import redis_url
from specbot.settings import Settings, get_settings
from specbot.slack.client import web_client

log = logging.getLogger("specbot.bot")


class _DropClientWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and then warns that our
    client (which carries the same token and SLACK_API_URL) wins: expected here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


def redis_factory(settings: Settings, timeout_s: float = 2.0) -> Callable[[], redis.Redis]:
    """A lazily connecting client: the bot starts, and stays up, while Redis is down."""
    url = redis_url(settings)
    # Short timeouts: the listener answers "can't take questions" instead of hanging.
    conn = redis.Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=max(timeout_s, 5 * timeout_s), health_check_interval=30
    )
    return lambda: conn


def make_deps(s: Settings, get_conn: Callable[[], redis.Redis] | None = None) -> Deps:
    if get_conn is not None:
        return Deps(settings=s, get_conn=get_conn)
    # Event dedupe runs before the ack: its Redis calls give up after 0.25 s (then the
    # in-process memory decides), so a hung Redis cannot push the ack past Slack's 3 s.
    return Deps(settings=s, get_conn=redis_factory(s), dedupe_conn=redis_factory(s, timeout_s=0.25))


def _set(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


def socket_mode(s: Settings) -> bool:
    return _set(s.slack_app_token)


def check_settings(s: Settings) -> None:
    """One clear line for each missing piece, before anything starts."""
    if not _set(s.slack_bot_token):
        raise SpecbotError("SLACK_BOT_TOKEN is not set (the bot's xoxb- token)")
    if not socket_mode(s) and not _set(s.slack_signing_secret):
        raise SpecbotError("SLACK_SIGNING_SECRET is not set (needed to verify requests in HTTP mode)")


def build_app(
    settings: Settings | None = None, get_conn: Callable[[], redis.Redis] | None = None, deps: Deps | None = None
) -> App:
    s = settings or get_settings()
    check_settings(s)
    bolt_log = logging.getLogger("specbot.bot.bolt")
    if not any(isinstance(f, _DropClientWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_DropClientWarning())
    app = App(
        client=web_client(s),
        signing_secret=secret.get_secret_value() if (secret := s.slack_signing_secret) and _set(secret) else None,
        # Listeners ack in the request thread (Bolt polls for acks made in other
        # threads, in 10 ms steps) and hand the work to a thread pool.
        process_before_response=True,
        request_verification_enabled=not socket_mode(s),
        logger=bolt_log,
    )
    register(app, deps or make_deps(s, get_conn))
    return app


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)


def wsgi_app(app: App, get_conn: Callable[[], redis.Redis] | None = None) -> Callable:
    bolt = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            ok_redis = False
            if get_conn is not None:
                try:
                    ok_redis = bool(get_conn().ping())
                except redis.RedisError:
                    ok_redis = False
            # 200 even without Redis: the bot is up and tells users it cannot queue.
            body = json.dumps({"ok": True, "redis": ok_redis}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") == "/metrics" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            from specbot import metrics

            body, ctype = metrics.render()
            start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
            return [body]
        return bolt(environ, start_response)

    return application


def serve_http(app: App, host: str, port: int, get_conn: Callable[[], redis.Redis] | None = None) -> WSGIServer:
    """Bind now (port 0 picks a free one); call serve_forever() to run."""
    return make_server(
        host, port, wsgi_app(app, get_conn), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )


def start_in_thread(server: WSGIServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, name="specbot-http", daemon=True)
    t.start()
    return t


def main(args: argparse.Namespace) -> int:
    from specbot import logs

    logs.setup("bot")  # JSON lines with question_id; secrets (Slack tokens too) redacted
    logging.getLogger("specbot").setLevel(logging.INFO)
    s = get_settings()
    check_settings(s)
    deps = make_deps(s)
    get_conn = deps.get_conn
    try:
        get_conn().ping()
    except redis.RedisError as e:
        # Not fatal: questions get the "can't take questions" reply until Redis is back.
        log.error("Redis at %s is unreachable (%s); starting anyway", redact_url(redis_url(s)), type(e).__name__)
    app = build_app(s, get_conn, deps)

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # leave serve_forever / the socket loop, then drain below

    signal.signal(signal.SIGTERM, stop)
    try:
        _run(app, s, args, get_conn)
    except KeyboardInterrupt:
        pass
    finally:
        # Questions already acked are still queued (or answered with the outage reply):
        # a rolling restart must not turn an acked question into silence.
        log.warning("specbot bot: stopping; finishing acked work")
        deps.drain()
    return 0


def _run(app: App, s: Settings, args: argparse.Namespace, get_conn: Callable[[], redis.Redis]) -> None:
    if socket_mode(s):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        from specbot import metrics

        metrics.start_bot_server(s.metrics_port)  # Socket Mode has no HTTP server of its own for /metrics
        log.warning("specbot bot: Socket Mode")
        assert s.slack_app_token is not None
        handler = SocketModeHandler(app, s.slack_app_token.get_secret_value())
        try:
            handler.start()
        finally:
            handler.close()
        return
    port = args.port
    server = serve_http(app, s.slack_http_host, port, get_conn)
    log.warning("specbot bot: HTTP mode on http://%s:%d/slack/events (health: /healthz)", s.slack_http_host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
