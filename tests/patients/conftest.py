from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def register_at_desk(desk: Client) -> Callable[..., Any]:
    """POST the registration form for Ada Lovelace with these fields added."""

    def register(**fields: str) -> Any:
        form = {"given_name": "Ada", "family_name": "Lovelace", "sex": "female"}
        return desk.post("/patients/new/", {"funding_type": "private", **form, **fields})

    return register
