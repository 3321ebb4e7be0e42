"""The calendar by keyboard: one Tab stop per column and arrow keys inside it, focus into
the side panel when it opens, on the first invalid field after a refusal, back to the
slot on Escape, on the new appointment after booking; focus rings of at least 3:1."""

import re

from playwright.sync_api import Page, expect

from appointments.models import Appointment
from tests.browser import test_journeys
from tests.browser.conftest import sign_in, wait_for_htmx
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_journeys import PASSWORD, tomorrow_at
from tests.factories import PatientFactory, UserFactory

clinic_day = test_journeys.clinic_day

ACTIVE_LABEL = (
    "() => document.activeElement.getAttribute('aria-label') || document.activeElement.id"
)


def tab_until(page: Page, selector: str, limit: int = 60) -> int:
    """Press Tab until the focused element matches `selector`; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} Tabs")


def calendar_ready(page: Page) -> None:
    wait_for_htmx(page)
    page.wait_for_selector(".calendar[data-ready]", state="attached")


def open_calendar(page: Page, clinic) -> str:
    reception = UserFactory(role="reception", email="front@clinic.example")
    sign_in(page, reception.email, PASSWORD)
    day = tomorrow_at(clinic, 9).date()
    page.goto(f"/calendar/?clinic={clinic.pk}&date={day.isoformat()}")
    calendar_ready(page)
    return f"{day:%a} {day.day} {day:%b}"


def test_booking_from_the_calendar_by_keyboard(page: Page, clinic_day):
    clinic, _people, consult, _review = clinic_day
    PatientFactory(given_name="Ada", family_name="Lovelace")
    day = open_calendar(page, clinic)

    # The grid is one Tab stop per clinician: Liam's first free time, then Sofia's.
    to_grid = tab_until(page, ".cal-free")
    assert page.evaluate(ACTIVE_LABEL) == f"Book Liam Nguyen at 8:00 AM {day}"
    page.keyboard.press("Tab")
    assert page.evaluate(ACTIVE_LABEL) == f"Book Sofia Rossi at 8:00 AM {day}"
    # Arrow keys move inside the grid: across to the next clinician, down a column.
    page.keyboard.press("ArrowRight")
    for _ in range(12):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")  # to Sofia at the same time, and back
    page.keyboard.press("ArrowRight")
    assert page.evaluate(ACTIVE_LABEL) == f"Book Mei Wang at 11:00 AM {day}"

    # Enter opens the booking panel with focus on its first field: no Tabs at all.
    page.keyboard.press("Enter")
    search = page.locator("#panel").get_by_label("Patient")
    expect(search).to_be_focused()
    print(f"Tabs: {to_grid} from the top to the first free time, 0 from it to the panel")

    # Escape closes the panel and puts focus back on the time chosen.
    page.keyboard.press("Escape")
    expect(page.locator("#panel").get_by_role("heading")).to_have_count(0)
    assert page.evaluate(ACTIVE_LABEL) == f"Book Mei Wang at 11:00 AM {day}"

    # A refusal keeps focus on the first invalid field.
    page.keyboard.press("Enter")
    expect(search).to_be_focused()
    wait_for_htmx(page)
    page.locator("#panel").get_by_label("Type").select_option(label=str(consult))
    page.locator("#panel").get_by_role("button", name="Book").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel").get_by_text("Find and choose the patient first.")).to_be_visible()
    expect(search).to_be_focused()

    # Booked: the page reloads with focus on the new appointment.
    wait_for_htmx(page)
    page.keyboard.type("Lovelace")
    page.locator("#panel").get_by_label("Ada Lovelace").check()
    page.locator("#panel").get_by_role("button", name="Book").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Booked Ada Lovelace with Mei Wang")
    calendar_ready(page)
    booked = Appointment.objects.get()
    expect(page.locator(f'.cal-appt[data-appointment="{booked.pk}"]')).to_be_focused()
    # The "Booked ..." message list is a list axe accepts (it was a <ul role="status">).
    assert [v["id"] for v in axe_violations(page) if v["id"] in ("list", "listitem")] == []


def luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


RING = """(el) => {
  const style = getComputedStyle(el);
  let node = el.parentElement, background = 'rgb(255, 255, 255)';
  while (node) {
    const bg = getComputedStyle(node).backgroundColor;
    if (bg && bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') { background = bg; break; }
    node = node.parentElement;
  }
  return {ring: style.outlineColor, width: style.outlineWidth, style: style.outlineStyle,
          background};
}"""


def rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def test_focus_rings_stand_out_everywhere(page: Page, clinic_day):
    clinic, *_ = clinic_day
    open_calendar(page, clinic)
    tab_until(page, ".cal-free")  # keyboard focus, so :focus-visible applies
    checked = {}
    for selector in [
        ".topbar a.brand",
        ".topnav a",
        "#topbar-q",
        ".topbar-user button",
        ".toolbar-group a.button",
        "#cal-clinic",
        ".calendar-filters button",
        ".cal-free",
    ]:
        element = page.locator(selector).first
        element.focus()
        found = element.evaluate(RING)
        assert found["style"] != "none" and found["width"] != "0px", selector
        checked[selector] = round(contrast(rgb(found["ring"]), rgb(found["background"])), 2)
    print("focus ring contrast:", checked)
    assert {s: ratio for s, ratio in checked.items() if ratio < 3} == {}
