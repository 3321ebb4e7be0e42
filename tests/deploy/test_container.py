"""The Dockerfile and docker-compose.yml pass the offline validators, and a broken copy of
each fails them (issue 15 items 1, 2 and 4). No Docker engine is needed."""

import re
from pathlib import Path

import pytest
import yaml
from googleapiclient import discovery_cache

from deploy.tools import container

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_dockerfile_passes_hadolint():
    assert container.hadolint(ROOT / "Dockerfile") == []


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        (DOCKERFILE.replace("astral-sh/uv:0.13.9", "astral-sh/uv:latest"), "DL3007"),
        (DOCKERFILE.replace("COPY . /app", "ADD . /app"), "DL3020"),
        (DOCKERFILE.replace("WORKDIR /app", "RUN cd /app"), "DL3003"),
    ],
    ids=["latest-tag", "add-instead-of-copy", "cd-instead-of-workdir"],
)
def test_hadolint_fails_a_broken_dockerfile(tmp_path, broken, rule):
    assert broken != DOCKERFILE

    errors = container.hadolint(write(tmp_path, "Dockerfile", broken))

    assert any(rule in error for error in errors), errors


def test_the_image_runs_as_a_numeric_user_with_a_health_check_and_labels():
    final_stage = DOCKERFILE.split(" AS runtime")[1]

    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert "HEALTHCHECK" in final_stage and "/healthz/" in final_stage
    assert "org.opencontainers.image.revision" in final_stage
    assert 'ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]' in final_stage
    # No compiler in the runtime image; migrations never run on start.
    assert not re.search(r"build-essential|gcc|libpq-dev", final_stage)
    assert "migrate" not in final_stage


def test_the_image_keeps_the_one_discovery_document_the_gmail_client_builds():
    client = (ROOT / "integrations" / "gmail" / "client.py").read_text()
    kept = re.findall(r"! -name '([^']+)'", DOCKERFILE.split(" AS runtime")[0])

    assert re.search(r'build\(\s*"gmail",\s*"v1",', client)
    assert "static_discovery=True" in client
    assert kept == ["gmail.v1.json"]
    assert (Path(discovery_cache.__file__).parent / "documents" / "gmail.v1.json").exists()


def test_the_compose_file_passes_compose_config_and_the_compose_spec_schema():
    assert container.compose_config(ROOT / "docker-compose.yml") == []
    assert container.compose_schema(ROOT / "docker-compose.yml") == []


def test_compose_rejects_a_misspelt_key(tmp_path):
    broken = write(
        tmp_path,
        "docker-compose.yml",
        COMPOSE.replace(
            "    healthcheck:\n      test: [CMD, redis", "    helthcheck:\n      test: [CMD, redis"
        ),
    )

    assert any("helthcheck" in e for e in container.compose_config(broken))
    assert any("helthcheck" in e for e in container.compose_schema(broken))


def test_compose_rejects_a_dependency_on_a_missing_service(tmp_path):
    broken = write(
        tmp_path,
        "docker-compose.yml",
        COMPOSE.replace("    redis:\n      condition", "    cache:\n      condition"),
    )

    errors = container.compose_config(broken)

    assert any("cache" in e for e in errors), errors


def test_compose_rejects_an_undocumented_interpolation(tmp_path):
    broken = write(
        tmp_path,
        "docker-compose.yml",
        COMPOSE.replace("${POSTGRES_PASSWORD:?", "${PG_PASSWORD:?", 1),
    )

    assert any("PG_PASSWORD" in e for e in container.compose_config(broken))


def test_compose_names_the_services_operators_rely_on():
    services = yaml.safe_load(COMPOSE)["services"]

    assert {"web", "worker", "beat", "migrate", "postgres", "redis", "objects"} <= set(services)
    for name in ("web", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    web_waits_for = services["web"]["depends_on"]
    assert web_waits_for["migrate"]["condition"] == "service_completed_successfully"
    assert web_waits_for["postgres"]["condition"] == "service_healthy"
    assert web_waits_for["redis"]["condition"] == "service_healthy"
    assert [services[role]["command"] for role in ("web", "worker", "beat", "migrate")] == [
        ["web"],
        ["worker"],
        ["beat"],
        ["migrate"],
    ]
    # Secrets come from the operator's .env, and data lives in named volumes.
    assert services["web"]["env_file"] == [{"path": ".env", "required": True}]
    assert {"pgdata", "redisdata", "objects"} <= set(yaml.safe_load(COMPOSE)["volumes"])
