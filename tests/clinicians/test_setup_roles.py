"""The README's role table and the /setup/ pages agree: practice admins manage setup;
clinicians and reception are refused there (they read the same data in the calendar and API)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
SETUP_PAGES = ["/setup/clinicians/", "/setup/appointment-types/"]


def readme_setup_row() -> dict[str, str]:
    lines = README.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| | practice_admin"))
    row = next(line for line in lines if "(`/setup/`)" in line and line.startswith("|"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][1:]
    cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
    return dict(zip(roles, cells, strict=True))


@pytest.mark.parametrize("role", ["practice_admin", "clinician", "reception"])
def test_the_setup_pages_answer_as_the_readme_says(client, role, request):
    user = request.getfixturevalue(f"{role.removeprefix('practice_')}_user")
    client.force_login(user)
    expected = 200 if readme_setup_row()[role] == "manage" else 403

    for page in SETUP_PAGES:
        assert client.get(page).status_code == expected, page


def test_the_readme_says_only_practice_admins_use_setup():
    row = readme_setup_row()

    assert (row["practice_admin"], row["clinician"], row["reception"]) == ("manage", "no", "no")
