"""OpenAI-compatible chat client for vLLM: streaming, one attempt, a total deadline.

httpx instead of the `openai` SDK keeps the worker light and lets us treat
connection failures and 5xx the same way (`LLMUnavailable`). There is no retry
here: the answer job is retried by RQ (JOB_RETRIES, JOB_RETRY_INTERVALS), the one
retry layer, so a question costs at most 1 + JOB_RETRIES generations.

Deadline. LLM_TIMEOUT_S bounds the whole call (connect, queueing in vLLM, every
token), not each read: the stream is read in a helper thread and the caller waits
for it against one deadline, then gives up with `LLMTimeout`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from specbot.settings import Settings, get_settings

log = logging.getLogger("specbot.llm")


class LLMUnavailable(Exception):
    """The model server could not be reached or failed; the job should retry."""


class LLMTimeout(LLMUnavailable):
    """The call did not finish within LLM_TIMEOUT_S (the job should retry)."""


class LLMBadRequest(Exception):
    """The server rejected the request (e.g. unknown model); retrying will not help.

    Its message is shown to the asker, so it is a plain reason: the server's body
    (internal paths, parts of the prompt) goes to the log only."""


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float
    first_token_s: float | None


def base_url(settings: Settings | None = None) -> str:
    s = settings or get_settings()
    return (s.llm_base_url or f"http://127.0.0.1:{s.llm_port}/v1").rstrip("/")


_DONE = object()


class LLMClient:
    def __init__(self, settings: Settings | None = None, deadline_s: float | None = None) -> None:
        self.s = settings or get_settings()
        self.url = base_url(self.s)
        self.model = self.s.llm_model
        self.deadline_s = deadline_s if deadline_s is not None else self.s.llm_timeout_s
        # Per read: never longer than the whole call may take.
        self.timeout = httpx.Timeout(self.deadline_s, connect=min(5.0, self.deadline_s))

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.s.llm_api_key.get_secret_value()}"}

    def models(self) -> list[str]:
        try:
            r = httpx.get(f"{self.url}/models", headers=self._headers(), timeout=5.0)
            r.raise_for_status()
        except httpx.HTTPError as e:
            raise LLMUnavailable(f"LLM server at {self.url} is not reachable ({type(e).__name__})") from e
        return [m["id"] for m in r.json().get("data", [])]

    def chat(
        self,
        messages: list[dict[str, str]],
        on_delta: Callable[[str], None] | None = None,
        max_tokens: int | None = None,
        temperature: float = 0.1,
        model: str | None = None,
    ) -> Completion:
        body = {
            "model": model or self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.s.llm_max_tokens,
            "temperature": temperature,
            "frequency_penalty": 0.3,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.deadline_s
        events: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(body, events, stop), name="specbot-llm-stream", daemon=True)
        reader.start()
        first: float | None = None
        parts: list[str] = []
        usage: dict = {}
        model = str(body["model"])
        try:
            while True:
                left = deadline - time.monotonic()
                try:
                    ev = events.get(timeout=max(left, 0.0)) if left > 0 else events.get_nowait()
                except queue.Empty:
                    raise LLMTimeout(f"LLM server at {self.url} did not finish within {self.deadline_s:.0f}s") from None
                if ev is _DONE:
                    break
                if isinstance(ev, BaseException):
                    raise ev
                model = str(ev.get("model") or model)
                if ev.get("usage"):
                    usage = ev["usage"]
                for ch in ev.get("choices", []):
                    delta = (ch.get("delta") or {}).get("content") or ""
                    if delta:
                        if first is None:
                            first = time.perf_counter() - t0
                        parts.append(delta)
                        if on_delta:
                            on_delta("".join(parts))
        finally:
            stop.set()  # a reader still waiting on the server drops what comes and ends
        return Completion(
            text="".join(parts).strip(),
            model=model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            seconds=time.perf_counter() - t0,
            first_token_s=first,
        )

    def first_token_logprobs(self, messages: list[dict[str, str]], top: int = 10) -> list[dict[str, float]]:
        """The most likely first tokens of the reply and their log-probabilities
        (`logprobs` on the OpenAI-compatible chat API): one short, non-streamed call."""
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": top,
        }
        try:
            r = httpx.post(f"{self.url}/chat/completions", json=body, headers=self._headers(), timeout=self.timeout)
        except httpx.HTTPError as e:
            raise LLMUnavailable(f"LLM server at {self.url} failed: {type(e).__name__}") from e
        if r.status_code >= 500:
            raise LLMUnavailable(f"LLM server error {r.status_code}")
        if r.status_code >= 400:
            log.error("LLM server at %s refused the request (%d): %s", self.url, r.status_code, r.text[:2000])
            raise LLMBadRequest(f"the language model server refused the request (HTTP {r.status_code})")
        choices = r.json().get("choices") or [{}]
        content = (choices[0].get("logprobs") or {}).get("content") or []
        if not content:
            return []
        return [{alt["token"]: float(alt["logprob"]) for alt in content[0].get("top_logprobs") or []}]

    def _read(self, body: dict, events: queue.Queue[Any], stop: threading.Event) -> None:
        """In the helper thread: parsed stream events, then _DONE or the exception."""
        try:
            with httpx.stream(
                "POST", f"{self.url}/chat/completions", json=body, headers=self._headers(), timeout=self.timeout
            ) as r:
                if r.status_code >= 500:
                    raise LLMUnavailable(f"LLM server error {r.status_code}")
                if r.status_code >= 400:
                    r.read()
                    log.error("LLM server at %s refused the request (%d): %s", self.url, r.status_code, r.text[:2000])
                    raise LLMBadRequest(f"the language model server refused the request (HTTP {r.status_code})")
                for line in r.iter_lines():
                    if stop.is_set():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    events.put(json.loads(data))
            events.put(_DONE)
        except httpx.HTTPError as e:
            events.put(LLMUnavailable(f"LLM server at {self.url} failed: {type(e).__name__}"))
        except Exception as e:  # LLMUnavailable, LLMBadRequest, a bad JSON line: the caller raises it
            events.put(e)


def check_model(settings: Settings | None = None) -> None:
    """Fail fast on an LLM_MODEL the server does not serve (a typo, or an adapter
    that was never loaded). An unreachable server is not an error here: jobs
    retry and tell the asker, so workers may start before vLLM is up."""
    from specbot.errors import SpecbotError

    client = LLMClient(settings)
    try:
        served = client.models()
    except LLMUnavailable:
        return
    if client.model not in served:
        raise SpecbotError(
            f"LLM_MODEL {client.model!r} is not served by {client.url}; it serves: {', '.join(served) or 'nothing'}"
        )
