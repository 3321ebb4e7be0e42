"""Money in integer cents: line amounts, GST and the invoice total always agree."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, InvoiceLine
from billing.money import cents, gst_on
from billing.services import LineInput, invoice_create
from tests.conftest import MONDAY, sydney
from tests.factories import AppointmentFactory

lines = st.lists(
    st.builds(
        LineInput,
        description=st.just("Service"),
        unit_price_cents=st.integers(min_value=0, max_value=500_000),
        quantity=st.integers(min_value=1, max_value=20),
        tax=st.sampled_from([InvoiceLine.Tax.GST_FREE, InvoiceLine.Tax.GST]),
    ),
    min_size=1,
    max_size=6,
)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=lines)
def test_line_amounts_gst_and_total_always_agree_in_cents(practice, lines):
    appointment = AppointmentFactory(
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=sydney(MONDAY, 9) + timedelta(days=Invoice.objects.count()),
        status="completed",
    )

    invoice = invoice_create(appointment=appointment, lines=lines)

    stored = list(invoice.lines.order_by("position"))
    for line, row in zip(lines, stored, strict=True):
        assert row.amount_cents == line.quantity * line.unit_price_cents
        expected_gst = gst_on(row.amount_cents) if line.tax == "gst" else 0
        assert row.gst_cents == expected_gst
        # GST is a tenth of the amount to the nearest cent.
        assert abs(row.gst_cents * 10 - (row.amount_cents if line.tax == "gst" else 0)) <= 5
    invoice.refresh_from_db()
    assert invoice.subtotal_cents == sum(r.amount_cents for r in stored)
    assert invoice.gst_cents == sum(r.gst_cents for r in stored)
    assert invoice.total_cents == invoice.subtotal_cents + invoice.gst_cents


@pytest.mark.parametrize(
    ("amount", "expected"), [(0, 0), (4, 0), (5, 1), (9550, 955), (9555, 956), (12345, 1235)]
)
def test_gst_is_a_tenth_rounded_half_up(amount, expected):
    assert gst_on(amount) == expected


def test_prices_become_cents_exactly():
    from decimal import Decimal

    assert cents(Decimal("95.50")) == 9550
    assert cents(Decimal("0.01")) == 1
    assert cents(Decimal("123456.78")) == 12345678
