"""OpenAI-compatible chat client for vLLM: streaming, timeouts, retries.

httpx instead of the `openai` SDK keeps the worker light and lets us treat
connection failures and 5xx the same way (retry, then `LLMUnavailable`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from specbot.settings import Settings, get_settings

log = logging.getLogger("specbot.llm")


class LLMUnavailable(Exception):
    """The model server could not be reached or failed; the job should retry."""


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


class LLMClient:
    def __init__(self, settings: Settings | None = None, attempts: int = 2, backoff_s: float = 1.0) -> None:
        self.s = settings or get_settings()
        self.url = base_url(self.s)
        self.model = self.s.llm_model
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout = httpx.Timeout(self.s.llm_timeout_s, connect=5.0)

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
        last: Exception | None = None
        for attempt in range(self.attempts):
            try:
                return self._stream(body, on_delta)
            except LLMUnavailable as e:
                last = e
                if attempt + 1 < self.attempts:
                    time.sleep(self.backoff_s * (2**attempt))
        assert last is not None
        raise last

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

    def _stream(self, body: dict, on_delta: Callable[[str], None] | None) -> Completion:
        t0 = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage: dict = {}
        model = body["model"]
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
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    ev = json.loads(data)
                    model = ev.get("model", model)
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
        except httpx.HTTPError as e:
            raise LLMUnavailable(f"LLM server at {self.url} failed: {type(e).__name__}") from e
        return Completion(
            text="".join(parts).strip(),
            model=model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            seconds=time.perf_counter() - t0,
            first_token_s=first,
        )


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
