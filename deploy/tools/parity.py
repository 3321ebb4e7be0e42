"""Manifests and settings agree (issue 15 item 4).

Every environment variable a manifest or the compose file sets is one Nexus reads (in
nexus/settings.py, or one of the process variables below) and is documented in
.env.example; every variable production needs is set, or referenced as a secret, for every
app container (web, worker, beat, migrate) in every manifest. A variable renamed in the
settings and not in the manifests fails CI instead of silently taking its default.
"""

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("web", "worker", "beat", "migrate")

# Read by the processes rather than by Django settings: by the file named (a test checks
# it does), by Python itself, or by boto3 (S3 keys where no instance role exists).
PROCESS_VARIABLES = {
    "DJANGO_SETTINGS_MODULE": "manage.py",
    "PYTHONUNBUFFERED": "python",
    "AWS_ACCESS_KEY_ID": "boto3",
    "AWS_SECRET_ACCESS_KEY": "boto3",
    "PORT": "gunicorn.conf.py",
    "NEXUS_ACCESS_LOG": "gunicorn.conf.py",
    "WEB_CONCURRENCY": "gunicorn.conf.py",
    "GUNICORN_TIMEOUT": "gunicorn.conf.py",
    "GUNICORN_GRACEFUL_TIMEOUT": "gunicorn.conf.py",
    "CELERY_CONCURRENCY": "deploy/docker-entrypoint.sh",
}

# Without these a production container fails to start or is unsafe: settings refuse to
# import without the first two, nexus.E001 refuses the console mail backend, and the rest
# would silently fall back to the embedded development setup (SQLite on the container's
# disk, no broker, documents on local disk, no TLS, every client behind the balancer's IP).
REQUIRED_IN_PRODUCTION = (
    "DJANGO_SECRET_KEY",
    "NEXUS_ENCRYPTION_KEYS",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_HTTPS",
    "EMAIL_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "NEXUS_TRUSTED_PROXY_COUNT",
)


@dataclass
class Container:
    """The environment one container of one manifest gets: name -> "value" or "secret"."""

    source: str
    role: str | None  # web/worker/beat/migrate for Nexus containers, None for others
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.source


def settings_variables(path: Path = ROOT / "nexus" / "settings.py") -> set[str]:
    """Names nexus/settings.py reads: env.<cast>("NAME", ...) and the beat crons' table."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            via_env = isinstance(func, ast.Attribute) and _name(func.value) == "env"
            if (via_env or _name(func) in ("env", "_cron")) and _is_str(node.args[0]):
                names.add(node.args[0].value)  # type: ignore[attr-defined]
        if isinstance(node, ast.Tuple) and len(node.elts) == 4 and _is_str(node.elts[1]):
            value = node.elts[1].value  # type: ignore[attr-defined]
            if value.startswith("NEXUS_CRON_"):  # the _BEAT table: (task, variable, cron, ttl)
                names.add(value)
    return names


def required_by_settings(path: Path = ROOT / "nexus" / "settings.py") -> set[str]:
    """Variables settings cannot import without when DEBUG is off (default NOTSET)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and _is_str(node.args[0]):
            defaults = [kw.value for kw in node.keywords if kw.arg == "default"]
            if defaults and "NOTSET" in ast.unparse(defaults[0]):
                names.add(node.args[0].value)  # type: ignore[attr-defined]
    return names


def env_example_variables(path: Path = ROOT / ".env.example") -> set[str]:
    """Names documented in .env.example, including commented-out examples."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(), flags=re.MULTILINE))


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# --- what each kind of manifest sets -------------------------------------------------------


def compose_containers(path: Path, env_example: Path = ROOT / ".env.example") -> list[Container]:
    doc = yaml.safe_load(path.read_text())
    containers = []
    for name, service in (doc.get("services") or {}).items():
        container = Container(f"{path.name}:{name}", name if name in ROLES else None)
        for env_file in _as_list(service.get("env_file")):
            file = env_file["path"] if isinstance(env_file, dict) else env_file
            if Path(file).name == ".env":  # the operator's copy of .env.example
                container.env.update(dict.fromkeys(env_example_variables(env_example), "file"))
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        container.env.update(dict.fromkeys(environment, "value"))
        containers.append(container)
    return containers


def cloudrun_containers(path: Path) -> list[Container]:
    containers = []
    for doc in yaml.safe_load_all(path.read_text()):
        role = _role(path.stem)
        for container in _cloudrun_container_specs(doc):
            found = Container(f"{path.name}:{container.get('name', '?')}", role)
            for item in container.get("env") or []:
                secret = (item.get("valueFrom") or {}).get("secretKeyRef")
                found.env[item["name"]] = "secret" if secret else "value"
            containers.append(found)
    return containers


def _cloudrun_container_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
    if doc.get("kind") == "Job":  # a Job's template holds a task template
        spec = spec.get("template", {}).get("spec", {})
    return list(spec.get("containers") or [])


def ecs_containers(path: Path) -> list[Container]:
    import json

    doc = json.loads(path.read_text())
    containers = []
    for definition in doc.get("containerDefinitions") or []:
        found = Container(f"{path.name}:{definition.get('name', '?')}", _role(path.stem))
        found.env.update({item["name"]: "value" for item in definition.get("environment") or []})
        found.env.update({item["name"]: "secret" for item in definition.get("secrets") or []})
        containers.append(found)
    return containers


def _role(stem: str) -> str | None:
    return next((role for role in ROLES if stem.startswith(role)), None)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def all_containers(root: Path = ROOT) -> Iterator[Container]:
    compose = root / "docker-compose.yml"
    if compose.exists():
        yield from compose_containers(compose, root / ".env.example")
    for path in sorted((root / "deploy" / "cloudrun").glob("*.yaml")):
        yield from cloudrun_containers(path)
    for path in sorted((root / "deploy" / "ecs").glob("*taskdef.json")):
        yield from ecs_containers(path)


# --- the checks ----------------------------------------------------------------------------


def check(containers: list[Container], root: Path = ROOT) -> list[str]:
    """Every mismatch between the containers' environments, the settings and .env.example."""
    known = settings_variables(root / "nexus" / "settings.py") | set(PROCESS_VARIABLES)
    documented = env_example_variables(root / ".env.example")
    errors = []
    for container in containers:
        for name, how in sorted(container.env.items()):
            if how == "file":
                continue
            base = name.removesuffix("_FILE")  # FileAwareEnv: NAME_FILE=/path holds NAME
            if container.role and base not in known:
                errors.append(f"{container}: sets {name}, which Nexus does not read")
            if name not in documented and base not in documented:
                errors.append(f"{container}: sets {name}, which .env.example does not list")
        if container.role:
            missing = [
                name
                for name in REQUIRED_IN_PRODUCTION
                if name not in container.env and f"{name}_FILE" not in container.env
            ]
            if missing:
                errors.append(f"{container}: production needs {', '.join(missing)}")
    return errors
