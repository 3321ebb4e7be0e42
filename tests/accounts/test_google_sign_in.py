"""Google sign-in end to end: real allauth views and HTTP calls against the local fake
Google (tests/fakes/google_oidc.py). Accounts are keyed on Google's `sub`; the first
sign-in links only through the person's invitation; every refusal is audited."""

from urllib.parse import urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.google import views as google_views
from django.test import Client

from accounts.services import invitation_path
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SUB = "110248495921238986420"


def google_sign_in(client: Client, fake_google, *, state: str | None = None):
    """Press "Sign in with Google", consent at (fake) Google, follow the redirect back."""
    start = client.post("/accounts/google/login/", {"process": "login"})
    assert start.status_code == 302
    assert start["Location"].startswith(fake_google.base_url + "/o/oauth2/v2/auth?")
    at_google = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_google.status_code == 302
    back = urlparse(at_google.headers["Location"])
    query = back.query if state is None else back.query.replace("state=", f"state={state}")
    return client.get(f"{back.path}?{query}")


def signed_in_as(client: Client):
    return client.session.get("_auth_user_id")


def refusals(reason: str) -> int:
    return AuditEvent.objects.filter(
        action="login_failed", outcome="failure", detail__reason=reason
    ).count()


@pytest.fixture
def invited(db):
    return UserFactory(email="jo@clinic.example", password=None, role="clinician")


def open_invitation(client: Client, user) -> None:
    assert client.get(invitation_path(user)).status_code == 200


def test_allauth_talks_to_the_fake_not_to_google(fake_google):
    assert f"{fake_google.base_url}/token" == google_views.ACCESS_TOKEN_URL
    assert google_views.GoogleOAuth2Adapter.authorize_url.startswith(fake_google.base_url)


def test_an_invited_person_links_google_on_first_sign_in_then_signs_in_by_sub(
    client, fake_google, invited
):
    fake_google.person(sub=SUB, email="jo@clinic.example")
    open_invitation(client, invited)

    response = google_sign_in(client, fake_google)

    assert response.status_code == 302
    assert signed_in_as(client) == str(invited.pk)
    assert SocialAccount.objects.get(provider="google").uid == SUB
    assert AuditEvent.objects.filter(action="login", object_id=str(invited.pk)).exists()
    # PKCE: allauth sent the verifier and the fake checked it against the challenge.
    assert fake_google.token_requests[0]["code_verifier"]

    # Later, from another browser and with a changed address: the same `sub`, same user.
    other = Client()
    fake_google.person(sub=SUB, email="jo.new@clinic.example")
    assert google_sign_in(other, fake_google).status_code == 302
    assert signed_in_as(other) == str(invited.pk)
    assert SocialAccount.objects.count() == 1


def test_the_invitation_stops_working_once_used(client, fake_google, invited):
    link = invitation_path(invited)
    fake_google.person(sub=SUB, email=invited.email)
    open_invitation(client, invited)
    google_sign_in(client, fake_google)

    assert Client().get(link).status_code == 404


def test_the_same_email_with_another_sub_does_not_reach_the_account(client, fake_google, invited):
    fake_google.person(sub=SUB, email=invited.email)
    open_invitation(client, invited)
    google_sign_in(client, fake_google)

    intruder = Client()
    fake_google.person(sub="999999999999999999999", email=invited.email)
    response = google_sign_in(intruder, fake_google)

    assert response.status_code == 403
    assert signed_in_as(intruder) is None
    assert SocialAccount.objects.filter(uid="999999999999999999999").count() == 0
    assert refusals("not_invited") == 1


def test_a_stranger_is_refused_and_no_account_is_made(client, fake_google):
    users_before = UserFactory._meta.model.objects.count()
    fake_google.person(email="stranger@gmail.example")

    response = google_sign_in(client, fake_google)

    assert response.status_code == 403
    assert b"No Nexus account is linked" in response.content
    assert signed_in_as(client) is None
    assert UserFactory._meta.model.objects.count() == users_before
    assert refusals("not_invited") == 1


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email_verified": False}, "email_unverified"),
        ({"email": "jo.personal@gmail.example"}, "email_differs_from_invitation"),
    ],
)
def test_an_invited_person_is_refused_when_google_does_not_vouch_for_the_address(
    client, fake_google, invited, claims, reason
):
    fake_google.person(**{"email": invited.email, **claims})
    open_invitation(client, invited)

    response = google_sign_in(client, fake_google)

    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert not SocialAccount.objects.exists()
    assert refusals(reason) == 1


def test_only_allowed_workspace_domains_may_sign_in(client, fake_google, invited, settings):
    settings.NEXUS_GOOGLE_ALLOWED_DOMAINS = ["clinic.example"]
    open_invitation(client, invited)

    fake_google.person(email=invited.email)  # a consumer account: no `hd` claim
    assert google_sign_in(client, fake_google).status_code == 403
    fake_google.person(email=invited.email, hd="elsewhere.example")
    assert google_sign_in(client, fake_google).status_code == 403
    assert refusals("domain_not_allowed") == 2

    fake_google.person(email=invited.email, hd="clinic.example")
    assert google_sign_in(client, fake_google).status_code == 302
    assert signed_in_as(client) == str(invited.pk)


def test_a_deactivated_user_cannot_sign_in_with_google(client, fake_google, invited):
    fake_google.person(sub=SUB, email=invited.email)
    open_invitation(client, invited)
    google_sign_in(client, fake_google)
    invited.is_active = False
    invited.save()

    other = Client()
    response = google_sign_in(other, fake_google)

    assert response.status_code == 403
    assert signed_in_as(other) is None
    assert refusals("account_inactive") == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-elses-app.apps.googleusercontent.com"},
        {"iss": "https://accounts.evil.example"},
        {"exp": 1_000_000_000},  # 2001
    ],
    ids=["wrong-audience", "wrong-issuer", "expired"],
)
def test_an_id_token_that_fails_validation_is_refused_and_audited(
    client, fake_google, invited, claims
):
    fake_google.person(email=invited.email, **claims)
    open_invitation(client, invited)

    response = google_sign_in(client, fake_google)

    assert response.status_code == 401  # allauth's "sign-in failed" page
    assert b"Third-Party Login Failure" in response.content
    assert signed_in_as(client) is None
    assert not SocialAccount.objects.exists()
    assert AuditEvent.objects.filter(action="login_failed", detail__method="google").count() == 1


def test_a_forged_state_is_refused(client, fake_google, invited):
    fake_google.person(email=invited.email)
    open_invitation(client, invited)

    response = google_sign_in(client, fake_google, state="forged")

    assert signed_in_as(client) is None
    assert response.status_code == 401
    assert fake_google.token_requests == []  # the code was never redeemed
    assert AuditEvent.objects.filter(action="login_failed", detail__method="google").count() == 1


def test_starting_google_sign_in_needs_a_post(client):
    # A GET only shows a confirmation page, so a link elsewhere cannot start a sign-in.
    response = client.get("/accounts/google/login/")
    assert response.status_code == 200
    assert b"<form" in response.content
