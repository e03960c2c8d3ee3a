"""The Helm chart: what it renders, what it refuses, and that Kubernetes' schemas accept it."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import (
    CHART,
    CI_VALUES,
    NAMESPACE,
    Rendered,
    container,
    env,
    helm,
    kube_versions,
    render,
    template,
    tool_path,
)

GATEWAY = "stt-whisperlive-hybrid-gateway"
WORKER = "stt-whisperlive-hybrid-worker"
HEADLESS = "stt-whisperlive-hybrid-worker-headless"
VALUES_CASES = ["default", "cpu-values.yaml", "full-values.yaml"]
# kubeconform's schema paths, as scripts/helm_schemas.py lays them out.
KUBERNETES_SCHEMAS = (
    "{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/"
    "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CRD_SCHEMAS = "crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


def values_args(case: str) -> tuple[str, ...]:
    return () if case == "default" else (case,)


def kubeconform(manifests: str, kube_version: str) -> subprocess.CompletedProcess[str]:
    """kubeconform -strict over manifests, with the schemas `make test-helm` laid out offline."""
    schemas = tool_path("HELM_SCHEMAS")
    return subprocess.run(
        [
            str(tool_path("KUBECONFORM")),
            "-strict",
            "-summary",
            "-kubernetes-version",
            kube_version,
            "-schema-location",
            f"{schemas}/{KUBERNETES_SCHEMAS}",
            "-schema-location",
            f"{schemas}/{CRD_SCHEMAS}",
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("case", VALUES_CASES)
def test_helm_lint_passes_strict(case: str) -> None:
    values = [] if case == "default" else ["--values", str(CI_VALUES / case)]
    result = helm("lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("kube_version", kube_versions())
@pytest.mark.parametrize("case", VALUES_CASES)
def test_manifests_match_the_kubernetes_schemas(case: str, kube_version: str) -> None:
    rendered = render(*values_args(case), kube_version=kube_version)
    result = kubeconform(rendered.text, kube_version)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every document was checked against a schema, none skipped for want of one.
    assert f"Valid: {len(rendered.documents)}, Invalid: 0, Errors: 0, Skipped: 0" in result.stdout


@pytest.mark.parametrize(
    ("kind", "field_path"),
    [
        ("Deployment", ["spec", "template", "spec", "containers", 0]),
        ("ServiceMonitor", ["spec", "endpoints", 0]),
        ("ScaledObject", ["spec", "triggers", 0]),
    ],
)
def test_kubeconform_refuses_an_unknown_field(kind: str, field_path: list[str | int]) -> None:
    """The schemas are really applied, strictly, to built-in kinds and custom resources."""
    rendered = render("full-values.yaml")
    document = next(d for d in rendered.documents if d["kind"] == kind)
    target = document
    for key in field_path:
        target = target[key]
    target["livenessProbee"] = {}
    kube_version = kube_versions()[0]
    result = kubeconform(yaml.safe_dump(document), kube_version)
    assert result.returncode == 1, result.stdout
    assert "livenessProbee" in result.stdout
    assert "Invalid: 1" in result.stdout


def test_default_resources() -> None:
    rendered = render()
    assert rendered.kinds() == [
        ("Deployment", GATEWAY),
        ("Deployment", WORKER),
        ("Service", GATEWAY),
        ("Service", HEADLESS),
    ]


def test_gateway_reaches_every_worker_through_the_headless_service() -> None:
    rendered = render()
    gateway_env = env(rendered.get("Deployment", GATEWAY))
    assert gateway_env["GATEWAY_WORKER_ADDRESS"] == (
        f"dns:///{HEADLESS}.{NAMESPACE}.svc.cluster.local:50051"
    )
    headless = rendered.get("Service", HEADLESS)["spec"]
    assert headless["clusterIP"] == "None"
    assert [(p["name"], p["port"]) for p in headless["ports"]] == [
        ("grpc", 50051),
        ("metrics", 9400),
    ]
    assert headless["selector"]["app.kubernetes.io/component"] == "worker"


def test_gateway_ports_env_and_http_probes() -> None:
    rendered = render()
    service = rendered.get("Service", GATEWAY)["spec"]
    assert [(p["name"], p["port"]) for p in service["ports"]] == [
        ("http", 8080),
        ("whisperlive", 5050),
    ]
    gateway_env = env(rendered.get("Deployment", GATEWAY))
    assert gateway_env["HTTP_PORT"] == "8080"
    assert gateway_env["PORT_WHISPERLIVE"] == "5050"
    assert gateway_env["LOG_LEVEL"] == "info"
    assert gateway_env["GATEWAY_DRAIN_GRACE_S"] == "30"
    assert "GATEWAY_API_KEYS" not in gateway_env
    gateway = container(rendered.get("Deployment", GATEWAY))
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_api_keys_come_from_the_named_secret() -> None:
    rendered = render(sets=("gateway.apiKeys.existingSecret=stt-keys",))
    assert env(rendered.get("Deployment", GATEWAY))["GATEWAY_API_KEYS"] == {
        "secretKeyRef": {"name": "stt-keys", "key": "api-keys"}
    }


def test_worker_on_a_gpu_by_default() -> None:
    worker = render().get("Deployment", WORKER)
    worker_env = env(worker)
    assert worker_env["WORKER_ENGINE__DEVICE"] == "cuda"
    assert worker_env["FASTERWHISPER_MODEL"] == "base"
    assert worker_env["WORKER_HOST"] == "0.0.0.0"
    assert worker_env["WORKER_METRICS_PORT"] == "9400"
    assert worker_env["WORKER_SHUTDOWN_GRACE_S"] == "30"
    assert "OMP_NUM_THREADS" not in worker_env
    assert container(worker)["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_worker_without_gpus_runs_on_the_cpu() -> None:
    worker = render("cpu-values.yaml").get("Deployment", WORKER)
    worker_env = env(worker)
    assert worker_env["WORKER_ENGINE__DEVICE"] == "cpu"
    assert worker_env["FASTERWHISPER_MODEL"] == "tiny.en"
    assert worker_env["OMP_NUM_THREADS"] == "4"
    assert "nvidia.com/gpu" not in container(worker)["resources"]["limits"]


def test_worker_grpc_probes_use_the_standard_health_service() -> None:
    worker = container(render().get("Deployment", WORKER))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert worker[probe]["grpc"] == {"port": 50051}, probe
    # Model download and load may take minutes before the first SERVING.
    startup = worker["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 600


def test_pods_run_as_non_root_with_a_read_only_root() -> None:
    rendered = render()
    for name, uid in ((GATEWAY, 1000), (WORKER, 10001)):
        deployment = rendered.get("Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["automountServiceAccountToken"] is False
        security = container(deployment)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}


def grace_periods(rendered: Rendered) -> dict[str, int]:
    return {
        name: rendered.get("Deployment", name)["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        for name in (GATEWAY, WORKER)
    }


def test_termination_grace_is_derived_from_the_drain_grace() -> None:
    # gateway: 5 s preStop sleep + 30 s drain + 5 s margin; worker: 30 s drain + 5 s margin.
    assert grace_periods(render()) == {GATEWAY: 40, WORKER: 35}
    # An explicit period long enough is kept; a fractional drain grace is rounded up.
    assert grace_periods(render("full-values.yaml")) == {GATEWAY: 60, WORKER: 126}


def test_termination_grace_shorter_than_the_drain_is_refused() -> None:
    result = template("invalid-grace-values.yaml")
    assert result.returncode == 1
    assert (
        "worker.terminationGracePeriodSeconds (20) is shorter than its drain: "
        "worker.drainGraceSeconds (30) + terminationGraceMarginSeconds (5) = 35 s; "
        "Kubernetes would kill the worker before it drains."
    ) in result.stderr
    result = template(sets=("gateway.terminationGracePeriodSeconds=39",))
    assert result.returncode == 1
    assert (
        "gateway.terminationGracePeriodSeconds (39) is shorter than its drain: "
        "gateway.drainGraceSeconds (30) + preStopSleepSeconds (5) + "
        "terminationGraceMarginSeconds (5) = 40 s;"
    ) in result.stderr


def test_values_schema_refuses_unknown_keys_and_wrong_types() -> None:
    result = template("invalid-schema-values.yaml")
    assert result.returncode == 1
    assert "values don't meet the specifications of the schema(s)" in result.stderr
    assert "additional properties 'gpu' not allowed" in result.stderr
    assert "at '/worker/replicas': got string, want integer" in result.stderr


def test_keda_never_scales_the_workers_to_zero() -> None:
    result = template(sets=("keda.enabled=true", "keda.minReplicas=0"))
    assert result.returncode == 1
    assert "at '/keda/minReplicas': minimum: got 0, want 1" in result.stderr


def test_cuda_without_gpus_is_refused() -> None:
    result = template(sets=("worker.gpus=0", "worker.device=cuda"))
    assert result.returncode == 1
    assert 'worker.device is "cuda" but worker.gpus is 0' in result.stderr


def test_update_strategy_is_passed_through() -> None:
    assert "strategy" not in render().get("Deployment", WORKER)["spec"]
    worker = render("full-values.yaml").get("Deployment", WORKER)
    assert worker["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


def test_keda_scales_the_workers_on_stream_load() -> None:
    rendered = render("full-values.yaml")
    # KEDA's HPA owns the replica count; the chart must not reset it on upgrade.
    assert "replicas" not in rendered.get("Deployment", WORKER)["spec"]
    scaled = rendered.get("ScaledObject", WORKER)["spec"]
    assert scaled["scaleTargetRef"] == {"name": WORKER}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 8)
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metricType"] == "Value"
    selector = f'namespace="{NAMESPACE}", service="{HEADLESS}"'
    assert trigger["metadata"] == {
        "serverAddress": "http://prometheus-operated.monitoring.svc:9090",
        "query": f"sum(stt_worker_streams_active{{{selector}}}) / "
        f"clamp_min(sum(stt_worker_streams_capacity{{{selector}}}), 1)",
        "threshold": "0.7",
    }


def test_service_monitors_scrape_gateway_and_workers() -> None:
    rendered = render("full-values.yaml")
    for component, port in (("gateway", "http"), ("worker", "metrics")):
        monitor = rendered.get("ServiceMonitor", f"stt-whisperlive-hybrid-{component}")
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == (
            component
        )
        (endpoint,) = monitor["spec"]["endpoints"]
        assert (endpoint["port"], endpoint["path"]) == (port, "/metrics")


def test_pod_disruption_budgets() -> None:
    rendered = render("full-values.yaml")
    assert rendered.get("PodDisruptionBudget", GATEWAY)["spec"]["minAvailable"] == 1
    assert rendered.get("PodDisruptionBudget", WORKER)["spec"]["maxUnavailable"] == 1
    result = template(
        sets=(
            "worker.podDisruptionBudget.enabled=true",
            "worker.podDisruptionBudget.minAvailable=1",
        )
    )
    assert result.returncode == 1
    assert "worker.podDisruptionBudget: set exactly one of minAvailable and maxUnavailable" in (
        result.stderr
    )


def test_full_values_render_every_optional_resource() -> None:
    assert render("full-values.yaml").kinds() == [
        ("Deployment", GATEWAY),
        ("Deployment", WORKER),
        ("PodDisruptionBudget", GATEWAY),
        ("PodDisruptionBudget", WORKER),
        ("ScaledObject", WORKER),
        ("Service", GATEWAY),
        ("Service", HEADLESS),
        ("ServiceMonitor", GATEWAY),
        ("ServiceMonitor", WORKER),
    ]
