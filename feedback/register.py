"""Load a trained adapter into a running vLLM (runtime LoRA loading).

The server must run with --enable-lora, --max-lora-rank >= the adapter's rank
and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. Workers then pick the adapter with
LLM_MODEL=<name>. vLLM reads the files itself, so the path must be absolute
and visible to the server's machine.

vLLM started with --api-key (or VLLM_API_KEY) guards /v1/load_lora_adapter like
every /v1 route, so the bearer token is always sent. LLM_API_KEY goes only to the
server the workers use (LLM_BASE_URL, or the local `specbot llm` when unset):
another host gets it only when the caller says so (send_key, `--send-llm-key`).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from specbot.errors import SpecbotError
from specbot.settings import Settings, get_settings


def server_root(url: str) -> str:
    """Accept both http://host:port and the OpenAI base http://host:port/v1."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _origin(url: str) -> tuple[str, str, int]:
    u = urlsplit(url)
    scheme = (u.scheme or "http").lower()
    return scheme, (u.hostname or "").lower(), u.port or (443 if scheme == "https" else 80)


def _configured_server(s: Settings) -> str:
    return s.llm_base_url or f"http://127.0.0.1:{s.llm_port}/v1"


def auth_headers(url: str, send_key: bool = False, settings: Settings | None = None) -> dict[str, str]:
    """The Authorization header for a request to `url`.

    The configured key when `url` is the configured LLM server (or send_key is set);
    otherwise the placeholder "EMPTY", which a server without --api-key ignores and a
    guarded one rejects with 401, never seeing our key.
    """
    s = settings or get_settings()
    key = s.llm_api_key.get_secret_value() or "EMPTY"
    if not send_key and _origin(url) != _origin(_configured_server(s)):
        key = "EMPTY"
    return {"Authorization": f"Bearer {key}"}


def register_adapter(url: str, name: str, path: Path, timeout_s: float = 120.0, send_key: bool = False) -> bool:
    path = path.resolve()
    cfg = path / "adapter_config.json"
    if not cfg.is_file():
        raise SpecbotError(f"{path} is not a LoRA adapter folder (no adapter_config.json)")
    root = server_root(url)
    headers = auth_headers(root, send_key)
    # load_inplace: retraining under the same name replaces the served weights.
    body = {"lora_name": name, "lora_path": str(path), "load_inplace": True}
    try:
        r = httpx.post(f"{root}/v1/load_lora_adapter", json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as e:
        raise SpecbotError(f"cannot reach vLLM at {root}: {e}") from None
    if r.status_code == 401:
        s = get_settings()
        if headers["Authorization"] == "Bearer EMPTY" and s.llm_api_key.get_secret_value() not in ("", "EMPTY"):
            raise SpecbotError(
                f"vLLM at {root} requires an API key, and LLM_API_KEY is only sent to {_configured_server(s)}: "
                "set LLM_BASE_URL to this server, or pass --send-llm-key"
            )
        raise SpecbotError(f"vLLM at {root} refused the API key (401): set LLM_API_KEY to its --api-key")
    if r.status_code == 404:
        raise SpecbotError(
            f"vLLM at {root} has no runtime LoRA loading: start it with --enable-lora and "
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"
        )
    if r.status_code >= 400:
        raise SpecbotError(f"vLLM refused adapter {name!r} ({r.status_code}): {_message(r)}")
    models = httpx.get(f"{root}/v1/models", headers=headers, timeout=30).json()
    if name not in {m.get("id") for m in models.get("data", [])}:
        raise SpecbotError(f"vLLM accepted adapter {name!r} but does not list it in /v1/models")
    return True


def unregister_adapter(url: str, name: str, send_key: bool = False) -> None:
    root = server_root(url)
    headers = auth_headers(root, send_key)
    httpx.post(f"{root}/v1/unload_lora_adapter", json={"lora_name": name}, headers=headers, timeout=60)


def _message(r: httpx.Response) -> str:
    try:
        body = r.json()
    except json.JSONDecodeError:
        return r.text[:500]
    err = body.get("error", body) if isinstance(body, dict) else body
    return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
