"""deploy/k8s as `kubectl kustomize` renders it, validated strictly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import K8S, by_kind, kustomize, pinned, pod_spec

CRDS = {"ScaledObject", "TriggerAuthentication"}


def test_every_object_is_valid_for_kubernetes_strictly(manifests: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for d in manifests:
        if d["kind"] in CRDS:
            continue
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{d['kind']}/{d['metadata']['name']}: {list(e.path)}: {e.message}")


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's schema, rejecting unknown fields as the API server's strict field validation does."""
    out = {
        k: (
            strict(v)
            if isinstance(v, dict)
            else [strict(i) if isinstance(i, dict) else i for i in v]
            if isinstance(v, list)
            else v
        )
        for k, v in schema.items()
    }
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if "properties" in out:
        out["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
    return out


def test_the_scaled_object_follows_kedas_crd(manifests: list[dict[str, Any]], schemas: Path) -> None:
    import jsonschema

    crd = yaml.safe_load((schemas / "keda.sh_scaledobjects.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = strict(version["schema"]["openAPIV3Schema"])
    so = by_kind(manifests, "ScaledObject", "worker")
    assert so["apiVersion"] == f"{crd['spec']['group']}/v1alpha1"
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(so)]
    assert not errors, errors


def test_keda_owns_the_worker_count_and_authenticates_to_redis(manifests: list[dict[str, Any]]) -> None:
    worker = by_kind(manifests, "Deployment", "worker")
    assert "replicas" not in worker["spec"], "every `kubectl apply` would reset KEDA's scale"
    so = by_kind(manifests, "ScaledObject", "worker")
    assert so["spec"]["scaleTargetRef"]["name"] == "worker"
    assert so["spec"]["maxReplicaCount"] > so["spec"]["minReplicaCount"] >= 1
    trig = so["spec"]["triggers"][0]
    assert trig["type"] == "redis" and trig["metadata"]["listName"] == "rq:queue:answers"
    auth = by_kind(manifests, "TriggerAuthentication", trig["authenticationRef"]["name"])
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert refs["password"]["name"] == "specbot-secrets" and refs["password"]["key"] == "REDIS_PASSWORD"
    redis = by_kind(manifests, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    assert "--requirepass" in redis["args"]
    assert redis["args"][redis["args"].index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert any(
        e["name"] == "REDIS_PASSWORD" and e["valueFrom"]["secretKeyRef"]["key"] == "REDIS_PASSWORD"
        for e in redis["env"]
    )


def test_the_keda_address_follows_the_namespace(manifests: list[dict[str, Any]], tmp_path: Path) -> None:
    address = by_kind(manifests, "ScaledObject", "worker")["spec"]["triggers"][0]["metadata"]["address"]
    assert address == "redis.specbot.svc.cluster.local:6379"
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    kust = copy / "kustomization.yaml"
    kust.write_text(kust.read_text().replace("\nnamespace: specbot\n", "\nnamespace: qa-specbot\n"))
    other = kustomize(copy)
    so = by_kind(other, "ScaledObject", "worker")
    assert so["spec"]["triggers"][0]["metadata"]["address"] == "redis.qa-specbot.svc.cluster.local:6379"
    assert so["metadata"]["namespace"] == "qa-specbot"


def test_redis_caps_memory_under_its_limit(manifests: list[dict[str, Any]]) -> None:
    c = by_kind(manifests, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    args = c["args"]
    assert "--appendonly" in args and args[args.index("--maxmemory-policy") + 1] == "noeviction"
    maxmemory = args[args.index("--maxmemory") + 1]
    assert maxmemory.endswith("mb") and int(maxmemory[:-2]) < 1024
    assert c["resources"]["limits"]["memory"] == "1Gi"


def test_upgrades_apply_render_twice(manifests: list[dict[str, Any]], tmp_path: Path) -> None:
    """Nothing immutable changes between two releases: no Job (its pod template cannot be
    changed by `apply`), stable names (the ConfigMap hash follows only its content), and
    selectors and volume claim templates that stay as they were."""
    assert not [d for d in manifests if d["kind"] == "Job"], "a Job cannot be updated by `kubectl apply -k`"
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    kust = copy / "kustomization.yaml"
    kust.write_text(kust.read_text().replace('newTag: "0.1.0"', 'newTag: "0.2.0"'))
    again = kustomize(copy)
    key = [(d["kind"], d["metadata"]["name"]) for d in manifests]
    assert key == [(d["kind"], d["metadata"]["name"]) for d in again]
    for old, new in zip(manifests, again, strict=True):
        for path in (("spec", "selector"), ("spec", "volumeClaimTemplates"), ("spec", "serviceName")):
            a, b = old, new
            for p in path:
                a, b = (a or {}).get(p), (b or {}).get(p)
            assert a == b, f"{old['kind']}/{old['metadata']['name']}: {'.'.join(path)} changed"
    images = {c["image"] for d in again if pod_spec(d) for c in pod_spec(d)["containers"]}
    assert "ghcr.io/example/specbot:0.2.0" in images


def test_bot_and_worker_probe_healthz_on_metrics_port(manifests: list[dict[str, Any]]) -> None:
    config = by_kind(manifests, "ConfigMap", next(d["metadata"]["name"] for d in manifests if d["kind"] == "ConfigMap"))
    port = int(config["data"]["METRICS_PORT"])
    for name in ("bot", "worker"):
        spec = by_kind(manifests, "Deployment", name)["spec"]["template"]
        c = spec["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            get = c[probe]["httpGet"]
            assert get["path"] == "/healthz" and ports.get(get["port"], get["port"]) == port, (name, probe)
        assert spec["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_vllm_serves_what_the_workers_ask_for_on_any_gpu_node(manifests: list[dict[str, Any]]) -> None:
    dep = by_kind(manifests, "Deployment", "vllm")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["image"].startswith("vllm/vllm-openai:") and pinned(c["image"])
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nodeSelector" not in spec  # the GPU request places it; no GPU Feature Discovery label needed
    env = {e["name"]: e for e in c["env"]}
    assert "--served-model-name=$(LLM_MODEL)" in c["args"] and "--max-model-len=$(LLM_CONTEXT_TOKENS)" in c["args"]
    assert env["LLM_MODEL"]["valueFrom"]["configMapKeyRef"]["key"] == "LLM_MODEL"
    assert env["LLM_CONTEXT_TOKENS"]["valueFrom"]["configMapKeyRef"]["key"] == "LLM_CONTEXT_TOKENS"
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "LLM_API_KEY"
    # The workers read the same ConfigMap keys (envFrom) and the same secret key.
    worker = by_kind(manifests, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert [s["configMapRef"]["name"] for s in worker["envFrom"]] == [
        env["LLM_MODEL"]["valueFrom"]["configMapKeyRef"]["name"]
    ]
    wenv = {e["name"]: e for e in worker["env"]}
    assert wenv["LLM_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "LLM_API_KEY"
    svc = by_kind(manifests, "Service", "llm")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_specs_are_fetched_by_the_indexer_itself(manifests: list[dict[str, Any]]) -> None:
    cron = by_kind(manifests, "CronJob", "indexer")
    spec = pod_spec(cron)
    assert spec is not None
    init = spec["initContainers"][0]
    assert init["args"][0] == "fetch-specs"
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["specs"]["readOnly"] and any(m["name"] == "specs" for m in init["volumeMounts"])
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == "specs")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_no_volume_waits_on_a_storage_class_we_do_not_require(manifests: list[dict[str, Any]]) -> None:
    claims = [d for d in manifests if d["kind"] == "PersistentVolumeClaim"]
    claims += [t for d in manifests if d["kind"] == "StatefulSet" for t in d["spec"].get("volumeClaimTemplates", [])]
    assert claims and all(c["spec"]["accessModes"] == ["ReadWriteOnce"] for c in claims)
    used = {
        v["persistentVolumeClaim"]["claimName"]
        for d in manifests
        if pod_spec(d)
        for v in pod_spec(d).get("volumes", [])
        if "persistentVolumeClaim" in v
    }
    standalone = {d["metadata"]["name"] for d in manifests if d["kind"] == "PersistentVolumeClaim"}
    assert standalone <= used, f"claims nothing mounts: {standalone - used}"


def test_network_policies_limit_who_reaches_the_backends(manifests: list[dict[str, Any]]) -> None:
    def allowed(target: str) -> set[str]:
        pols = [
            d
            for d in manifests
            if d["kind"] == "NetworkPolicy"
            and d["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == target
        ]
        assert pols, f"no NetworkPolicy for {target}"
        out = set()
        for p in pols:
            for rule in p["spec"]["ingress"]:
                for peer in rule["from"]:
                    if "podSelector" in peer:
                        out.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
                    else:
                        out.add("ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
        return out

    assert allowed("redis") == {"worker", "bot", "ns:keda"}
    assert allowed("vllm") == {"worker"}
    assert "worker" in allowed("weaviate") and "vllm" not in allowed("weaviate")
    assert allowed("postgres") == {"worker", "bot"}


def test_app_pods_are_hardened_and_get_only_their_secrets(manifests: list[dict[str, Any]]) -> None:
    apps = [by_kind(manifests, "Deployment", "worker"), by_kind(manifests, "Deployment", "bot")]
    apps.append(by_kind(manifests, "CronJob", "indexer"))
    for d in apps:
        spec = pod_spec(d)
        assert spec is not None
        assert spec["securityContext"]["runAsNonRoot"] is True, d["metadata"]["name"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and sc["allowPrivilegeEscalation"] is False, c["name"]
            assert not any("secretRef" in s for s in c.get("envFrom", [])), f"{c['name']} gets every secret"
    for name in ("redis", "postgres"):
        assert by_kind(manifests, "StatefulSet", name)["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]

    def secret_keys(d: dict[str, Any]) -> set[str]:
        spec = pod_spec(d)
        assert spec is not None
        return {
            e["valueFrom"]["secretKeyRef"]["key"]
            for c in spec["containers"]
            for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }

    assert not {"HF_TOKEN", "LLM_API_KEY"} & secret_keys(apps[1])  # the bot
    assert secret_keys(apps[2]) == {"WEAVIATE_API_KEY"}  # the indexer
    # No PodDisruptionBudget that would block draining a node with a single replica.
    for pdb in [d for d in manifests if d["kind"] == "PodDisruptionBudget"]:
        assert pdb["spec"].get("maxUnavailable", 0) != 0 and "minAvailable" not in pdb["spec"]


def test_every_long_running_container_has_probes_and_images_are_pinned(manifests: list[dict[str, Any]]) -> None:
    for d in manifests:
        if d["kind"] in ("Deployment", "StatefulSet"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert "livenessProbe" in c and "readinessProbe" in c, f"{d['metadata']['name']}/{c['name']}"
        spec = pod_spec(d)
        if spec:
            for c in spec.get("initContainers", []) + spec["containers"]:
                assert pinned(c["image"]), c["image"]
        assert d["kind"] == "Namespace" or d["metadata"]["namespace"] == "specbot"
