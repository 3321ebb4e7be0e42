"""ECS manifests against botocore's model of the ECS and ELBv2 APIs and the Fargate sizes
(issue 15 items 3-4): the committed ones pass, and each deliberately broken copy fails."""

import json
from pathlib import Path

import pytest

from deploy.tools import ecs, parity

FOLDER = parity.ROOT / "deploy" / "ecs"
FILES = sorted(FOLDER.glob("*.json"))


def test_each_role_has_a_task_definition_and_the_calls_to_run_it():
    assert [p.name for p in FILES] == [
        "beat-service.json",
        "beat-taskdef.json",
        "migrate-run-task.json",
        "migrate-taskdef.json",
        "web-service.json",
        "web-target-group.json",
        "web-taskdef.json",
        "worker-service.json",
        "worker-taskdef.json",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_manifest_passes(path):
    assert ecs.validate(path) == []


def broken(tmp_path: Path, name: str, change) -> list[str]:
    doc = json.loads((FOLDER / name).read_text())
    change(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return ecs.validate(path)


def test_an_unknown_key_fails(tmp_path):
    def snake(doc):
        secret = doc["containerDefinitions"][0]["secrets"][0]
        secret["value_from"] = secret.pop("valueFrom")

    errors = broken(tmp_path, "web-taskdef.json", snake)

    assert any(
        'Missing required parameter in containerDefinitions[0].secrets[0]: "valueFrom"' in e
        for e in errors
    )
    assert any(
        'Unknown parameter in containerDefinitions[0].secrets[0]: "value_from"' in e for e in errors
    )


def test_a_string_where_the_api_wants_a_number_fails(tmp_path):
    def text(doc):
        doc["containerDefinitions"][0]["healthCheck"]["interval"] = "15"

    errors = broken(tmp_path, "web-taskdef.json", text)

    assert any("containerDefinitions[0].healthCheck.interval" in e for e in errors), errors


def test_a_size_fargate_does_not_offer_fails(tmp_path):
    def too_much(doc):
        doc["cpu"], doc["memory"] = "512", "8192"

    errors = broken(tmp_path, "worker-taskdef.json", too_much)

    assert errors == [
        "worker-taskdef.json: Fargate has no task size of 512 CPU units with 8192 MiB"
    ]


def test_a_secret_in_plain_environment_fails(tmp_path):
    def plain(doc):
        doc["containerDefinitions"][0]["environment"].append(
            {"name": "DJANGO_SECRET_KEY", "value": "oops"}
        )

    errors = broken(tmp_path, "beat-taskdef.json", plain)

    assert errors == [
        "beat-taskdef.json: DJANGO_SECRET_KEY is a secret: move it to secrets[] (valueFrom)"
    ]


def test_root_and_other_log_drivers_fail(tmp_path):
    def careless(doc):
        doc["containerDefinitions"][0]["user"] = "0"
        doc["containerDefinitions"][0]["logConfiguration"]["logDriver"] = "json-file"

    errors = broken(tmp_path, "migrate-taskdef.json", careless)

    assert errors == [
        'migrate-taskdef.json: run as the image\'s numeric non-root user (user: "10001")',
        "migrate-taskdef.json: logs go to CloudWatch (logDriver awslogs)",
    ]


def test_two_beats_during_a_deployment_fail(tmp_path):
    def overlap(doc):
        doc["deploymentConfiguration"]["maximumPercent"] = 200

    errors = broken(tmp_path, "beat-service.json", overlap)

    assert errors == [
        "beat-service.json: beat runs exactly one task (desiredCount 1, maximumPercent 100)"
    ]


def test_a_public_web_task_fails(tmp_path):
    def public(doc):
        doc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] = "ENABLED"
        doc["desiredCount"] = 1

    errors = broken(tmp_path, "web-service.json", public)

    assert errors == [
        "web-service.json: web runs at least two tasks",
        "web-service.json: tasks live in private subnets (assignPublicIp DISABLED)",
    ]


def test_an_instance_target_group_fails(tmp_path):
    def instance(doc):
        doc["TargetType"] = "instance"
        doc["HealthCheckPath"] = "/"

    errors = broken(tmp_path, "web-target-group.json", instance)

    assert errors == [
        "web-target-group.json: Fargate tasks register by IP (TargetType ip)",
        "web-target-group.json: health checks go to /healthz/ on port 8000",
    ]


def test_the_container_name_and_command_follow_the_role(tmp_path):
    def mixed_up(doc):
        doc["containerDefinitions"][0]["name"] = "app"
        doc["containerDefinitions"][0]["command"] = ["beat"]

    errors = broken(tmp_path, "worker-taskdef.json", mixed_up)

    assert errors == [
        "worker-taskdef.json: the container must be named worker",
        "worker-taskdef.json: runs ['beat']; the worker role is the argument ['worker']",
    ]


def test_a_task_definition_missing_a_production_secret_fails_parity(tmp_path):
    def dropped(doc):
        secrets = doc["containerDefinitions"][0]["secrets"]
        doc["containerDefinitions"][0]["secrets"] = [s for s in secrets if s["name"] != "REDIS_URL"]

    broken(tmp_path, "worker-taskdef.json", dropped)

    assert parity.check(parity.ecs_containers(tmp_path / "worker-taskdef.json")) == [
        "worker-taskdef.json:worker: production needs REDIS_URL"
    ]
