"""`specbot bot`: the Slack app, over Socket Mode or HTTP.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed); otherwise an
HTTP server with `POST /slack/events` only (events, commands, interactivity; Bolt
verifies the signatures). `/healthz` and `/metrics` are served on METRICS_PORT in
both modes, never on the public Slack port.

The HTTP server is waitress with Bolt's WSGI adapter. Why waitress and not gunicorn:
it runs in-process (one process keeps one event-dedupe memory, one thread pool and
one drain on SIGTERM; gunicorn would add a master and forked workers, each with its
own), it is pure Python on every platform, and its limits are the ones this front
needs: a fixed pool of `SLACK_HTTP_THREADS` threads running the app (bounded
concurrency; more requests wait in its queue), and `max_request_body_size`, which
refuses an oversized body with 413 from the Content-Length header, before a byte of
it is read. Bodies are buffered to a temporary file past 512 KB, never whole in memory.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

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


TOO_LARGE = b"Request body too large\n"


def wsgi_app(app: App, max_body: int = 1 << 20) -> Callable[..., Iterable[bytes]]:
    """`POST /slack/events` to Bolt; 413 for a body over `max_body` (checked on the
    Content-Length header, before Bolt reads anything); 404 for any other path."""
    bolt = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/slack/events":
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
            return [b"not found\n"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = max_body + 1
        if length > max_body:
            # Slack's payloads are a few KB; anything this big is not Slack.
            log.warning("refused a %d-byte request body (SLACK_MAX_BODY_BYTES=%d)", length, max_body)
            start_response("413 Payload Too Large", [("Content-Type", "text/plain"), ("Connection", "close"),
                                                     ("Content-Length", str(len(TOO_LARGE)))])  # fmt: skip
            return [TOO_LARGE]
        return bolt(environ, start_response)

    return application


class HttpServer:
    """waitress serving the Slack endpoint, bound at construction (port 0: a free one)."""

    def __init__(self, app: App, host: str, port: int, settings: Settings) -> None:
        import waitress
        from waitress.server import BaseWSGIServer

        self.max_body = settings.slack_max_body_bytes
        server = waitress.create_server(
            wsgi_app(app, self.max_body),
            host=host,
            port=port,
            threads=settings.slack_http_threads,
            # Refused by waitress itself from the headers (also for chunked bodies).
            max_request_body_size=self.max_body,
            # Open connections beyond this wait in the listen backlog.
            connection_limit=max(100, 4 * settings.slack_http_threads),
            # A client that stops sending is dropped (Slack sends a request in one go).
            channel_timeout=30,
            ident="specbot",
            clear_untrusted_proxy_headers=True,
        )
        assert isinstance(server, BaseWSGIServer)
        self._server = server
        self._stop, self._stopped = threading.Event(), threading.Event()
        self.server_address: tuple[str, int] = (str(server.effective_host), int(server.effective_port))

    def serve_forever(self) -> None:
        """Run until shutdown() (another thread) or KeyboardInterrupt (SIGTERM/SIGINT in
        `specbot bot`); the sockets are closed in this thread, by the loop's owner."""
        from waitress import wasyncore

        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=0.5, map=self._server._map, use_poll=True, count=1)
        except Exception:
            log.exception("HTTP server loop failed; stopping it")
            raise
        finally:
            wasyncore.close_all(self._server._map)
            self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving and wait until the loop has closed its sockets (from another thread)."""
        self._stop.set()
        if self._stopped.is_set():
            return
        # Wake the loop's poll now (OSError: the loop closed the trigger as it ended).
        with contextlib.suppress(OSError):
            self._server.pull_trigger()
        self._stopped.wait(10)

    def server_close(self) -> None:
        pass  # serve_forever() closes the sockets when it ends


def serve_http(app: App, host: str, port: int, settings: Settings | None = None) -> HttpServer:
    """Bind now (port 0 picks a free one); call serve_forever() to run."""
    return HttpServer(app, host, port, settings or get_settings())


def start_in_thread(server: HttpServer) -> threading.Thread:
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


def health(get_conn: Callable[[], redis.Redis]) -> Callable[[], dict[str, Any]]:
    """/healthz: 200 even without Redis (the bot is up and tells users it cannot queue)."""

    def check() -> dict[str, Any]:
        try:
            ok = bool(get_conn().ping())
        except Exception:  # Redis down, or a client that fails in another way
            ok = False
        return {"ok": True, "redis": ok}

    return check


def _run(app: App, s: Settings, args: argparse.Namespace, get_conn: Callable[[], redis.Redis]) -> None:
    from specbot import metrics

    # /healthz and /metrics on METRICS_PORT in both modes; never on the public Slack port.
    metrics.start_bot_server(s.metrics_port, health=health(get_conn))
    if socket_mode(s):
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        log.warning("specbot bot: Socket Mode")
        assert s.slack_app_token is not None
        handler = SocketModeHandler(app, s.slack_app_token.get_secret_value())
        try:
            handler.start()
        finally:
            handler.close()
        return
    port = args.port
    server = serve_http(app, s.slack_http_host, port, s)
    log.warning(
        "specbot bot: HTTP mode on http://%s:%d/slack/events (waitress, %d threads, bodies up to %d bytes)",
        s.slack_http_host, port, s.slack_http_threads, s.slack_max_body_bytes,
    )  # fmt: skip
    server.serve_forever()  # SIGTERM/SIGINT: KeyboardInterrupt inside, waitress stops its threads
