"""The image builds its static files with throwaway settings only (issue 15 item 1): the
Dockerfile's `collectstatic` and `check` run here with exactly its build-time environment,
in a copy of the build context that .dockerignore leaves (no database, Redis or bucket)."""

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_build_commands() -> tuple[dict[str, str], list[list[str]]]:
    """The runtime stage's ENV, and the commands (with their VAR=value prefixes) of the RUN
    that calls collectstatic."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text.split(" AS runtime", 1)[1]
    env: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, value = pair.split("=", 1)
                env[name] = value
    run = next(line for line in runtime.splitlines() if "collectstatic" in line)
    commands = []
    for part in run.removeprefix("RUN ").split("&&"):
        words = shlex.split(part)
        assignments = {}
        while words and re.match(r"^[A-Z_]+=", words[0]):
            name, value = words.pop(0).split("=", 1)
            assignments[name] = value
        commands.append([*(f"{k}={v}" for k, v in assignments.items()), *words])
    return env, commands


def build_context(target: Path) -> None:
    """Copy the repository as `docker build .` would send it."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(relative: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.removeprefix("!").removeprefix("**/")
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(
                relative.rsplit("/", 1)[-1], pattern
            ):
                result = not negate
        return result

    def ignore(folder: str, names: list[str]) -> set[str]:
        base = Path(folder).relative_to(ROOT)
        return {n for n in names if ignored(str(base / n).removeprefix("./"))}

    shutil.copytree(ROOT, target, ignore=ignore)


def test_collectstatic_and_check_pass_with_only_the_dockerfiles_build_environment(tmp_path):
    context = tmp_path / "app"
    build_context(context)
    assert not (context / ".venv").exists() and not (context / ".git").exists()
    assert (
        not (context / ".env").exists() and (context / "deploy" / "docker-entrypoint.sh").exists()
    )
    image_env, commands = dockerfile_build_commands()
    assert [c[-3:] for c in commands] == [
        ["manage.py", "collectstatic", "--no-input"],
        ["python", "manage.py", "check"],
    ]
    for command in commands:
        build_env = dict(word.split("=", 1) for word in command if re.match(r"^[A-Z_]+=", word))
        argv = [word for word in command if not re.match(r"^[A-Z_]+=", word)]
        # Nothing from this machine: no DATABASE_URL, REDIS_URL, bucket or pytest's keys.
        environment = {"PATH": os.environ["PATH"], **image_env, **build_env}
        result = subprocess.run(  # noqa: S603
            [sys.executable, *argv[1:]],
            cwd=context,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
    manifest = context / "staticfiles" / "staticfiles.json"
    assert manifest.exists(), "hashed static files for WhiteNoise"
    assert list((context / "staticfiles").rglob("*.css.gz")), "compressed copies"
