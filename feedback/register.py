"""Load a trained adapter into a running vLLM (runtime LoRA loading).

The server must run with --enable-lora, --max-lora-rank >= the adapter's rank
and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. Workers then pick the adapter with
LLM_MODEL=<name>. vLLM reads the files itself, so the path must be absolute
and visible to the server's machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from specbot.errors import SpecbotError
from specbot.settings import get_settings


def server_root(url: str) -> str:
    """Accept both http://host:port and the OpenAI base http://host:port/v1."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def register_adapter(url: str, name: str, path: Path, timeout_s: float = 120.0) -> bool:
    path = path.resolve()
    cfg = path / "adapter_config.json"
    if not cfg.is_file():
        raise SpecbotError(f"{path} is not a LoRA adapter folder (no adapter_config.json)")
    root = server_root(url)
    key = get_settings().llm_api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"} if key and key != "EMPTY" else {}
    # load_inplace: retraining under the same name replaces the served weights.
    body = {"lora_name": name, "lora_path": str(path), "load_inplace": True}
    try:
        r = httpx.post(f"{root}/v1/load_lora_adapter", json=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as e:
        raise SpecbotError(f"cannot reach vLLM at {root}: {e}") from None
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


def unregister_adapter(url: str, name: str) -> None:
    key = get_settings().llm_api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"} if key and key != "EMPTY" else {}
    httpx.post(f"{server_root(url)}/v1/unload_lora_adapter", json={"lora_name": name}, headers=headers, timeout=60)


def _message(r: httpx.Response) -> str:
    try:
        body = r.json()
    except json.JSONDecodeError:
        return r.text[:500]
    err = body.get("error", body) if isinstance(body, dict) else body
    return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
