"""The developer loop: every declared make target does something, and running the tests
never rewrites a tracked file (the README's pictures come only from `make screenshots`)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import conftest as browser

ROOT = Path(__file__).resolve().parent.parent


def recipe(target: str) -> str:
    """What `make <target>` would run, without running it."""
    done = subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "--no-print-directory", "-n", target],  # noqa: S607 - make is on PATH in CI
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize(
    ("target", "runs"),
    [
        ("ci", ".ci/run"),
        ("test-postgres", "DATABASE_URL=postgres://"),
        ("check-deploy", "manage.py check --deploy --fail-level WARNING"),
        ("screenshots", "NEXUS_SCREENSHOTS=1"),
        ("benchmark", "benchmarks/run.py"),
    ],
)
def test_each_declared_make_target_has_a_recipe(target, runs):
    assert runs in recipe(target)


@pytest.mark.parametrize("target", ["test", "test-browser", "test-postgres"])
def test_test_runs_do_not_take_screenshots(target):
    assert "NEXUS_SCREENSHOTS" not in recipe(target)


class PageThatMustNotBePhotographed:
    def screenshot(self, **kwargs: object) -> None:
        raise AssertionError(f"a test run wrote a screenshot: {kwargs}")


def test_a_browser_test_run_leaves_docs_screenshots_alone(monkeypatch):
    monkeypatch.delenv("NEXUS_SCREENSHOTS", raising=False)

    browser.screenshot(PageThatMustNotBePhotographed(), "calendar.png")  # type: ignore[arg-type]


def test_the_benchmark_explains_itself_through_the_projects_environment():
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "seed_demo --force --patients 100000" in done.stdout
    assert "docs/performance.md" in done.stdout
    assert "--duration SECONDS" in done.stdout


def test_the_benchmark_floors_are_in_the_repositorys_own_docs():
    source = (ROOT / "benchmarks" / "run.py").read_text()
    floors = (ROOT / "docs" / "performance.md").read_text()

    assert "shared/reference" not in source
    assignment = re.search(r"^RETRIEVE, .* = (.*)$", source, re.MULTILINE)
    assert assignment is not None
    for floor in assignment.group(1).split(", "):
        assert f"**≥ {floor}**" in floors or f"**never < {floor}**" in floors
