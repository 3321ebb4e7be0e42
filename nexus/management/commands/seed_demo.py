"""Create a realistic demo practice, or a benchmark-sized one, idempotently.

Every row it makes carries a `demo-` legacy id or a fixed name, so a second run finds them and
changes nothing. Large sizes go through nexus.bulk in batches (no per-row save()).
It lives in the nexus app because it seeds every app.
"""

import itertools
import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import CLINICIAN, PRACTICE_ADMIN, RECEPTION
from appointments.models import Appointment, AppointmentType
from clinicians.models import Clinic, Clinician, Discipline, WorkingHours
from nexus.bulk import bulk_insert
from notes.models import ClinicalNote
from patients.chart import chart_changed
from patients.models import Coordinator, Patient, Referrer
from patients.validators import medicare_number_is_valid

# Printed on purpose: demo accounts exist only where DEBUG is on (or --force).
DEMO_PASSWORD = "nexus-demo-2026"  # noqa: S105

CLINICS = [
    (
        "Nexus Podiatry Parramatta",
        "Australia/Sydney",
        "12 Church St, Parramatta NSW 2150",
        "+61296350000",
    ),
    (
        "Nexus Allied Health Newtown",
        "Australia/Sydney",
        "301 King St, Newtown NSW 2042",
        "+61295170000",
    ),
    ("Nexus Foot & Orthotics Perth", "Australia/Perth", "88 Hay St, Perth WA 6000", "+61892210000"),
]
DISCIPLINES = ["Podiatry", "Orthotics", "Physiotherapy", "General Practice", "Occupational Therapy"]
CLINICIANS = [
    ("Dr", "Amelia", "Nguyen", ["Podiatry"], [0, 1]),
    ("", "Liam", "O'Connor", ["Podiatry", "Orthotics"], [0]),
    ("", "Priya", "Sharma", ["Physiotherapy"], [1]),
    ("Dr", "James", "Walker", ["General Practice"], [1]),
    ("", "Chloe", "Martin", ["Orthotics"], [2]),
    ("", "Noah", "Williams", ["Occupational Therapy", "Podiatry"], [2, 0]),
]
TYPES = [
    ("Initial consultation", 60, "#2563eb", "120.00", "INIT", True),
    ("Standard consultation", 30, "#16a34a", "85.00", "STD", True),
    ("Review", 15, "#f59e0b", "55.00", "REV", True),
    ("Orthotic fitting", 45, "#9333ea", "150.00", "ORTH", False),
    ("NDIS assessment", 90, "#dc2626", "193.99", "NDIS", False),
]
GIVEN = [
    "Olivia",
    "Charlotte",
    "Mia",
    "Isla",
    "Amelia",
    "Ava",
    "Grace",
    "Ruby",
    "Zoe",
    "Harper",
    "Evie",
    "Lily",
    "Sophie",
    "Chloe",
    "Ella",
    "Oliver",
    "Noah",
    "Jack",
    "William",
    "Leo",
    "Lucas",
    "Thomas",
    "Henry",
    "James",
    "Charlie",
    "Hudson",
    "Ethan",
    "Archie",
    "Max",
    "Liam",
]
FAMILY = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Johnson",
    "White",
    "Martin",
    "Anderson",
    "Thompson",
    "Nguyen",
    "Thomas",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
    "Davis",
    "Wright",
    "Evans",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Singh",
    "Tran",
    "Chen",
    "Wang",
    "Li",
    "Kaur",
    "Murphy",
    "O'Brien",
    "Campbell",
]
SUBURBS = [
    ("Parramatta", "NSW", "2150"),
    ("Newtown", "NSW", "2042"),
    ("Perth", "WA", "6000"),
    ("Fremantle", "WA", "6160"),
    ("Penrith", "NSW", "2750"),
    ("Bondi", "NSW", "2026"),
]
CANCEL_REASONS = ["Patient unwell", "Clashes with work", "Transport fell through", "Rebooked"]
NOTE_TEXT = (
    "S: Reports reduced heel pain since last visit, 3/10 on first steps.\n"
    "O: Tenderness medial calcaneal tubercle, ankle dorsiflexion 10 degrees.\n"
    "A: Plantar fasciitis, improving.\n"
    "P: Continue stretching and orthoses; review in 4 weeks."
)


