"""`make deploy-check`: every offline deployment check, one line per check.

    python -m deploy.tools.check

Exits 1 if any check finds a problem, and prints each problem.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from deploy.tools import alerts, cloudrun, container, databases, ecs, parity

ROOT = parity.ROOT


def checks(root: Path = ROOT) -> list[tuple[str, Callable[[], list[str]]]]:
    compose_file = root / "docker-compose.yml"
    return [
        ("hadolint Dockerfile", lambda: container.hadolint(root / "Dockerfile")),
        ("docker compose config", lambda: container.compose_config(compose_file)),
        ("compose-spec schema", lambda: container.compose_schema(compose_file)),
        ("Cloud Run manifests (run.v1 discovery document)", lambda: cloudrun_errors(root)),
        ("ECS manifests (botocore model, Fargate sizes)", lambda: ecs_errors(root)),
        ("database backup settings (RDS, Cloud SQL, bucket)", lambda: databases.check()),
        ("parity: manifests, settings and .env.example", lambda: parity_errors(root)),
        ("alert rules (PromQL parsed, metrics /metrics exports)", lambda: alerts.check()),
    ]


def cloudrun_errors(root: Path = ROOT) -> list[str]:
    files = sorted((root / "deploy" / "cloudrun").glob("*"))
    return [e for path in files for e in cloudrun.validate(path)]


def ecs_errors(root: Path = ROOT) -> list[str]:
    files = sorted((root / "deploy" / "ecs").glob("*"))
    return [e for path in files for e in ecs.validate(path)]


def parity_errors(root: Path = ROOT) -> list[str]:
    return parity.check(list(parity.all_containers(root)), root)


def main() -> int:
    failed = 0
    for name, run in checks():
        errors = run()
        print(f"{'FAIL' if errors else 'ok  '} {name}")
        for error in errors:
            print(f"     {error}")
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
