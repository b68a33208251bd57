"""A STUB OpenAI-compatible model server: fixed answers, fixed delays, no CPU cost.

The real vLLM runs in the tests; this stands in only where a test or benchmark
needs a model that misbehaves on cue (trickles tokens forever, fails with 503)
or costs nothing (the soak benchmark measures the bot, the queue and the workers,
not the model). It speaks the part of the API the worker uses: GET /v1/models and
streaming POST /v1/chat/completions (server-sent events).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "smollm2-135m-instruct"


class OpenAIStub:
    def __init__(
        self,
        answer: str = "The maximum brake pedal force is 500 N (REQ-BRK-0042).",
        delay_s: float = 0.0,
        token_interval_s: float = 0.0,
        status: int = 200,
        model: str = MODEL,
        port: int = 0,
    ) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.token_interval_s = token_interval_s
        self.status = status
        self.model = model
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 1024
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> OpenAIStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                else:
                    self._json(200 if self.path.endswith("/health") else 404, {})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with stub.lock:
                    stub.requests += 1
                if stub.status != 200:
                    self._json(stub.status, {"error": {"message": "stub failure"}})
                    return
                time.sleep(stub.delay_s)  # the model "thinking": no CPU
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                words = stub.answer.split(" ")
                try:
                    for i, w in enumerate(words):
                        delta = w if i == 0 else " " + w
                        self._chunk({"model": stub.model, "choices": [{"index": 0, "delta": {"content": delta}}]})
                        if stub.token_interval_s:
                            time.sleep(stub.token_interval_s)
                    usage = {"prompt_tokens": 100, "completion_tokens": len(words)}
                    self._chunk({"model": stub.model, "choices": [], "usage": usage})
                    self._raw(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (deadline): fine

            def _chunk(self, ev: dict[str, Any]) -> None:
                self._raw(f"data: {json.dumps(ev)}\n\n".encode())

            def _raw(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return H
