"""The three staff roles and what each may do, as Django groups with model permissions.

Object-level rules (for example "clinicians sign only their own notes") live in the services
that perform the action; this module only grants the model-level permissions.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

PRACTICE_ADMIN = "practice_admin"
CLINICIAN = "clinician"
RECEPTION = "reception"

_REFERENCE_DATA = [
    "clinicians.view_clinic",
    "clinicians.view_discipline",
    "clinicians.view_clinician",
    "clinicians.view_workinghours",
    "clinicians.view_timeoff",
    "appointments.view_appointmenttype",
]
_FRONT_DESK = [
    "patients.view_patient",
    "patients.add_patient",
    "patients.change_patient",
    "patients.view_referrer",
    "patients.add_referrer",
    "patients.change_referrer",
    "patients.view_coordinator",
    "patients.add_coordinator",
    "patients.change_coordinator",
    "appointments.view_appointment",
    "appointments.add_appointment",
    "appointments.change_appointment",
    "documents.view_document",
    "documents.add_document",
    # Messages to patients: send, see the outbox, retry failures, work the reply inbox.
    "integrations.view_message",
    "integrations.add_message",
    "integrations.change_message",
    "integrations.view_inboundmessage",
    "integrations.change_inboundmessage",
    # Invoices: raise from a completed appointment and approve (voiding is for admins).
    "billing.view_invoice",
    "billing.add_invoice",
    "billing.change_invoice",
    # The waitlist: add patients, see the offers in flight, take a patient off.
    "waitlist.view_waitlistentry",
    "waitlist.add_waitlistentry",
    "waitlist.change_waitlistentry",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    PRACTICE_ADMIN: [
        *_REFERENCE_DATA,
        *_FRONT_DESK,
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.view_apitoken",
        "accounts.add_apitoken",
        "accounts.change_apitoken",
        "clinicians.add_clinic",
        "clinicians.change_clinic",
        "clinicians.add_discipline",
        "clinicians.change_discipline",
        "clinicians.add_clinician",
        "clinicians.change_clinician",
        "clinicians.add_workinghours",
        "clinicians.change_workinghours",
        "clinicians.delete_workinghours",
        "clinicians.add_timeoff",
        "clinicians.change_timeoff",
        "clinicians.delete_timeoff",
        "appointments.add_appointmenttype",
        "appointments.change_appointmenttype",
        "appointments.override_working_hours",
        "notes.view_clinicalnote",
        "audit.view_auditevent",
        "documents.delete_document",
        "integrations.view_messagetemplate",
        "integrations.add_messagetemplate",
        "integrations.change_messagetemplate",
        "billing.void_invoice",
        # The practice's waitlist choices: one at a time or the first few, and how long.
        "waitlist.change_waitlistsettings",
        # Connect and disconnect Xero, see its sync queue.
        "integrations.view_oauthconnection",
        "integrations.change_oauthconnection",
        # Imports from FileMaker: start one, follow it, download its report.
        "integrations.view_importrun",
        "integrations.add_importrun",
    ],
    CLINICIAN: [
        *_REFERENCE_DATA,
        *_FRONT_DESK,
        "clinicians.add_timeoff",
        "clinicians.change_timeoff",
        "appointments.override_working_hours",
        "notes.view_clinicalnote",
        "notes.add_clinicalnote",
        "notes.change_clinicalnote",
        "notes.view_note_body",
        "notes.sign_clinicalnote",
        "documents.delete_document",
        # Their own Gmail account, to send letters from their own address.
        "integrations.connect_own_gmail",
    ],
    RECEPTION: [
        *_REFERENCE_DATA,
        *_FRONT_DESK,
        "appointments.override_working_hours",
        # Reception sees that a note exists (for the chart timeline), never its body.
        "notes.view_clinicalnote",
    ],
}


def roles_sync(*, using: str = "default") -> None:
    """Create the role groups and set their permissions to exactly the matrix above."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        query = Q()
        for perm in perms:
            app_label, codename = perm.split(".")
            query |= Q(content_type__app_label=app_label, codename=codename)
        found = list(Permission.objects.using(using).filter(query))
        if len(found) != len(perms):
            # Some app has not migrated yet; post_migrate runs again once it has.
            continue
        group.permissions.set(found)
