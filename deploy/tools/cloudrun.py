"""Cloud Run manifests (deploy/cloudrun/*.yaml) against Cloud Run's own API description.

The schema is the Cloud Run Admin API v1 discovery document that google-api-python-client
ships (pinned in the dev group; an upgrade that changes a field fails here first). Every
object is closed (no unknown keys), and the annotations each resource accepts are parsed
from the same document. Then Nexus's own rules: pinned image, secrets by reference, the
migration job never retried, probes on /healthz/ and /readyz/, CPU for the memory asked.
"""

import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from deploy.tools.manifests import (
    SECRET_NAME,
    as_dict,
    discovery_document,
    discovery_schema,
    image_errors,
    render,
    role_errors,
)

ROOTS = {
    ("serving.knative.dev/v1", "Service"): "Service",
    ("run.googleapis.com/v1", "Job"): "Job",
    ("run.googleapis.com/v1", "WorkerPool"): "WorkerPool",
}
REGISTRY = r"^[a-z0-9-]+-docker\.pkg\.dev/[a-z0-9-]+/[a-z0-9-]+/"
# Cloud Run's minimum CPUs for a memory limit (GiB above which, CPUs needed).
CPU_FOR_MEMORY = [(24, 8), (16, 6), (8, 4), (4, 2)]


def discovery() -> dict[str, Any]:
    return discovery_document("run.v1")


def schema(root: str) -> dict[str, Any]:
    return discovery_schema("run.v1", root)


@cache
def allowed_annotations() -> dict[str, set[str]]:
    """annotation -> resource kinds accepting it ("Service", "Revision", "Execution", ...)."""
    schemas = discovery()["schemas"]
    text = schemas["ObjectMeta"]["properties"]["annotations"]["description"]
    allowed: dict[str, set[str]] = {}
    for name, kinds in re.findall(r"\* `([^`]+)`: ([^*]+)", text):
        allowed[name] = {k.strip(" .,") for k in kinds.split(",") if k.strip(" .,")}
    pool_text = schemas["WorkerPool"]["properties"]["metadata"]["description"]
    for name in re.findall(r"\* `([^`]+)`", pool_text):
        allowed.setdefault(name, set()).add("WorkerPool")
    return allowed


def _annotation_errors(where: str, annotations: dict[str, Any], kind: str) -> list[str]:
    errors = []
    for name, value in annotations.items():
        if not isinstance(value, str):
            errors.append(f"{where}: annotation {name} must be a quoted string, not {value!r}")
        if not name.startswith(("run.googleapis.com/", "autoscaling.knative.dev/")):
            continue
        kinds = allowed_annotations().get(name)
        if kinds is None:
            errors.append(f"{where}: Cloud Run has no annotation {name}")
        elif kind not in kinds and "All resources" not in kinds:
            errors.append(
                f"{where}: {name} is not accepted on a {kind} ({', '.join(sorted(kinds))})"
            )
    return errors


def validate(path: Path) -> list[str]:
    text, errors = render(path.read_text())
    errors = [f"{path.name}: {e}" for e in errors]
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        return [*errors, f"{path.name}: not YAML: {exc}"]
    for doc in documents:
        errors += validate_document(path, doc)
    return errors


def validate_document(path: Path, doc: dict[str, Any]) -> list[str]:
    name = path.name
    root = ROOTS.get((doc.get("apiVersion"), doc.get("kind")))  # type: ignore[arg-type]
    if root is None:
        return [f"{name}: not a Cloud Run Service, Job or WorkerPool"]
    validator = jsonschema.Draft202012Validator(schema(root))
    errors = [
        f"{name}: {'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(doc)
    ]
    if errors:
        return errors  # the rules below assume the shape is right
    metadata = as_dict(doc.get("metadata"))
    template = as_dict(as_dict(doc.get("spec")).get("template"))
    errors += _annotation_errors(name, as_dict(metadata.get("annotations")), root)
    template_kind = "Execution" if root == "Job" else "Revision"
    template_annotations = as_dict(as_dict(template.get("metadata")).get("annotations"))
    errors += _annotation_errors(f"{name} template", template_annotations, template_kind)
    sql = template_annotations.get("run.googleapis.com/cloudsql-instances")
    if sql is not None and not re.fullmatch(r"[^:,]+:[^:,]+:[^:,]+", sql):
        errors.append(f"{name}: cloudsql-instances {sql!r} is not PROJECT:REGION:INSTANCE")
    spec = as_dict(template.get("spec"))
    if root == "Job":
        spec = as_dict(as_dict(spec.get("template")).get("spec"))
        if spec.get("maxRetries") != 0:
            errors.append(f"{name}: a migration job must not be retried (maxRetries: 0)")
    containers = spec.get("containers") or []
    if len(containers) != 1:
        return [*errors, f"{name}: expected one container, found {len(containers)}"]
    errors += _container_errors(path, containers[0], root)
    return errors


def _container_errors(path: Path, container: dict[str, Any], root: str) -> list[str]:
    name = path.name
    errors = image_errors(name, str(container.get("image", "")), REGISTRY)
    errors += role_errors(name, path, list(container.get("args") or []))
    for item in container.get("env") or []:
        if SECRET_NAME.search(item["name"]) and "value" in item:
            errors.append(f"{name}: {item['name']} is a secret: use valueFrom.secretKeyRef")
        secret = as_dict(as_dict(item.get("valueFrom")).get("secretKeyRef"))
        if secret and not str(secret.get("key", "")).isdigit():
            errors.append(
                f"{name}: pin {item['name']}'s secret to a version number, "
                f"not {secret.get('key')!r}"
            )
    limits = as_dict(as_dict(container.get("resources")).get("limits"))
    memory, cpu = limits.get("memory", "512Mi"), limits.get("cpu", "1")
    gib = _gib(memory)
    needed = next((c for above, c in CPU_FOR_MEMORY if gib > above), 1)
    if float(str(cpu).removesuffix("m")) / (1000 if str(cpu).endswith("m") else 1) < needed:
        errors.append(f"{name}: {memory} of memory needs at least {needed} CPUs, not {cpu}")
    if root == "Service":
        probes = {
            kind: as_dict(as_dict(container.get(kind)).get("httpGet")).get("path")
            for kind in ("startupProbe", "livenessProbe")
        }
        if probes != {"startupProbe": "/readyz/", "livenessProbe": "/healthz/"}:
            errors.append(f"{name}: probes must be startup on /readyz/ and liveness on /healthz/")
    return errors


def _gib(memory: str) -> float:
    units = {"Gi": 1.0, "Mi": 1 / 1024, "G": 1e9 / 2**30, "M": 1e6 / 2**30}
    for unit, factor in units.items():
        if memory.endswith(unit):
            return float(memory.removesuffix(unit)) * factor
    return float(memory) / 2**30
