"""ECS manifests (deploy/ecs/*.json) against the AWS API model that botocore ships.

Each file is the `--cli-input-json` of one call, told by its name: `*-taskdef.json`
RegisterTaskDefinition, `*-service.json` CreateService, `*-run-task.json` RunTask,
`*-target-group.json` ELBv2 CreateTargetGroup. botocore's ParamValidator checks names,
types and required members exactly as the CLI would before sending; then the Fargate
CPU/memory table and Nexus's own rules (secrets from Secrets Manager, awslogs, a non-root
user, one beat at a time, health checks on /healthz/).
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from deploy.tools.manifests import SECRET_NAME, as_dict, image_errors, render, role_errors

OPERATIONS = {
    "-taskdef": ("ecs", "RegisterTaskDefinition"),
    "-service": ("ecs", "CreateService"),
    "-run-task": ("ecs", "RunTask"),
    "-target-group": ("elbv2", "CreateTargetGroup"),
}
REGISTRY = r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/"


def _fargate_memory(cpu: int) -> range:
    """Valid task memory (MiB) for a Fargate task CPU (AWS ECS developer guide)."""
    return {
        256: range(512, 2049, 512),
        512: range(1024, 4097, 1024),
        1024: range(2048, 8193, 1024),
        2048: range(4096, 16385, 1024),
        4096: range(8192, 30721, 1024),
        8192: range(16384, 61441, 4096),
        16384: range(32768, 122881, 8192),
    }.get(cpu, range(0))


@cache
def model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation(path: Path) -> tuple[str, str] | None:
    return next((op for suffix, op in OPERATIONS.items() if path.stem.endswith(suffix)), None)


def validate(path: Path) -> list[str]:
    name = path.name
    text, errors = render(path.read_text())
    errors = [f"{name}: {e}" for e in errors]
    found = operation(path)
    if found is None:
        return [*errors, f"{name}: the name must end in {', '.join(OPERATIONS)}"]
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        return [*errors, f"{name}: not JSON: {exc}"]
    service, op = found
    shape = model(service).operation_model(op).input_shape
    assert shape is not None  # every call here takes input  # noqa: S101
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        return [*errors, *(f"{name}: {line}" for line in report.generate_report().splitlines())]
    rules = {
        "RegisterTaskDefinition": _task_definition_errors,
        "CreateService": _service_errors,
        "RunTask": _run_task_errors,
        "CreateTargetGroup": _target_group_errors,
    }
    return errors + rules[op](path, params)


def _task_definition_errors(path: Path, params: dict[str, Any]) -> list[str]:
    name = path.name
    errors = []
    if params.get("networkMode") != "awsvpc" or params.get("requiresCompatibilities") != [
        "FARGATE"
    ]:
        errors.append(
            f"{name}: Fargate needs networkMode awsvpc and requiresCompatibilities [FARGATE]"
        )
    cpu, memory = int(params.get("cpu", 0)), int(params.get("memory", 0))
    if memory not in _fargate_memory(cpu):
        errors.append(f"{name}: Fargate has no task size of {cpu} CPU units with {memory} MiB")
    role = next((r for r in ("web", "worker", "beat", "migrate") if path.stem.startswith(r)), "")
    if params.get("family") != f"nexus-{role}":
        errors.append(f"{name}: family must be nexus-{role}")
    containers = params.get("containerDefinitions", [])
    if len(containers) != 1:
        return [*errors, f"{name}: expected one container, found {len(containers)}"]
    container = containers[0]
    if container.get("name") != role:
        errors.append(f"{name}: the container must be named {role}")
    errors += image_errors(name, container.get("image", ""), REGISTRY)
    errors += role_errors(name, path, list(container.get("command") or []))
    if not str(container.get("user", "")).isdigit() or container.get("user") == "0":
        errors.append(f'{name}: run as the image\'s numeric non-root user (user: "10001")')
    for item in container.get("environment", []):
        if SECRET_NAME.search(item["name"]):
            errors.append(f"{name}: {item['name']} is a secret: move it to secrets[] (valueFrom)")
    for item in container.get("secrets", []):
        if not re.match(r"^arn:aws:(secretsmanager|ssm):", item["valueFrom"]):
            errors.append(f"{name}: {item['name']} must come from Secrets Manager or SSM")
    logs = as_dict(container.get("logConfiguration"))
    if logs.get("logDriver") != "awslogs":
        errors.append(f"{name}: logs go to CloudWatch (logDriver awslogs)")
    if role == "web":
        check = " ".join(as_dict(container.get("healthCheck")).get("command", []))
        if "/healthz/" not in check:
            errors.append(f"{name}: the web container's healthCheck must call /healthz/")
    return errors


def _service_errors(path: Path, params: dict[str, Any]) -> list[str]:
    name = path.name
    errors = []
    deployment = as_dict(params.get("deploymentConfiguration"))
    if path.stem.startswith("beat"):
        # Never two schedulers, not even for a moment during a deployment.
        if params.get("desiredCount") != 1 or deployment.get("maximumPercent") != 100:
            errors.append(
                f"{name}: beat runs exactly one task (desiredCount 1, maximumPercent 100)"
            )
        if deployment.get("minimumHealthyPercent") != 0:
            errors.append(f"{name}: beat needs minimumHealthyPercent 0 to be replaced at all")
    if path.stem.startswith("web"):
        if params.get("desiredCount", 0) < 2:
            errors.append(f"{name}: web runs at least two tasks")
        balancers = params.get("loadBalancers", [])
        if [(b.get("containerName"), b.get("containerPort")) for b in balancers] != [("web", 8000)]:
            errors.append(f"{name}: the target group must point at container web, port 8000")
    if not as_dict(deployment.get("deploymentCircuitBreaker")).get("rollback"):
        errors.append(f"{name}: turn on the deployment circuit breaker with rollback")
    network = as_dict(as_dict(params.get("networkConfiguration")).get("awsvpcConfiguration"))
    if network.get("assignPublicIp") != "DISABLED":
        errors.append(f"{name}: tasks live in private subnets (assignPublicIp DISABLED)")
    return errors


def _run_task_errors(path: Path, params: dict[str, Any]) -> list[str]:
    if not str(params.get("taskDefinition", "")).startswith("nexus-migrate"):
        return [f"{path.name}: the one-off task is the migrate task definition"]
    return []


def _target_group_errors(path: Path, params: dict[str, Any]) -> list[str]:
    name = path.name
    errors = []
    if params.get("TargetType") != "ip":
        errors.append(f"{name}: Fargate tasks register by IP (TargetType ip)")
    if params.get("HealthCheckPath") != "/healthz/" or params.get("Port") != 8000:
        errors.append(f"{name}: health checks go to /healthz/ on port 8000")
    return errors
