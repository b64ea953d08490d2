"""The Kubernetes manifests (deploy/kubernetes) against Kubernetes' own schemas, and against the
service they run: the settings it knows, its ports, its drain, its database connections."""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import PurePosixPath

import kubernetes_validate
import psycopg_pool
import pytest
from prometheus_client import CollectorRegistry

from casting.server.metrics import Metrics
from tests.support.image import image
from tests.support.manifests import MANIFESTS, container, manifests, setting_names

# Native grpc probes are GA from 1.27; the newest schemas kubernetes-validate ships are checked too.
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
# Read by the S3 client (obstore) and OpenTelemetry, not by Settings (README: Production, Observability).
STANDARD_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"}
# deploy/README.md asks for a max_connections of 200, of which PostgreSQL keeps
# superuser_reserved_connections (3) back.
POSTGRES_CONNECTIONS = 200 - 3


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_strictly_and_a_misspelt_field_does_not(version: str) -> None:
    found = manifests()
    assert {doc["kind"] for _, doc in found.documents} >= {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Job",
    }
    for _, document in found.documents:
        kubernetes_validate.validate(document, version, strict=True)

    misspelt = copy.deepcopy(found.one("Deployment", "casting"))
    container(misspelt)["readinessProbe"]["grpc"]["prot"] = container(misspelt)["readinessProbe"]["grpc"].pop(
        "port"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, version, strict=True)


def test_every_variable_the_manifests_set_is_one_the_service_reads() -> None:
    found = manifests()
    known = set(setting_names()) | STANDARD_VARIABLES
    set_here = set(found.settings())
    for workload in (found.one("Deployment", "casting"), found.one("Job", "casting-migrate")):
        set_here |= {variable["name"] for variable in container(workload).get("env", [])}
    assert set_here - known == set()


def test_the_deployment_takes_the_configmap_and_its_secrets() -> None:
    found = manifests()
    casting = container(found.one("Deployment", "casting"))
    assert casting["envFrom"] == [{"configMapRef": {"name": "casting"}}]
    from_secrets = {
        variable["name"] for variable in casting["env"] if "secretKeyRef" in variable.get("valueFrom", {})
    }
    assert {"CASTING_DATABASE_URL", "GEMINI_API_KEY", "AWS_SECRET_ACCESS_KEY"} <= from_secrets
    assert not from_secrets & set(found.settings())


def test_the_files_the_settings_name_are_mounted_whole_and_the_secret_ones_from_secrets() -> None:
    """TLS and the token file from Secrets, the budgets from a ConfigMap, each mounted without
    subPath: a subPath mount never sees its source change, and the token file is reloaded when
    it changes."""
    found = manifests()
    pod = found.one("Deployment", "casting")["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = container(found.one("Deployment", "casting"))["volumeMounts"]
    files = {name: value for name, value in found.settings().items() if name.endswith("_FILE")}
    secret = {
        "CASTING_TLS_CERT_FILE",
        "CASTING_TLS_KEY_FILE",
        "CASTING_TLS_CLIENT_CA_FILE",
        "CASTING_AUTH_TOKENS_FILE",
    }
    assert set(files) == secret | {"CASTING_BUDGETS_FILE"}
    for name, value in files.items():
        path = PurePosixPath(value)
        [mount] = [mount for mount in mounts if path.parent == PurePosixPath(mount["mountPath"])]
        assert "subPath" not in mount, name
        volume = volumes[mount["name"]]
        assert ("secret" if name in secret else "configMap") in volume, name
        if "configMap" in volume:
            assert path.name in found.one("ConfigMap", volume["configMap"]["name"])["data"], name


def test_ports_probes_and_services_follow_the_settings() -> None:
    found = manifests()
    deployment = found.one("Deployment", "casting")
    casting = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in casting["ports"]}
    assert ports == {
        "grpc": int(found.setting("CASTING_PORT")),
        "health": int(found.setting("CASTING_HEALTH_PORT")),
        "console": int(found.setting("CASTING_CONSOLE_PORT")),
        "metrics": int(found.setting("CASTING_METRICS_PORT")),
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert casting[probe]["grpc"]["port"] == ports["health"], probe
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]

    grpc_service, console = (
        found.one("Service", "casting")["spec"],
        found.one("Service", "casting-console")["spec"],
    )
    assert [port["targetPort"] for port in grpc_service["ports"]] == ["grpc"]
    # The console is off the public path: its own Service, inside the cluster only.
    assert [port["targetPort"] for port in console["ports"]] == ["console"]
    assert console["type"] == "ClusterIP"
    assert not [doc for _, doc in found.documents if doc["kind"] == "Ingress"]


