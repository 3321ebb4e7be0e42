"""The Django admin site is for superusers only (issue 12 item 1).

The role-by-admin-URL matrix walks every URL the admin site serves (each registered model's
changelist, add, change, history and delete pages, the user password form, the app lists
and the site-wide pages) for every role, so a newly registered model is covered at once.
"""

from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.hashers import check_password
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from accounts.models import ApiToken, User
from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from audit.models import AuditEvent
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    ClinicalNoteFactory,
    CoordinatorFactory,
    PatientFactory,
    ReferrerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ROLES = [PRACTICE_ADMIN, CLINICIAN, RECEPTION, "anonymous", "superuser"]
# What a registered model's admin serves; each is checked for every model.
MODEL_PAGES = ["changelist", "add", "change", "history", "delete"]
OBJECT_PAGES = {"change", "history", "delete"}


@dataclass(frozen=True)
class AdminUrl:
    name: str
    path: str


def admin_url_names() -> set[str]:
    """Every named URL in the admin namespace, from the resolver itself."""
    names: set[str] = set()

    def walk(patterns: list) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(pattern.name)

    urlpatterns, _, _ = admin.site.urls
    walk(urlpatterns)
    return names


def every_admin_url() -> list[AdminUrl]:
    """A concrete address for every admin URL: object pages use each model's first row."""
    urls = [
        AdminUrl(name, reverse(f"admin:{name}"))
        for name in ["index", "login", "password_change", "password_change_done"]
    ]
    urls.append(AdminUrl("jsi18n", reverse("admin:jsi18n")))
    urls.append(AdminUrl("autocomplete", reverse("admin:autocomplete")))
    for label in sorted({m._meta.app_label for m in admin.site._registry}):
        urls.append(AdminUrl("app_list", reverse("admin:app_list", args=[label])))
    for model in admin.site._registry:
        opts = model._meta
        first = model._default_manager.order_by("pk").first()
        # A model without rows still gets its object pages visited, with a made-up id.
        pk = first.pk if first is not None else 1
        for page in MODEL_PAGES:
            name = f"{opts.app_label}_{opts.model_name}_{page}"
            args = [pk] if page in OBJECT_PAGES else []
            urls.append(AdminUrl(name, reverse(f"admin:{name}", args=args)))
        ct = ContentType.objects.get_for_model(model)
        urls.append(AdminUrl("view_on_site", reverse("admin:view_on_site", args=[ct.pk, pk])))
    user = User.objects.order_by("pk").first()
    assert user is not None
    name = "auth_user_password_change"  # Django names it so whatever the user model
    urls.append(AdminUrl(name, reverse(f"admin:{name}", args=[user.pk])))
    # Last: where it works, it ends the session the other requests use.
    urls.append(AdminUrl("logout", reverse("admin:logout")))
    return urls


@pytest.fixture
def practice_data(practice, clinician_user):
    """A row of the models that hold patient data and access, so object pages exist."""
    patient = PatientFactory(referrer=ReferrerFactory(), coordinator=CoordinatorFactory())
    AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 10),
    )
    ClinicalNoteFactory(patient=patient, author=clinician_user, body="Private draft")
    ApiToken.issue(user=clinician_user, name="Integration", scopes=["*:read"])
    return patient


def client_for(role: str) -> tuple[Client, User | None]:
    client = Client()
    if role == "anonymous":
        return client, None
    user = (
        UserFactory(is_staff=True, is_superuser=True)
        if role == "superuser"
        # Staff status too: it no longer opens the admin to anyone but superusers.
        else UserFactory(is_staff=True, role=role)
    )
    client.force_login(user)
    return client, user


def reachable(response) -> bool:
    """Where the request ended (redirects followed): an admin page or action was served,
    rather than a refusal or the sign-in page."""
    if response.status_code >= 400:
        return False
    return not response.request["PATH_INFO"].startswith("/accounts/login/")


def test_the_matrix_covers_every_admin_url_name(practice_data):
    covered = {u.name for u in every_admin_url()}

    missing = admin_url_names() - covered
    # A model with no row has no object pages to visit; every model here has a row.
    assert not missing, f"admin URLs the matrix does not visit: {sorted(missing)}"


@pytest.mark.parametrize("role", [PRACTICE_ADMIN, CLINICIAN, RECEPTION, "anonymous"])
def test_no_admin_url_is_reachable_except_by_a_superuser(practice_data, role):
    client, _ = client_for(role)
    urls = every_admin_url()

    served = [
        (method, u.path, response.status_code)
        for u in urls
        for method, response in [
            ("GET", client.get(u.path, follow=True)),
            ("POST", client.post(u.path, {}, follow=True)),
        ]
        if reachable(response)
    ]

    print(f"admin routes reachable by a {role}: {len(served)} of {2 * len(urls)} requests")
    assert served == []


@pytest.mark.parametrize("role", [PRACTICE_ADMIN, CLINICIAN, RECEPTION])
def test_signed_in_staff_are_refused_outright_not_sent_to_the_admin_sign_in(practice_data, role):
    client, _ = client_for(role)

    for u in every_admin_url():
        assert client.get(u.path).status_code == 403, u.path


def test_anonymous_visitors_are_sent_to_the_normal_sign_in(client):
    response = client.get("/admin/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_a_superuser_has_the_whole_admin(practice_data):
    client, _ = client_for("superuser")
    # Adding and deleting are refused by design for some models (audit events, patients).
    pages = [u for u in every_admin_url() if not u.name.endswith(("_add", "_delete"))]

    for u in pages:
        if u.name in {"logout", "view_on_site", "autocomplete"}:
            continue  # signing out ends the run; the others need parameters or leave the admin
        response = client.get(u.path)
        assert response.status_code in (200, 302), (u.path, response.status_code)
        if response.status_code == 302:
            assert not response["Location"].startswith("/accounts/login/"), u.path


def test_a_practice_admin_cannot_escalate_through_the_admin(practice_data, clinician_user):
    client, admin_user = client_for(PRACTICE_ADMIN)
    assert admin_user is not None
    token = ApiToken.objects.get()
    note = practice_data.notes.get()

    tick_superuser = client.post(
        f"/admin/accounts/user/{admin_user.pk}/change/",
        {"email": admin_user.email, "is_active": "on", "is_staff": "on", "is_superuser": "on"},
    )
    set_password = client.post(
        f"/admin/accounts/user/{clinician_user.pk}/password/",
        {"password1": "hijacked-password-9", "password2": "hijacked-password-9"},
    )
    repoint = client.post(
        f"/admin/accounts/apitoken/{token.pk}/change/",
        {"user": admin_user.pk, "name": token.name, "scopes": '["*:read"]'},
    )
    read_note = client.get(f"/admin/notes/clinicalnote/{note.pk}/change/")

    assert [r.status_code for r in (tick_superuser, set_password, repoint, read_note)] == [403] * 4
    admin_user.refresh_from_db()
    clinician_user.refresh_from_db()
    token.refresh_from_db()
    assert not admin_user.is_superuser
    assert check_password(PASSWORD, clinician_user.password)
    assert token.user_id == clinician_user.pk
    assert b"Private draft" not in read_note.content
    assert not AuditEvent.objects.filter(action="read", object_type="notes.clinicalnote").exists()


def test_the_nav_offers_the_admin_to_superusers_only(practice_data):
    staff, _ = client_for(PRACTICE_ADMIN)
    superuser, _ = client_for("superuser")

    assert b'href="/admin/"' not in staff.get("/").content
    assert b'href="/admin/"' in superuser.get("/").content
