"""Registering a LoRA adapter with vLLM: the bearer token and where it may go.

One real vLLM (CPU, SmolLM2) is started here with an API key, as production runs it
(VLLM_API_KEY, the way deploy/ passes the key), because the shared test server has none.
The "other host" checks use a local recording HTTP server: they are about what we send.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

KEY = "test-key-" + os.urandom(6).hex()


@pytest.fixture(scope="module")
def guarded_vllm(model_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real vLLM (CPU) that requires KEY on /v1, like the deployed one."""
    from workers.local_llm import server_command

    port = free_port()
    log = tmp_path_factory.mktemp("vllm") / "vllm.log"
    model = model_data_dir / "models" / "smollm2-135m-instruct"
    env = {
        **os.environ,
        "VLLM_API_KEY": KEY,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
    }
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            server_command(port, model), stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, f"vLLM exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"vLLM did not start: {log.read_text()[-2000:]}"
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        from specbot.process import stop_group

        stop_group(proc, timeout_s=20)


@pytest.fixture(scope="module")
def adapter(model_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (untrained) LoRA adapter for SmolLM2, written by PEFT."""
    out = tmp_path_factory.mktemp("adapters") / "reg-test"
    code = (
        "import sys\n"
        "from peft import LoraConfig, get_peft_model\n"
        "from transformers import AutoModelForCausalLM\n"
        "m = AutoModelForCausalLM.from_pretrained(sys.argv[1])\n"
        "p = get_peft_model(m, LoraConfig(r=8, lora_alpha=16, target_modules=['q_proj', 'v_proj']))\n"
        "p.save_pretrained(sys.argv[2])\n"
    )
    model = model_data_dir / "models" / "smollm2-135m-instruct"
    subprocess.run([sys.executable, "-c", code, str(model), str(out)], check=True, timeout=300)
    return out


def settings_for(monkeypatch: pytest.MonkeyPatch, base_url: str, key: str) -> None:
    from specbot.settings import reset_settings

    monkeypatch.setenv("LLM_BASE_URL", base_url)
    monkeypatch.setenv("LLM_API_KEY", key)
    reset_settings()


@pytest.mark.slow
def test_register_sends_the_key_to_a_guarded_vllm(
    guarded_vllm: str, adapter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.register import register_adapter, unregister_adapter
    from specbot.errors import SpecbotError

    # The server really is guarded: without the key, /v1 answers 401.
    assert httpx.get(f"{guarded_vllm}/models", timeout=10).status_code == 401

    # A wrong key: a clear error, nothing registered.
    settings_for(monkeypatch, guarded_vllm, "wrong")
    with pytest.raises(SpecbotError, match="401"):
        register_adapter(guarded_vllm, "reg-test", adapter)

    settings_for(monkeypatch, guarded_vllm, KEY)
    try:
        assert register_adapter(guarded_vllm, "reg-test", adapter)
        models = httpx.get(f"{guarded_vllm}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).json()
        assert "reg-test" in {m["id"] for m in models["data"]}
        # Retraining under the same name replaces it in place (load_inplace): registering again works.
        assert register_adapter(guarded_vllm, "reg-test", adapter)
    finally:
        unregister_adapter(guarded_vllm, "reg-test")

    # Another URL for the same server (not LLM_BASE_URL's origin): the key is withheld unless asked for.
    other = guarded_vllm.replace("127.0.0.1", "localhost")
    with pytest.raises(SpecbotError, match="--send-llm-key"):
        register_adapter(other, "reg-test", adapter)
    try:
        assert register_adapter(other, "reg-test", adapter, send_key=True)
    finally:
        unregister_adapter(other, "reg-test", send_key=True)


class Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # stdlib name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Recorder.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:  # stdlib name
        Recorder.seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        payload = json.dumps({"data": [{"id": "rec"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *a: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.seen = []
    srv = HTTPServer(("127.0.0.1", 0), Recorder)
    Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_the_key_goes_only_to_the_configured_server(
    recorder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.register import register_adapter

    (tmp_path / "adapter_config.json").write_text("{}")
    settings_for(monkeypatch, "http://llm.internal:8000/v1", "s3cret")
    register_adapter(recorder, "rec", tmp_path)
    assert Recorder.seen and all(r["auth"] == "Bearer EMPTY" for r in Recorder.seen)
    assert all(b"s3cret" not in r.get("body", b"") for r in Recorder.seen)

    Recorder.seen = []
    register_adapter(recorder, "rec", tmp_path, send_key=True)
    assert {r["auth"] for r in Recorder.seen} == {"Bearer s3cret"}

    # The configured server gets the key, "EMPTY" included: the header is always sent.
    Recorder.seen = []
    settings_for(monkeypatch, recorder, "EMPTY")
    register_adapter(recorder, "rec", tmp_path)
    assert {r["auth"] for r in Recorder.seen} == {"Bearer EMPTY"}