def test_the_deployment_and_the_migration_job_run_the_image_as_its_user() -> None:
    found = manifests()
    built = image()
    deployment, job = found.one("Deployment", "casting"), found.one("Job", "casting-migrate")
    assert container(deployment)["image"] == container(job)["image"]
    uid = int(built.user.split(":")[0])
    for workload in (deployment, job):
        security = workload["spec"]["template"]["spec"]["securityContext"]
        assert (security["runAsNonRoot"], security["runAsUser"]) == (True, uid)
    assert built.argv(container(job).get("command"), container(job).get("args")) == ["casting", "migrate"]
    assert built.argv(container(deployment).get("command"), container(deployment).get("args")) == [
        "casting",
        "serve",
    ]


def test_the_grace_period_outlasts_prestop_and_the_drain() -> None:
    """After preStop, SIGTERM: the console's requests, then gRPC's calls, then the replica's
    CastStory steps each get CASTING_GRACE_PERIOD_SECONDS, one after the other (server/main.py)."""
    found = manifests()
    pod = found.one("Deployment", "casting")["spec"]["template"]["spec"]
    [sleep, seconds] = container(found.one("Deployment", "casting"))["lifecycle"]["preStop"]["exec"][
        "command"
    ]
    assert sleep == "sleep"
    drain = 3 * float(found.setting("CASTING_GRACE_PERIOD_SECONDS"))
    assert pod["terminationGracePeriodSeconds"] > int(seconds) + drain


def test_the_most_replicas_a_rollout_can_run_fit_the_databases_connections() -> None:
    found = manifests()
    deployment = found.one("Deployment", "casting")
    hpa = found.one("HorizontalPodAutoscaler", "casting")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    replicas = hpa["maxReplicas"] + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    # Every replica's CastStory worker has its own pool (procrastinate's psycopg pool, at its size).
    task_engine = inspect.signature(psycopg_pool.AsyncConnectionPool).parameters["min_size"].default
    # The model-call slots are held on one connection, whatever the cap.
    slots = 1
    per_replica = (
        int(found.setting("CASTING_DATABASE_POOL_SIZE"))
        + int(found.setting("CASTING_DATABASE_MAX_OVERFLOW"))
        + int(found.setting("CASTING_DATABASE_READ_POOL_SIZE"))
        + task_engine
        + slots
    )
    migration = 1
    assert replicas * per_replica + migration < POSTGRES_CONNECTIONS
    # The PodDisruptionBudget leaves a replica serving while a node drains.
    assert hpa["minReplicas"] - found.one("PodDisruptionBudget", "casting")["spec"]["maxUnavailable"] >= 1


def test_the_runbook_names_only_metrics_the_service_exports_and_settings_it_reads() -> None:
    runbook = (MANIFESTS.parent / "README.md").read_text()
    registry = CollectorRegistry()
    Metrics(registry)
    # A labelled metric has no samples until it counts something: its family names it.
    families = list(registry.collect())
    exported = {family.name for family in families} | {
        f"{family.name}_total" for family in families if family.type == "counter"
    }
    metrics_section = runbook.split("## When the model is down", 1)[1]
    named = set(re.findall(r"\bcasting_[a-z_]+\b", metrics_section))
    assert "casting_generations_total" in named
    assert named - exported == set()
    assert set(re.findall(r"\bCASTING_[A-Z_]+\b", runbook)) - set(setting_names()) == set()