def medicare_number(rng: random.Random) -> str:
    while True:
        head = str(rng.randint(2, 6)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
        check = sum(int(d) * w for d, w in zip(head, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10
        number = f"{head}{check}{rng.randint(1, 9)}"
        if medicare_number_is_valid(number):
            return number


class Command(BaseCommand):
    help = "Create a demo practice (idempotent). Larger sizes build a benchmark dataset."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=200)
        parser.add_argument(
            "--appointments",
            type=int,
            default=0,
            help="Total appointments to reach; 0 fills two weeks either side of today.",
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--force", action="store_true", help="Run even with DEBUG off (never in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with known passwords; run it with DEBUG on, "
                "or pass --force on a machine that is not production."
            )
        self.rng = random.Random(options["seed"])  # Same seed, same practice.
        started = time.monotonic()
        with transaction.atomic():
            clinics = self._clinics()
            types = self._types()
            clinicians = self._clinicians(clinics, options["appointments"])
            accounts = self._accounts(clinicians[0])
            self._referrers_and_coordinators()
        self._patients(options["patients"], clinics)
        created = self._appointments(clinicians, types, options["appointments"])
        self._notes(clinicians[0])
        # Bulk inserts send no signals: cached charts would not know.
        chart_changed()
        if connection.vendor == "postgresql" and created:
            # Fresh statistics after a bulk load, or the planner guesses from empty tables.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"Demo practice ready in {time.monotonic() - started:.1f}s: {Clinic.objects.count()} "
            f"clinics, {Clinician.objects.count()} clinicians, {Patient.objects.count()} patients, "
            f"{Appointment.objects.count()} appointments ({created} new)."
        )
        self.stdout.write("Staff accounts (sign in at http://127.0.0.1:8000/):")
        for role, email in accounts:
            self.stdout.write(f"  {role:<15} {email:<28} password: {DEMO_PASSWORD}")

    def _clinics(self) -> list[Clinic]:
        for name in DISCIPLINES:
            Discipline.objects.get_or_create(name=name)
        return [
            Clinic.objects.get_or_create(
                name=name, defaults={"timezone": tz, "address": address, "phone": phone}
            )[0]
            for name, tz, address, phone in CLINICS
        ]

    def _types(self) -> list[AppointmentType]:
        return [
            AppointmentType.objects.get_or_create(
                name=name,
                defaults={
                    "duration_minutes": minutes,
                    "colour": colour,
                    "price": Decimal(price),
                    "xero_item_code": code,
                    "bookable_online": online,
                },
            )[0]
            for name, minutes, colour, price, code, online in TYPES
        ]

    def _clinicians(self, clinics: list[Clinic], appointments: int) -> list[Clinician]:
        # A large practice needs more diaries: about 20,000 appointments each, as in the
        # reference dataset of 1M appointments across 50 clinicians.
        wanted = max(len(CLINICIANS), min(200, math.ceil(appointments / 20_000)))
        rows = list(CLINICIANS)
        for i in range(len(CLINICIANS), wanted):
            rows.append(("", GIVEN[i % len(GIVEN)], f"Locum {i + 1:03d}", ["Podiatry"], [i % 3]))
        disciplines = {d.name: d for d in Discipline.objects.all()}
        result = []
        for title, given, family, discs, clinic_idx in rows:
            clinician, created = Clinician.objects.get_or_create(
                given_name=given,
                family_name=family,
                defaults={
                    "title": title,
                    "bio": f"{given} has worked in {discs[0].lower()} for over ten years.",
                    "provider_number": f"{self.rng.randint(100000, 999999)}"
                    f"{self.rng.choice('ABCDEFGHJK')}",
                    "listed_publicly": True,
                },
            )
            if created:
                clinician.disciplines.set([disciplines[d] for d in discs])
                clinician.clinics.set([clinics[i] for i in clinic_idx])
                for weekday in range(5):
                    clinic = clinics[clinic_idx[weekday % len(clinic_idx)]]
                    for start, end in (
                        (dtime(8, 30), dtime(12, 30)),
                        (dtime(13, 30), dtime(17, 0)),
                    ):
                        WorkingHours.objects.create(
                            clinician=clinician,
                            clinic=clinic,
                            weekday=weekday,
                            start_time=start,
                            end_time=end,
                        )
            result.append(clinician)
        return result

    def _accounts(self, first_clinician: Clinician) -> list[tuple[str, str]]:
        accounts = [
            (PRACTICE_ADMIN, "admin@nexus.test", "Pat Admin", True),
            (CLINICIAN, "amelia@nexus.test", "Amelia Nguyen", False),
            (RECEPTION, "reception@nexus.test", "Rhea Reception", False),
        ]
        for role, email, name, is_staff in accounts:
            user, created = User.objects.get_or_create(
                email=email, defaults={"full_name": name, "is_staff": is_staff}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=role))
        if first_clinician.user_id is None:
            first_clinician.user = User.objects.get(email="amelia@nexus.test")
            first_clinician.save(update_fields=["user"])
        return [(role, email) for role, email, _, _ in accounts]

    def _referrers_and_coordinators(self) -> None:
        for i in range(20):
            Referrer.objects.get_or_create(
                legacy_id=f"demo-R{i:03d}",
                defaults={
                    "name": f"Dr {self.rng.choice(GIVEN)} {self.rng.choice(FAMILY)}",
                    "practice_name": f"{self.rng.choice(SUBURBS)[0]} Medical Centre",
                    "provider_number": f"{self.rng.randint(100000, 999999)}X",
                    "phone": f"+6129{self.rng.randint(1000000, 9999999)}",
                },
            )
        for i in range(8):
            Coordinator.objects.get_or_create(
                legacy_id=f"demo-C{i:03d}",
                defaults={
                    "name": f"{self.rng.choice(GIVEN)} {self.rng.choice(FAMILY)}",
                    "organisation": self.rng.choice(["Ability Links", "MyPlan Co", "Careways"]),
                    "phone": f"+614{self.rng.randint(10000000, 99999999)}",
                },
            )

    def _patients(self, count: int, clinics: list[Clinic]) -> None:
        existing = set(
            Patient.objects.filter(legacy_id__startswith="demo-P").values_list(
                "legacy_id", flat=True
            )
        )
        referrers = list(Referrer.objects.values_list("pk", flat=True))
        coordinators = list(Coordinator.objects.values_list("pk", flat=True))
        rng = self.rng
        today = timezone.localdate()

        def build(i: int) -> Patient:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            suburb, state, postcode = rng.choice(SUBURBS)
            funding = rng.choices(
                [c for c, _ in Patient.Funding.choices], weights=[40, 25, 15, 8, 4, 5, 3]
            )[0]
            return Patient(
                legacy_id=f"demo-P{i:06d}",
                given_name=given,
                family_name=family,
                date_of_birth=today - timedelta(days=rng.randint(3 * 365, 95 * 365)),
                sex=rng.choice(["female", "male", "female", "male", "not_stated"]),
                phone=f"+614{rng.randint(10000000, 99999999)}",
                email=f"{given.lower()}.{family.lower().replace(chr(39), '')}{i}@example.com",
                address=f"{rng.randint(1, 200)} {rng.choice(FAMILY)} St",
                suburb=suburb,
                state=state,
                postcode=postcode,
                medicare_number=medicare_number(rng),
                medicare_irn=str(rng.randint(1, 5)),
                ndis_number=f"43{rng.randint(1000000, 9999999)}" if funding == "ndis" else "",
                funding_type=funding,
                home_clinic=rng.choice(clinics),
                referrer_id=rng.choice(referrers) if rng.random() < 0.6 else None,
                coordinator_id=rng.choice(coordinators) if funding == "ndis" else None,
                sms_consent=rng.random() < 0.8,
                email_consent=rng.random() < 0.6,
                alerts="Diabetic: check feet for ulceration." if rng.random() < 0.08 else "",
            )

        missing = (build(i) for i in range(count) if f"demo-P{i:06d}" not in existing)
        bulk_insert(Patient, missing)

    def _slots(
        self, clinician: Clinician, day: date, hours: list[WorkingHours]
    ) -> Iterator[tuple[Clinic, datetime, datetime]]:
        for block in hours:
            if block.weekday != day.weekday():
                continue
            tz = block.clinic.tz
            t = datetime.combine(day, block.start_time, tzinfo=tz).astimezone(UTC)
            block_end = datetime.combine(day, block.end_time, tzinfo=tz).astimezone(UTC)
            while t < block_end:
                yield block.clinic, t, block_end
                t += timedelta(minutes=15)

    def _appointments(
        self, clinicians: list[Clinician], types: list[AppointmentType], target: int
    ) -> int:
        if Appointment.objects.filter(legacy_id__startswith="demo-A").exists() and (
            target == 0 or Appointment.objects.count() >= target
        ):
            return 0
        rng = self.rng
        now = timezone.now()
        today = timezone.localdate()
        patients = list(Patient.objects.filter(archived=False).values_list("pk", flat=True))
        hours = {
            c.pk: list(WorkingHours.objects.filter(clinician=c).select_related("clinic"))
            for c in clinicians
        }
        # Demo: a believable fortnight either side of today. Benchmark: fuller diaries going
        # back in time until the target is reached.
        fill = 0.55 if target == 0 else 0.9
        days: Iterator[date] = (
            (today - timedelta(days=14) + timedelta(days=i) for i in range(29))
            if target == 0
            else (today + timedelta(days=14) - timedelta(days=i) for i in itertools.count())
        )
        serial = itertools.count(Appointment.objects.count())

        def generate() -> Iterator[Appointment]:
            made = Appointment.objects.count()
            for day in days:
                for clinician in clinicians:
                    busy_until = datetime.min.replace(tzinfo=UTC)
                    for clinic, start, block_end in self._slots(
                        clinician, day, hours[clinician.pk]
                    ):
                        if start < busy_until or rng.random() > fill:
                            continue
                        kind = rng.choices(types, weights=[15, 50, 20, 10, 5])[0]
                        end = start + kind.duration
                        if end > block_end:
                            continue
                        busy_until = end
                        status, reason = self._status(start, now)
                        yield Appointment(
                            legacy_id=f"demo-A{next(serial):08d}",
                            patient_id=rng.choice(patients),
                            clinician=clinician,
                            clinic=clinic,
                            appointment_type=kind,
                            start=start,
                            end=end,
                            status=status,
                            cancellation_reason=reason,
                        )
                        made += 1
                        if target and made >= target:
                            return

        def progress(created: int) -> None:
            if target:
                self.stdout.write(f"  {created} appointments…", ending="\r")
                self.stdout.flush()

        return bulk_insert(Appointment, generate(), progress=progress)

    def _status(self, start: datetime, now: datetime) -> tuple[str, str]:
        roll = self.rng.random()
        s = Appointment.Status
        if roll < 0.06:
            return s.CANCELLED, self.rng.choice(CANCEL_REASONS)
        if start < now:
            return (s.NO_SHOW, "") if roll < 0.1 else (s.COMPLETED, "")
        return (s.CONFIRMED, "") if roll < 0.4 else (s.BOOKED, "")

    def _notes(self, clinician: Clinician) -> None:
        author = clinician.user
        if author is None or ClinicalNote.objects.filter(legacy_id__startswith="demo-N").exists():
            return
        done = Appointment.objects.filter(
            clinician=clinician, status=Appointment.Status.COMPLETED
        ).order_by("-start")[:30]
        notes = [
            ClinicalNote(
                legacy_id=f"demo-N{i:04d}",
                patient_id=appt.patient_id,
                appointment=appt,
                author=author,
                kind=ClinicalNote.Kind.SOAP,
                title="Follow-up",
                body=NOTE_TEXT,
            )
            for i, appt in enumerate(done)
        ]
        ClinicalNote.objects.bulk_create(notes)
        # The digest covers the note's id, which exists only after the insert. The three most
        # recent notes stay drafts, waiting to be signed.
        for note, appt in list(zip(notes, done, strict=True))[3:]:
            note.status = ClinicalNote.Status.SIGNED
            note.signed_by = author
            note.signed_at = appt.end + timedelta(minutes=10)
            ClinicalNote.objects.filter(pk=note.pk).update(
                status=note.status,
                signed_by=author,
                signed_at=note.signed_at,
                content_sha256=note.compute_sha256(),
            )
