"""deploy/entrypoint.sh, run for real for every role."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from tests.conftest import free_port
from tests.deploy.conftest import DEPLOY

ENTRYPOINT = DEPLOY / "entrypoint.sh"


def entry(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    bindir = str(Path(sys.executable).parent)
    full = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, timeout=timeout, env=full)


@pytest.mark.parametrize(
    ("role", "command"),
    [
        ("bot", "bot"),
        ("worker", "worker"),
        ("index", "index"),
        ("ask", "ask"),
        ("search", "search"),
        ("sections", "sections"),
        ("feedback", "feedback"),
        ("train", "train"),
        ("demo", "demo"),
    ],
)
def test_every_role_reaches_its_command(role: str, command: str) -> None:
    r = entry(role, "--help")
    assert r.returncode == 0, r.stderr
    assert f"usage: specbot {command}" in r.stdout


def test_unknown_role_is_a_clear_error() -> None:
    r = entry("wroker")
    assert r.returncode == 64
    assert "unknown role 'wroker'" in r.stderr and "worker" in r.stderr


def test_index_role_indexes_the_mounted_folder(sample_spec: Path, isolated_settings: Path) -> None:
    r = entry("index", env={"SPECS_MOUNT": str(sample_spec.parent)})
    assert r.returncode == 0, r.stderr
    r = entry("search", "pedal travel sensor", "--json")
    assert r.returncode == 0, r.stderr
    assert "sample_brake_spec.docx" in r.stdout


def test_health_role_follows_the_url() -> None:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # stdlib name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: Any) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Ok)
    Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert entry("health", f"http://127.0.0.1:{srv.server_address[1]}/metrics").returncode == 0
    finally:
        srv.shutdown()
    assert entry("health", f"http://127.0.0.1:{free_port()}/metrics").returncode != 0


def test_llm_role_builds_a_server_listening_on_all_interfaces(model_data_dir: Path) -> None:
    """The cpu profile's LLM container: same vLLM command as `specbot llm`, but reachable from other containers."""
    models = model_data_dir
    r = entry(
        "llm",
        env={"SPECBOT_DATA_DIR": str(models), "LLM_PORT": "18123", "SPECBOT_LLM_DRY_RUN": "1"},
    )
    assert r.returncode == 0, r.stderr
    cmd = r.stdout.split()
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "18123"
    assert "--enable-lora" in cmd


def serve(payloads: dict[str, bytes]) -> tuple[HTTPServer, str]:
    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # stdlib name
            body = payloads.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a: Any) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), Files)
    Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def test_health_without_a_url_follows_the_role_of_the_container(tmp_path: Path) -> None:
    env = {"TMPDIR": str(tmp_path), "METRICS_PORT": str(free_port()), "SPECBOT_DATA_DIR": str(tmp_path)}
    (tmp_path / "specbot-role").write_text("train\n")
    assert entry("health", env=env).returncode == 0  # a one-shot job is healthy while it runs
    (tmp_path / "specbot-role").write_text("worker\n")
    assert entry("health", env=env).returncode != 0  # nothing serves /healthz on that port
    (tmp_path / "specbot-role").write_text("index-loop\n")
    assert entry("health", env=env).returncode != 0  # no finished pass yet
    (tmp_path / ".index-pass-done").write_text("1")
    assert entry("health", env=env).returncode == 0


def test_index_loop_survives_a_broken_file_and_reports_its_first_pass(
    sample_spec: Path, isolated_settings: Path
) -> None:
    """Compose's indexer: a file that cannot be parsed fails that file, not the service."""
    (sample_spec.parent / "broken.docx").write_bytes(b"not a zip at all")
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
        "SPECS_MOUNT": str(sample_spec.parent),
        "INDEX_INTERVAL_S": "3600",
        "SPECBOT_DATA_DIR": str(isolated_settings),
    }
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "index-loop"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    marker = isolated_settings / ".index-pass-done"
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no index pass finished"
            time.sleep(0.2)
        assert proc.poll() is None  # still running: it sleeps until the next pass
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert "finished with errors" in err
    assert "failed" in out and "broken.docx" in out
    r = entry("search", "pedal travel sensor", "--json", env={"SPECBOT_DATA_DIR": str(isolated_settings)})
    assert r.returncode == 0 and "sample_brake_spec.docx" in r.stdout


def test_fetch_specs_keeps_only_safe_docx_files(tmp_path: Path) -> None:
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("specs/brake.docx", b"docx-1")
        z.writestr("specs/readme.txt", b"text")
        z.writestr("../escape.docx", b"evil")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        for name, data in (("repo-main/a/b/steer.docx", b"docx-2"), ("/etc/abs.docx", b"evil")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    srv, base = serve({"/s.zip": zbuf.getvalue(), "/main.tar.gz": tbuf.getvalue(), "/one.docx": b"docx-3"})
    try:
        out = tmp_path / "out"
        r = entry("fetch-specs", str(out), env={"SPECS_URL": f"{base}/s.zip?sig=x"})
        assert r.returncode == 0, r.stderr
        r = entry("fetch-specs", str(out), env={"SPECS_URL": f"{base}/main.tar.gz"})
        assert r.returncode == 0, r.stderr
        r = entry("fetch-specs", str(out), env={"SPECS_URL": f"{base}/one.docx"})
        assert r.returncode == 0, r.stderr
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        assert files == ["one.docx", "repo-main/a/b/steer.docx", "specs/brake.docx"]
        assert not (tmp_path / "escape.docx").exists()
        bad = entry("fetch-specs", str(out), env={"SPECS_URL": "file:///etc/passwd"})
        assert bad.returncode != 0 and "http(s) URL" in bad.stderr
    finally:
        srv.shutdown()
