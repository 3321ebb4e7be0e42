"""One visitor cannot fill a clinician's week: unverified bookings are capped, the mobile
can be proven by an SMS code before a booking holds a time, and limits key on the trusted
client address (issue 12 item 3)."""

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest
from django.test import Client, RequestFactory

from appointments.models import Appointment, OnlineBooking
from booking import verification
from nexus.client import client_ip
from tests.booking.test_online_booking import DETAILS
from tests.factories import ClinicianFactory, WorkingHoursFactory

pytestmark = pytest.mark.django_db


def _slots(client: Client, clinician) -> list[str]:
    page = client.get(f"/book/{clinician.pk}/").content.decode()
    return [
        u.replace("&amp;", "&") for u in re.findall(r'href="(/book/\d+/details/\?[^"]+)"', page)
    ]


def _post(client: Client, url: str, **details: str):
    path, _, query = url.partition("?")
    slot = {k: v[0] for k, v in parse_qs(query).items()}
    return client.post(path, {**slot, **DETAILS, **details})


def _start(url: str) -> datetime:
    return datetime.fromisoformat(parse_qs(url.partition("?")[2])["start"][0])


def _day(url: str) -> str:
    return _start(url).date().isoformat()


def _apart(urls: list[str]) -> list[str]:
    """Slots that do not overlap one another (an hour-long type)."""
    chosen: list[str] = []
    for url in urls:
        if not chosen or _start(url) >= _start(chosen[-1]) + timedelta(hours=1):
            chosen.append(url)
    return chosen


def test_unverified_bookings_are_capped_per_clinician_per_day(listed, settings):
    settings.NEXUS_BOOKING_UNVERIFIED_PER_CLINICIAN_DAY = 2
    clinician, _, _ = listed
    slots = _slots(Client(), clinician)
    # Today may have too few times left after the minimum notice: take the first full day.
    days = sorted({_day(u) for u in slots})
    day = next(d for d in days if len(_apart([u for u in slots if _day(u) == d])) >= 3)
    first_day = _apart([u for u in slots if _day(u) == day])
    next_day = next(u for u in slots if _day(u) != day)

    made = [_post(Client(), url, phone=f"04123450{i:02d}") for i, url in enumerate(first_day[:3])]

    assert [r.status_code for r in made] == [302, 302, 200]
    assert "Online booking is full for this day" in made[2].content.decode()
    assert _post(Client(), next_day, phone="0412345099").status_code == 302
    assert Appointment.objects.count() == 3


def test_unverified_bookings_are_capped_per_day_in_all(listed, settings):
    settings.NEXUS_BOOKING_UNVERIFIED_PER_DAY = 1
    clinician, clinic, _ = listed
    other = ClinicianFactory(clinics=[clinic], listed_publicly=True)
    for weekday in range(7):
        WorkingHoursFactory(clinician=other, clinic=clinic, weekday=weekday)

    first = _post(Client(), _slots(Client(), clinician)[0])
    second = _post(Client(), _slots(Client(), other)[0], phone="0412000111")

    assert (first.status_code, second.status_code) == (302, 200)
    assert "Online booking is full" in second.content.decode()


@pytest.fixture
def sms(monkeypatch, settings) -> list[tuple[str, str]]:
    settings.NEXUS_BOOKING_VERIFY_MOBILE = True
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(
        verification, "verification_sms_send", lambda *, to, body: sent.append((to, body))
    )
    return sent


def _code(sms: list[tuple[str, str]]) -> str:
    return re.search(r"\b(\d{6})\b", sms[-1][1]).group(1)  # type: ignore[union-attr]


def test_with_verification_on_a_booking_holds_a_time_only_once_the_code_comes_back(listed, sms):
    clinician, _, _ = listed
    client = Client()

    asked = _post(client, _slots(client, clinician)[0])

    assert asked.status_code == 302 and asked["Location"] == "/book/verify/"
    assert sms[0][0] == "+61412345678"
    assert not Appointment.objects.exists(), "no time is held before the code is proven"
    assert _code(sms) not in str(dict(client.session)), "only a hash of the code is kept"
    wrong = client.post("/book/verify/", {"code": "000000" if _code(sms) != "000000" else "1"})
    assert "not right" in wrong.content.decode()
    right = client.post("/book/verify/", {"code": _code(sms)})
    assert right.status_code == 302 and right["Location"].startswith("/book/done/")
    assert OnlineBooking.objects.get().mobile_verified


def test_a_code_expires_and_wrong_guesses_are_limited(listed, sms, monkeypatch):
    clinician, _, _ = listed
    client = Client()
    _post(client, _slots(client, clinician)[0])
    wrong = "111111" if _code(sms) != "111111" else "222222"

    answers = [client.post("/book/verify/", {"code": wrong}) for _ in range(5)]
    late = client.post("/book/verify/", {"code": _code(sms)})

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 302]
    assert late.status_code == 302 and late["Location"] == "/book/"
    assert not Appointment.objects.exists()

    _post(client, _slots(client, clinician)[0])
    now = verification.time.time()
    monkeypatch.setattr(verification.time, "time", lambda: now + verification.CODE_SECONDS + 1)
    expired = client.post("/book/verify/", {"code": _code(sms)})
    assert expired.status_code == 302
    assert not Appointment.objects.exists()


def test_codes_to_one_number_are_limited(listed, sms):
    clinician, _, _ = listed
    url = _slots(Client(), clinician)[0]

    answers = [_post(Client(), url) for _ in range(4)]

    assert [a.status_code for a in answers] == [302, 302, 302, 200]
    assert len(sms) == 3


def test_the_client_address_is_remote_addr_unless_proxies_are_trusted(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4")

    assert client_ip(request) == "10.0.0.1"
    settings.NEXUS_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "1.2.3.4", "the spoofable left part is ignored"
    settings.NEXUS_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "6.6.6.6"
    settings.NEXUS_TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.1", "too few hops: not through the proxies"


def test_booking_limits_key_on_the_trusted_client_address(listed, settings):
    clinician, _, _ = listed
    url = _slots(Client(), clinician)[0]
    path, _, query = url.partition("?")
    slot = {k: v[0] for k, v in parse_qs(query).items()}

    def attempt(forwarded: str) -> int:
        return (
            Client()
            .post(path, {**slot, **DETAILS, "consent": ""}, HTTP_X_FORWARDED_FOR=forwarded)
            .status_code
        )

    # No trusted proxy: a made-up X-Forwarded-For does not buy a fresh budget.
    assert [attempt(f"203.0.113.{i}") for i in range(11)][-1] == 429
    settings.NEXUS_TRUSTED_PROXY_COUNT = 1
    # Behind one proxy each visitor has their own budget, whatever they prepend.
    assert [attempt(f"198.51.100.{i}") for i in range(11)] == [200] * 11
    assert [attempt(f"spoof{i}, 192.0.2.7") for i in range(11)][-1] == 429


def test_the_code_goes_through_the_sms_outbox(listed, settings, django_capture_on_commit_callbacks):
    from integrations.models import Message

    settings.NEXUS_BOOKING_VERIFY_MOBILE = True
    clinician, _, _ = listed
    client = Client()

    with django_capture_on_commit_callbacks():
        asked = _post(client, _slots(client, clinician)[0])
    landline = _post(Client(), _slots(Client(), clinician)[0], phone="02 9999 0000")

    assert asked["Location"] == "/book/verify/"
    message = Message.objects.get()
    assert (message.kind, message.to) == ("verification", "+61412345678")
    assert landline.status_code == 200 and "mobile" in landline.content.decode()
