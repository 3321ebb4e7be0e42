"""Apps talk to each other through services and selectors, never through views: a task or
a webhook has no view around it, so a rule reachable only through a view is one they skip.
The URL configuration is the one place that wires every app's views together."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "accounts",
    "appointments",
    "audit",
    "booking",
    "clinicians",
    "documents",
    "notes",
    "patients",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _modules(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


@pytest.mark.parametrize("app", APPS)
def test_no_app_imports_another_apps_views(app):
    others = [other for other in APPS if other != app]
    crossing = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _modules(app)
        for module in _imports(path)
        for other in others
        if module in (f"{other}.views", f"{other}.api.views")
    )

    assert crossing == []


def test_selectors_build_no_http_responses():
    offending = sorted(
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("selectors.py")
        if any(
            isinstance(node, ast.Name) and "Response" in node.id
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )

    assert offending == []
