"""Manifests, settings and .env.example agree (issue 15 item 4): a manifest that drifts
from the settings fails CI."""

from pathlib import Path

import pytest
import yaml

from deploy.tools import parity

ROOT = parity.ROOT


def test_every_manifest_matches_the_settings():
    containers = list(parity.all_containers())

    assert {c.role for c in containers} >= {"web", "worker", "beat", "migrate"}
    assert parity.check(containers) == []


def test_every_variable_the_settings_read_is_documented_in_env_example():
    assert parity.settings_variables() - parity.env_example_variables() == set()


def test_what_settings_cannot_start_without_is_required_in_every_manifest():
    assert parity.required_by_settings() == {"DJANGO_SECRET_KEY", "NEXUS_ENCRYPTION_KEYS"}
    assert parity.required_by_settings() <= set(parity.REQUIRED_IN_PRODUCTION)


@pytest.mark.parametrize(("name", "reader"), sorted(parity.PROCESS_VARIABLES.items()))
def test_each_process_variable_is_read_where_the_table_says(name, reader):
    if reader in ("python", "boto3"):
        return  # read by the interpreter or the AWS SDK themselves
    assert name in (ROOT / reader).read_text()


def compose_with(tmp_path: Path, change) -> list[str]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    change(doc["services"])
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(doc))
    return parity.check(parity.compose_containers(path))


def test_a_variable_nexus_does_not_read_fails(tmp_path):
    def misspell(services):
        services["worker"]["environment"]["CELERY_CONCURENCY"] = "4"

    errors = compose_with(tmp_path, misspell)

    assert errors == [
        "docker-compose.yml:worker: sets CELERY_CONCURENCY, which Nexus does not read",
        "docker-compose.yml:worker: sets CELERY_CONCURENCY, which .env.example does not list",
    ]


def test_a_missing_production_setting_fails(tmp_path):
    def no_env_file(services):
        del services["beat"]["env_file"]

    errors = compose_with(tmp_path, no_env_file)

    assert len(errors) == 1
    assert errors[0].startswith("docker-compose.yml:beat: production needs DJANGO_SECRET_KEY, ")


def test_an_infrastructure_variable_must_still_be_documented(tmp_path):
    def extra(services):
        services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"] = "--data-checksums"

    errors = compose_with(tmp_path, extra)

    assert errors == [
        "docker-compose.yml:postgres: sets POSTGRES_INITDB_ARGS, which .env.example does not list"
    ]


def test_a_secret_given_as_a_file_counts(tmp_path):
    def as_file(services):
        del services["web"]["env_file"]
        services["web"]["environment"].update(
            {
                f"{name}_FILE": f"/run/secrets/{name.lower()}"
                for name in parity.REQUIRED_IN_PRODUCTION
            }
        )

    assert compose_with(tmp_path, as_file) == []
