"""Invoices in Nexus: raised from a completed appointment, approved, voided, numbered."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from accounts.models import ApiToken
from appointments.models import Appointment
from audit.models import AuditEvent
from billing.models import Invoice, InvoiceLine
from billing.services import billing_settings_update, invoice_raise
from tests.conftest import MONDAY, sydney
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    CoordinatorFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db


def _visit(practice, *, start, status, patient=None):
    return AppointmentFactory(
        patient=patient or PatientFactory(),
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=practice.consult,
        start=start,
        status=status,
    )


def test_raising_an_invoice_on_a_completed_appointment_answers_201_with_a_draft(
    reception_api, completed
):
    response = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft"
    assert data["number"] == "NX-000001"
    assert data["xero_invoice_id"] is None
    assert data["sync_status"] == "local"
    assert data["payer"] == {
        "kind": "patient",
        "name": "Ada Lovelace",
        "coordinator": None,
    }
    assert data["total_cents"] == 9550
    assert data["gst_cents"] == 0
    [line] = data["lines"]
    assert (line["description"], line["item_code"], line["quantity"]) == (
        "Podiatry consult",
        "CONSULT",
        1,
    )
    assert (line["unit_price_cents"], line["tax"], line["amount_cents"]) == (9550, "gst_free", 9550)
    assert data["issue_date"] == MONDAY.isoformat()
    # Raising it is a write of patient data, on the trail.
    assert AuditEvent.objects.filter(
        patient=completed.patient, action="create", object_type="billing.invoice"
    ).exists()


def test_raising_twice_is_409_until_the_first_is_voided(reception_api, admin_api, completed):
    first = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/").json()

    again = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/")
    assert again.status_code == 409
    assert again.json()["code"] == "already_invoiced"

    voided = admin_api.post(f"/api/v1/invoices/{first['id']}/void/", {"reason": "Wrong type"})
    assert voided.status_code == 200, voided.json()
    assert voided.json()["status"] == "voided"

    second = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/")
    assert second.status_code == 201
    assert second.json()["number"] == "NX-000002"
    assert Invoice.objects.filter(appointment=completed).count() == 2


def test_the_database_refuses_a_second_live_invoice_for_one_appointment(completed):
    invoice_raise(appointment=completed)
    first = Invoice.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            number="X-1",
            appointment=completed,
            patient=completed.patient,
            payer_name="Someone",
            issue_date=MONDAY,
            due_date=MONDAY,
        )

    Invoice.objects.filter(pk=first.pk).update(status="voided")
    Invoice.objects.create(
        number="X-1",
        appointment=completed,
        patient=completed.patient,
        payer_name="Someone",
        issue_date=MONDAY,
        due_date=MONDAY,
    )


def test_the_database_refuses_totals_that_do_not_add_up(completed):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            number="X-2",
            appointment=completed,
            patient=completed.patient,
            payer_name="Someone",
            issue_date=MONDAY,
            due_date=MONDAY,
            subtotal_cents=100,
            gst_cents=10,
            total_cents=100,
        )


@pytest.mark.parametrize("status", ["booked", "confirmed", "arrived", "cancelled", "no_show"])
def test_only_a_completed_appointment_can_be_invoiced(reception_api, completed, status):
    Appointment.objects.filter(pk=completed.pk).update(status=status)

    response = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_billable"
    assert not Invoice.objects.exists()


def test_an_unknown_appointment_is_404(reception_api, db):
    assert reception_api.post("/api/v1/appointments/999999/invoice/").status_code == 404


def test_an_ndis_participant_with_a_plan_manager_is_billed_to_the_plan_manager(
    reception_api, practice
):
    manager = CoordinatorFactory(name="Pat Planner", organisation="Careways")
    participant = PatientFactory(funding_type="ndis", coordinator=manager)
    appointment = _visit(
        practice, patient=participant, start=sydney(MONDAY, 11), status="completed"
    )

    data = reception_api.post(f"/api/v1/appointments/{appointment.pk}/invoice/").json()

    assert data["payer"] == {
        "kind": "coordinator",
        "name": "Pat Planner (Careways)",
        "coordinator": manager.pk,
    }


def test_reception_approves_but_only_admins_void(reception_api, admin_api, completed):
    invoice = reception_api.post(f"/api/v1/appointments/{completed.pk}/invoice/").json()

    approved = reception_api.post(f"/api/v1/invoices/{invoice['id']}/approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["sync_status"] == "local"  # no Xero connection: stays in Nexus

    refused = reception_api.post(f"/api/v1/invoices/{invoice['id']}/void/", {"reason": "x"})
    assert refused.status_code == 403
    assert Invoice.objects.get(pk=invoice["id"]).status == "approved"

    no_reason = admin_api.post(f"/api/v1/invoices/{invoice['id']}/void/", {"reason": ""})
    assert no_reason.status_code == 400
    voided = admin_api.post(f"/api/v1/invoices/{invoice['id']}/void/", {"reason": "Duplicate"})
    assert voided.json()["status"] == "voided"
    assert voided.json()["void_reason"] == "Duplicate"

    again = reception_api.post(f"/api/v1/invoices/{invoice['id']}/approve/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"


def test_invoices_list_filters_by_patient_status_and_dates(admin_api, practice):
    def raised(patient, day, status="draft"):
        appointment = _visit(practice, patient=patient, start=sydney(day, 10), status="completed")
        invoice = invoice_raise(appointment=appointment)
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        return invoice.pk

    from datetime import timedelta

    ada, bob = PatientFactory(), PatientFactory()
    early = raised(ada, MONDAY)
    late = raised(ada, MONDAY + timedelta(days=7), status="approved")
    other = raised(bob, MONDAY + timedelta(days=1))

    def ids(**params):
        response = admin_api.get("/api/v1/invoices/", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [late, other, early]
    assert ids(patient=ada.pk) == [late, early]
    assert ids(status="approved") == [late]
    assert ids(issued_from=(MONDAY + timedelta(days=1)).isoformat()) == [late, other]
    assert ids(issued_to=MONDAY.isoformat()) == [early]
    assert admin_api.get("/api/v1/invoices/", {"issued_from": "not-a-date"}).status_code == 400
    detail = admin_api.get(f"/api/v1/invoices/{early}/")
    assert detail.status_code == 200
    assert detail.json()["id"] == early


def test_the_invoice_list_costs_the_same_queries_for_many_rows(
    admin_api, practice, django_assert_max_num_queries
):
    for hour in range(9, 14):
        appointment = _visit(practice, start=sydney(MONDAY, hour), status="completed")
        invoice_raise(appointment=appointment)

    with django_assert_max_num_queries(12) as captured:
        response = admin_api.get("/api/v1/invoices/")
    assert len(response.json()["results"]) == 5
    few = len(captured)

    for hour in range(14, 17):
        appointment = _visit(practice, start=sydney(MONDAY, hour), status="completed")
        invoice_raise(appointment=appointment)
    with django_assert_max_num_queries(few):
        assert len(admin_api.get("/api/v1/invoices/").json()["results"]) == 8


def test_tokens_need_the_invoices_scope(admin_user, completed):
    invoice_raise(appointment=completed)

    def client(scopes):
        _, raw = ApiToken.issue(user=admin_user, name="t", scopes=scopes)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return api

    assert client(["patients:read"]).get("/api/v1/invoices/").status_code == 403
    reader = client(["invoices:read"])
    assert reader.get("/api/v1/invoices/").status_code == 200
    assert reader.post(f"/api/v1/appointments/{completed.pk}/invoice/").status_code == 403
    writer = client(["invoices:read", "invoices:write"])
    invoice = Invoice.objects.get()
    assert writer.post(f"/api/v1/invoices/{invoice.pk}/approve/").status_code == 200


def test_completing_an_appointment_raises_its_draft_when_the_practice_wants_it(
    reception_api, practice, patient
):
    billing_settings_update(auto_invoice_on_completion=True)
    appointment = _visit(practice, patient=patient, start=sydney(MONDAY, 9), status="arrived")

    response = reception_api.post(f"/api/v1/appointments/{appointment.pk}/complete/")

    assert response.status_code == 200, response.json()
    invoice = Invoice.objects.get(appointment=appointment)
    assert invoice.status == "draft"
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 1


def test_without_the_setting_completing_raises_nothing(reception_api, practice, patient):
    appointment = _visit(practice, patient=patient, start=sydney(MONDAY, 9), status="arrived")

    assert reception_api.post(f"/api/v1/appointments/{appointment.pk}/complete/").status_code == 200
    assert not Invoice.objects.exists()


def test_a_type_with_gst_raises_a_taxed_line_and_a_gst_free_one_does_not(
    reception_api, practice, patient
):
    gym = AppointmentTypeFactory(name="Gym class", price=Decimal("30.00"), gst_applies=True)
    visit = AppointmentFactory(
        patient=patient,
        clinician=practice.clinician,
        clinic=practice.clinic,
        appointment_type=gym,
        start=sydney(MONDAY, 15),
        status=Appointment.Status.COMPLETED,
    )

    taxed = reception_api.post(f"/api/v1/appointments/{visit.pk}/invoice/").json()
    free = invoice_raise(appointment=_visit(practice, start=sydney(MONDAY, 16), status="completed"))

    assert (taxed["total_cents"], taxed["gst_cents"]) == (3300, 300)
    assert taxed["lines"][0]["tax"] == "gst"
    assert (free.gst_cents, free.lines.get().tax) == (0, "gst_free")
