"""What the Cloud Run and ECS validators share: rendering the templates' placeholders and
the rules every Nexus container follows whatever the platform."""

import json
import re
import string
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

from deploy.tools.parity import ROLES

# The manifests are templates: `python -m deploy.tools.manifests FILE` fills these in from
# the environment before `gcloud … replace` / `aws … --cli-input-json`. The validators
# render them with these example values, so a typo in a placeholder fails like any other
# mistake.
PLACEHOLDERS = {
    "PROJECT_ID": "nexus-prod",
    "REGION": "australia-southeast1",
    "AWS_REGION": "ap-southeast-2",
    "ACCOUNT_ID": "123456789012",
    "IMAGE": "australia-southeast1-docker.pkg.dev/nexus-prod/nexus/nexus:3f2c1ab",
    "ECR_IMAGE": "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/nexus:3f2c1ab",
    "SQL_INSTANCE": "nexus-db",
    "DOMAIN": "nexus.example.org",
    "SUBNETS": "subnet-0a1b2c3d4e5f60718",
    "SECURITY_GROUP": "sg-0a1b2c3d4e5f60718",
    "VPC_ID": "vpc-0a1b2c3d4e5f60718",
    "DOCUMENTS_BUCKET": "nexus-documents",
    # The full ARN of the one Secrets Manager secret (a JSON object) holding ECS's secrets.
    # Scheduled backups (deploy/backup/): the dumps' bucket, and the AWS region that keeps
    # a copy of every recovery point (another region than AWS_REGION).
    "BACKUP_BUCKET": "nexus-backups",
    "DR_AWS_REGION": "ap-southeast-4",
    # Cloud Monitoring (deploy/monitoring/): the channel alerts go to, and the uptime
    # check's id as `gcloud monitoring uptime create` printed it.
    "NOTIFICATION_CHANNEL": "1234567890123456789",
    "UPTIME_CHECK_ID": "nexus-healthz-AbCdEf012345",
    "SECRETS_ARN": (
        "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:nexus/production-AbCdEf"
    ),
}

# Names whose values are secrets: a manifest must reference them from Secret Manager or
# Secrets Manager, never carry the value.
SECRET_NAME = re.compile(
    r"SECRET|PASSWORD|TOKEN|_KEYS?$|ACCESS_KEY_ID|^(DATABASE|REDIS|EMAIL|CELERY_BROKER)_URL$"
)


def render(text: str) -> tuple[str, list[str]]:
    """The template with the example values filled in, and any placeholder not known."""
    template = string.Template(text)
    unknown = sorted(set(template.get_identifiers()) - set(PLACEHOLDERS))
    return template.safe_substitute(PLACEHOLDERS), [
        f"unknown placeholder ${{{u}}}" for u in unknown
    ]


def image_errors(where: str, image: str, registry: str) -> list[str]:
    errors = []
    if image.endswith(":latest") or (":" not in image.rsplit("/", 1)[-1] and "@" not in image):
        errors.append(f"{where}: image {image!r} must name a version (a git SHA or digest)")
    if not re.match(registry, image):
        errors.append(f"{where}: image {image!r} is not in the project's registry")
    return errors


def role_errors(where: str, path: Path, command: list[str]) -> list[str]:
    """The file's role (its name starts with it) is the entry point's argument."""
    role = next((r for r in ROLES if path.stem.startswith(r)), None)
    if role is None:
        return [f"{where}: the file name must start with web, worker, beat or migrate"]
    if command[:1] != [role]:
        return [f"{where}: runs {command!r}; the {role} role is the argument [{role!r}]"]
    return []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@cache
def discovery_document(name: str) -> dict[str, Any]:
    """A Google API's discovery document as google-api-python-client ships it (pinned)."""
    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    return dict(json.loads((folder / f"{name}.json").read_text()))


@cache
def discovery_schema(name: str, root: str) -> dict[str, Any]:
    """The document's schemas as one JSON Schema rooted at `root`, every object closed."""
    schemas = discovery_document(name)["schemas"]
    defs = {key: _convert(body) for key, body in schemas.items()}
    return {"$ref": f"#/$defs/{root}", "$defs": defs}


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {"$ref": f"#/$defs/{node['$ref']}"}
    kind = node.get("type")
    if kind == "object":
        converted: dict[str, Any] = {"type": "object"}
        if "properties" in node:
            converted["properties"] = {k: _convert(v) for k, v in node["properties"].items()}
            converted["additionalProperties"] = False
        if "additionalProperties" in node:
            converted["additionalProperties"] = _convert(node["additionalProperties"])
        return converted
    if kind == "array":
        return {"type": "array", "items": _convert(node.get("items", {}))}
    if kind == "string":
        # int64 travels as a JSON string in Google APIs; YAML writes it as a number.
        converted = {"type": ["string", "integer"] if node.get("format") == "int64" else "string"}
        if "enum" in node:
            converted["enum"] = node["enum"]
        return converted
    if kind in ("integer", "number", "boolean"):
        return {"type": kind}
    return {}


def main(argv: list[str]) -> int:
    """`python -m deploy.tools.manifests FILE`: the template with the placeholders taken
    from the environment (all of them must be set), on stdout, ready for gcloud or aws.
    `$$` stands for a literal `$` (a shell variable inside a health check)."""
    import os
    import sys

    template = string.Template(Path(argv[0]).read_text())
    missing = sorted(n for n in set(template.get_identifiers()) if n not in os.environ)
    if missing:
        print(f"set {', '.join(missing)} first", file=sys.stderr)
        return 2
    sys.stdout.write(template.substitute(os.environ))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
