"""`specbot llm`: stopping the launcher stops the real vLLM server it started (~5 GB)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _servers(launcher: psutil.Process, port: int) -> list[psutil.Process]:
    """The vLLM server: its own session, so look for it by its command line."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if "vllm.entrypoints.openai.api_server" in cmd and f"--port {port}" in cmd:
            found.append(p)
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signalling_the_launcher_stops_the_vllm_server(model_data_dir: Path, tmp_path: Path, sig: int) -> None:
    # Our own data dir (the log goes there), sharing the converted model by a link.
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    for m in (model_data_dir / "models").iterdir():
        (data / "models" / m.name).symlink_to(m)
    port = free_port()
    env = {**os.environ, "SPECBOT_DATA_DIR": str(data)}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "specbot.cli", "llm", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    servers: list[psutil.Process] = []
    try:
        assert launcher.stderr is not None
        for line in launcher.stderr:  # wait for the positive signal: healthy
            if "is healthy" in line:
                break
        else:
            pytest.fail(f"specbot llm never became healthy (exit {launcher.wait()}); see {data / 'vllm.log'}")
        servers = _servers(psutil.Process(launcher.pid), port)
        assert servers, "no vLLM server process found"
        launcher.send_signal(sig)
        assert launcher.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(servers, timeout=30)
        assert not alive, f"vLLM outlived its launcher: {[p.pid for p in alive]}"
    finally:
        if launcher.poll() is None:
            launcher.kill()
        for p in servers:
            if p.is_running():
                os.killpg(p.pid, signal.SIGKILL)
