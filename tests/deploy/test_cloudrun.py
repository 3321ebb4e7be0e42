"""Cloud Run manifests against the Cloud Run v1 API description (issue 15 items 3-4):
the committed ones pass, and each deliberately broken copy fails."""

from pathlib import Path

import pytest
import yaml

from deploy.tools import cloudrun, parity

FOLDER = parity.ROOT / "deploy" / "cloudrun"
FILES = sorted(FOLDER.glob("*.yaml"))


def test_there_is_a_manifest_for_each_role():
    kinds = {path.name: yaml.safe_load(path.read_text())["kind"] for path in FILES}

    assert kinds == {
        "web-service.yaml": "Service",
        "migrate-job.yaml": "Job",
        "worker-pool.yaml": "WorkerPool",
        "beat-pool.yaml": "WorkerPool",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_manifest_passes(path):
    assert cloudrun.validate(path) == []


def broken(tmp_path: Path, name: str, change) -> list[str]:
    doc = yaml.safe_load((FOLDER / name).read_text())
    change(doc)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return cloudrun.validate(path)


def web(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


def job_container(doc):
    return doc["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]


def test_a_misspelt_field_fails(tmp_path):
    def typo(doc):
        web(doc)["startupProbes"] = web(doc).pop("startupProbe")

    errors = broken(tmp_path, "web-service.yaml", typo)

    assert any("'startupProbes' was unexpected" in e for e in errors), errors


def test_a_wrong_type_fails(tmp_path):
    def words(doc):
        doc["spec"]["template"]["spec"]["containerConcurrency"] = "forty"

    errors = broken(tmp_path, "web-service.yaml", words)

    assert any("containerConcurrency: 'forty' is not of type 'integer'" in e for e in errors)


def test_an_annotation_on_the_wrong_resource_fails(tmp_path):
    def on_service(doc):
        doc["metadata"]["annotations"]["run.googleapis.com/cloudsql-instances"] = "p:r:i"

    errors = broken(tmp_path, "web-service.yaml", on_service)

    assert errors == [
        "web-service.yaml: run.googleapis.com/cloudsql-instances is not accepted on a "
        "Service (Execution, Instance, Revision)"
    ]


def test_an_unquoted_annotation_fails(tmp_path):
    def number(doc):
        doc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/maxScale"] = 10

    errors = broken(tmp_path, "web-service.yaml", number)

    assert any("maxScale" in e and "string" in e for e in errors), errors


def test_a_worker_pool_refuses_a_service_annotation(tmp_path):
    def launch_stage(doc):
        doc["metadata"]["annotations"]["run.googleapis.com/ingress"] = "internal"

    errors = broken(tmp_path, "worker-pool.yaml", launch_stage)

    assert any("run.googleapis.com/ingress is not accepted on a WorkerPool" in e for e in errors)


def test_a_secret_as_a_plain_value_fails(tmp_path):
    def plain(doc):
        web(doc)["env"].append({"name": "SMSBROADCAST_PASSWORD", "value": "hunter2"})

    errors = broken(tmp_path, "web-service.yaml", plain)

    assert (
        "web-service.yaml: SMSBROADCAST_PASSWORD is a secret: use valueFrom.secretKeyRef" in errors
    )


def test_an_unpinned_secret_version_fails(tmp_path):
    def latest(doc):
        web(doc)["env"][-1]["valueFrom"]["secretKeyRef"]["key"] = "latest"

    errors = broken(tmp_path, "web-service.yaml", latest)

    assert any("pin NEXUS_METRICS_TOKEN's secret to a version number" in e for e in errors)


def test_a_retried_migration_fails(tmp_path):
    def retried(doc):
        doc["spec"]["template"]["spec"]["template"]["spec"]["maxRetries"] = 3

    errors = broken(tmp_path, "migrate-job.yaml", retried)

    assert errors == ["migrate-job.yaml: a migration job must not be retried (maxRetries: 0)"]


def test_the_latest_tag_and_the_wrong_role_fail(tmp_path):
    def latest(doc):
        job_container(doc)["image"] = "australia-southeast1-docker.pkg.dev/p/nexus/nexus:latest"
        job_container(doc)["args"] = ["web"]

    errors = broken(tmp_path, "migrate-job.yaml", latest)

    assert any("must name a version" in e for e in errors)
    assert any("the migrate role is the argument" in e for e in errors)


def test_too_little_cpu_for_the_memory_fails(tmp_path):
    def big(doc):
        web(doc)["resources"]["limits"]["memory"] = "8Gi"

    errors = broken(tmp_path, "web-service.yaml", big)

    assert errors == ["web-service.yaml: 8Gi of memory needs at least 2 CPUs, not 1"]


def test_probes_must_use_the_health_endpoints(tmp_path):
    def liveness_on_home(doc):
        web(doc)["livenessProbe"]["httpGet"]["path"] = "/"

    errors = broken(tmp_path, "web-service.yaml", liveness_on_home)

    assert errors == [
        "web-service.yaml: probes must be startup on /readyz/ and liveness on /healthz/"
    ]


def test_a_misspelt_placeholder_fails(tmp_path):
    text = (FOLDER / "web-service.yaml").read_text().replace("${PROJECT_ID}", "${PROJECTID}", 1)
    path = tmp_path / "web-service.yaml"
    path.write_text(text)

    assert "web-service.yaml: unknown placeholder ${PROJECTID}" in cloudrun.validate(path)


def test_a_variable_the_settings_do_not_read_fails_parity(tmp_path):
    def renamed(doc):
        web(doc)["env"].append({"name": "DJANGO_ALLOWED_HOST", "value": "x"})

    broken(tmp_path, "web-service.yaml", renamed)
    containers = parity.cloudrun_containers(tmp_path / "web-service.yaml")

    assert parity.check(containers) == [
        "web-service.yaml:web: sets DJANGO_ALLOWED_HOST, which Nexus does not read",
        "web-service.yaml:web: sets DJANGO_ALLOWED_HOST, which .env.example does not list",
    ]


def test_a_missing_required_secret_fails_parity(tmp_path):
    def dropped(doc):
        env = job_container(doc)["env"]
        job_container(doc)["env"] = [e for e in env if e["name"] != "NEXUS_ENCRYPTION_KEYS"]

    broken(tmp_path, "migrate-job.yaml", dropped)
    containers = parity.cloudrun_containers(tmp_path / "migrate-job.yaml")

    assert parity.check(containers) == [
        "migrate-job.yaml:migrate: production needs NEXUS_ENCRYPTION_KEYS"
    ]
