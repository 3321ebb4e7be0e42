"""A local FileMaker Server: the Data API (sessions, records, _find, container streaming)
and OData v4 (Basic auth, $count, $top/$skip with @odata.nextLink, container $value), as
integrations.md §2 describes them, serving a generated practice in the default schema
(filemaker-schema.md) with every kind of dirty data the schema reference lists.

python-fmrest refuses plain-http URLs unless they end in ":3000"; a fixed port cannot be
shared by parallel test workers, so the fake serves TLS on an ephemeral port with its own
certificate, and clients pass `ca_file` as the CA bundle (FILEMAKER_CA_BUNDLE).

Run it by hand: `python -m tests.fakes.filemaker --clients 9870 ...` (see --help).
"""

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import random
import secrets
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes._server import FakeServer

DATABASE = "Clinic"
USERNAME = "importer"
PASSWORD = "s3cret-import"
ODATA_PAGE = 10_000  # FileMaker's most per OData response; tests lower it

KEYS = {
    "Clinics": "ClinicID",
    "Practitioners": "PractitionerID",
    "Referrers": "ReferrerID",
    "Coordinators": "CoordinatorID",
    "Clients": "ClientID",
    "Appointments": "ApptID",
    "ClinicalNotes": "NoteID",
    "Documents": "DocID",
}
CONTAINERS = {"Documents": ("File",)}
FULL_SIZE = {
    "Clinics": 4,
    "Practitioners": 14,
    "Referrers": 1_850,
    "Coordinators": 640,
    "Clients": 9_870,
    "Appointments": 31_200,
    "ClinicalNotes": 12_180,
    "Documents": 11_259,
}

# Tiny but real files: the importer sniffs their type from the bytes.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504  # OLE2: an old Word file
RTF = b"{\\rtf1\\ansi Legacy letter}"


def _medicare(rng: random.Random, *, valid: bool = True) -> str:
    digits = [rng.randint(2, 6)] + [rng.randint(0, 9) for _ in range(7)]
    check = sum(d * w for d, w in zip(digits, (1, 3, 7, 9, 1, 3, 7, 9), strict=True)) % 10
    if not valid:
        check = (check + 1) % 10
    return "".join(map(str, digits)) + str(check) + str(rng.randint(1, 9))


def _fm_date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


@dataclass
class Practice:
    layouts: dict[str, list[dict[str, Any]]]
    files: dict[str, tuple[bytes, str]]  # container token -> bytes, content type
    # What each dirty record is, for tests: kind -> legacy ids.
    dirty: dict[str, list[str]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(rows) for name, rows in self.layouts.items() if name != "Documents")


def generate_practice(sizes: dict[str, int] | None = None, *, seed: int = 14) -> Practice:
    """A practice in the default schema. `sizes` per layout (default: a small one); each
    kind of dirty data appears whatever the size."""
    sizes = {
        **{
            "Clinics": 4,
            "Practitioners": 14,
            "Referrers": 30,
            "Coordinators": 12,
            "Clients": 120,
            "Appointments": 300,
            "ClinicalNotes": 150,
            "Documents": 60,
        },
        **(sizes or {}),
    }
    rng = random.Random(seed)
    today = dt.date.today()  # noqa: DTZ011 - "past" and "future" as the importer sees them
    dirty: dict[str, list[str]] = {}
    mark = lambda kind, legacy: dirty.setdefault(kind, []).append(legacy)  # noqa: E731

    clinics = []
    zones = ["", "Australia/Sydney", "Australia/Perth", "Australia/Brisbane"]
    for i in range(sizes["Clinics"]):
        clinics.append(
            {
                "ClinicID": f"CLN{i + 1:03d}",
                "ClinicName": f"Clinic {i + 1}",
                "Address": f"{i + 1} Main St",
                "Suburb": "Parramatta",
                "State": "NSW",
                "Postcode": "2150",
                "Phone": "(02) 9876 5432",
                "TimeZone": zones[i % len(zones)],
            }
        )
    disciplines = [
        "Podiatry",
        "podiatry ",
        "Physio",
        "Orthotist",
        "Physiotherapy",
        "Occupational Therapy",
    ]
    practitioners = []
    for i in range(sizes["Practitioners"]):
        practitioners.append(
            {
                "PractitionerID": f"PR{i + 1:03d}",
                "Title": rng.choice(["Dr", "Ms", "Mr", ""]),
                "FirstName": f"Prac{i + 1}",
                "LastName": rng.choice(["Nguyen", "Smith", "Patel", "Brown"]),
                "Discipline": disciplines[i % len(disciplines)],
                "ProviderNo": f"{2000000 + i}A",
                "Email": f"prac{i + 1}@clinic.example",
                "Active": "No" if i % 5 == 4 else "Yes",
                "ClinicIDs": "\r".join(c["ClinicID"] for c in clinics[: 1 + i % len(clinics)]),
            }
        )
    phones = [
        "0412 345 678",
        "(02) 9876 5432",
        "+61412345678",
        "61412345679",
        "412345670",
        "ring mum first",
        "",
    ]
    referrers = [
        {
            "ReferrerID": f"RF{i + 1:05d}",
            "Name": f"Dr Referrer {i + 1}",
            "Practice": f"Medical Centre {i % 40}",
            "ProviderNo": f"{4000000 + i}B",
            "Phone": phones[i % 3],
            "Fax": "(02) 9876 0000" if i % 2 else "",
            "Email": f"gp{i + 1}@mc.example" if i % 3 else "",
            "Address": f"{i} George St",
        }
        for i in range(sizes["Referrers"])
    ]
    coordinators = [
        {
            "CoordinatorID": f"CO{i + 1:05d}",
            "Name": f"Coordinator {i + 1}",
            "Organisation": f"Supports {i % 20}",
            "Phone": phones[i % 3],
            "Email": f"sc{i + 1}@supports.example",
        }
        for i in range(sizes["Coordinators"])
    ]

    firsts = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Giorgos", "Hana", "Ian", "Jo"]
    lasts = ["Anderson", "O'Brien", "Nguyen", "Smith", "Zhou", "Kowalski", "Müller", "Tran"]
    clients = []
    for i in range(sizes["Clients"]):
        cid = f"CL{i + 1:06d}"
        dob = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 29_000))
        record = {
            "ClientID": cid,
            "FirstName": firsts[i % len(firsts)],
            "LastName": f"{lasts[i % len(lasts)]}{i}",
            "PreferredName": "",
            "DOB": _fm_date(dob),
            "Gender": rng.choice(["M", "F", "X", ""]),
            "Mobile": f"041{rng.randint(1_000_000, 9_999_999)}",
            "HomePhone": "",
            "Email": f"client{i + 1}@mail.example" if i % 4 else "",
            "Address1": f"{i} Long Rd",
            "Suburb": "Penrith",
            "State": "NSW",
            "Postcode": "2750",
            "MedicareNo": _medicare(rng),
            "MedicareIRN": str(rng.randint(1, 5)),
            "NDISNo": "",
            "DVANo": "",
            "FundingType": rng.choice(
                ["Private", "NDIS", "DVA", "Medicare EPC", "Workcover", "Other"]
            ),
            "ReferrerID": referrers[i % len(referrers)]["ReferrerID"]
            if referrers and i % 3 == 0
            else "",
            "CoordinatorID": coordinators[i % len(coordinators)]["CoordinatorID"]
            if coordinators and i % 5 == 0
            else "",
            "HomeClinicID": clinics[i % len(clinics)]["ClinicID"],
            "Alerts": "",
            "SMSConsent": rng.choice(["Yes", "No"]),
            "Archived": 1 if i % 50 == 49 else 0,
            "CreatedTS": "01/15/2015 09:30:00",
            "ModifiedTS": "06/01/2024 10:00:00",
        }
        if record["FundingType"] == "NDIS":
            record["NDISNo"] = f"43{rng.randint(1_000_000, 9_999_999)}"
        clients.append(record)
    # Dirty clients, always present (the first few rows are rewritten).
    dirties = [
        ("empty_dob", {"DOB": ""}),
        ("zero_dob", {"DOB": "00/00/0000"}),
        ("impossible_dob", {"DOB": "02/30/1975"}),
        ("two_digit_year", {"DOB": "03/14/75"}),
        ("future_dob", {"DOB": _fm_date(today + dt.timedelta(days=400))}),
        ("phone_spaces", {"Mobile": "0412 345 678"}),
        ("phone_brackets", {"Mobile": "(02) 9876 5432"}),
        ("phone_plus", {"Mobile": "+61412345611"}),
        ("phone_61", {"Mobile": "61412345612"}),
        ("phone_no_zero", {"Mobile": "412345613"}),
        ("phone_text", {"Mobile": "ring mum first"}),
        ("medicare_spaces", {"MedicareNo": "{spaced}"}),
        ("medicare_bad_check", {"MedicareNo": "{bad}"}),
        ("ndis_wrong_length", {"NDISNo": "4312345", "FundingType": "NDIS"}),
        ("no_last_name", {"LastName": ""}),
        ("dva_spaced", {"DVANo": "nx 123 456", "FundingType": "DVA"}),
        ("dva_made_up", {"DVANo": "ZZZZ", "FundingType": "DVA"}),
        ("dob_before_1900", {"DOB": "12/31/1899"}),
    ]
    for index, (kind, change) in enumerate(dirties):
        record = clients[index]
        for key, value in change.items():
            if value == "{spaced}":
                number = _medicare(rng)
                value = f"{number[:4]} {number[4:9]} {number[9]}"
            elif value == "{bad}":
                value = _medicare(rng, valid=False)
            record[key] = value
        mark(kind, record["ClientID"])
    # The same number on two patients; a duplicated patient (same name and DOB).
    clients[20]["Mobile"] = clients[21]["Mobile"] = "0400 111 222"
    mark("shared_phone", clients[20]["ClientID"])
    mark("shared_phone", clients[21]["ClientID"])
    twin = dict(clients[30], ClientID=f"CL{len(clients) + 1:06d}")
    clients[31] = {**twin, "ClientID": clients[31]["ClientID"]}
    mark("duplicate_client", clients[30]["ClientID"])
    mark("duplicate_client", clients[31]["ClientID"])
    good_clients = [c["ClientID"] for c in clients if c["LastName"]]

    types = ["Initial Consult", "initial consult ", "Standard Consult", "Review", "AT Assessment"]
    appointments = []
    base_day = today - dt.timedelta(days=700)
    for i in range(sizes["Appointments"]):
        prac = practitioners[i % len(practitioners)]
        day = base_day + dt.timedelta(days=(i // (len(practitioners) * 8)) % 900)
        slot = (i // len(practitioners)) % 8
        start = dt.time(8 + slot, 0)
        status = "Completed" if day < today else rng.choice(["Booked", "Confirmed"])
        if i % 17 == 0:
            status = rng.choice(["Cancelled", "DNA"])
        appointments.append(
            {
                "ApptID": f"AP{i + 1:07d}",
                "ClientID": good_clients[i % len(good_clients)],
                # A practitioner works at one clinic here, so one zone: no accidental overlaps.
                "PractitionerID": prac["PractitionerID"],
                "ClinicID": clinics[(i % len(practitioners)) % len(clinics)]["ClinicID"],
                "ApptDate": _fm_date(day),
                "StartTime": start.strftime("%H:%M:%S"),
                "Duration": rng.choice([30, 45, "45"]),
                "ApptType": types[i % len(types)],
                "Status": status,
                "CancelReason": "Unwell" if status == "Cancelled" else "",
                "Notes": "",
                "ModifiedTS": "06/01/2024 10:00:00",
            }
        )
    # Orphans, double bookings (one past, one future), daylight-saving edge times.
    appointments[0]["ClientID"] = "CL-GONE"
    mark("orphan_appointment_client", appointments[0]["ApptID"])
    appointments[1]["PractitionerID"] = "PR-GONE"
    mark("orphan_appointment_practitioner", appointments[1]["ApptID"])
    past = dict(
        appointments[2],
        ApptID=appointments[3]["ApptID"],
        Status="Completed",
        ClientID=good_clients[5],
        ApptDate=appointments[2]["ApptDate"],
    )
    appointments[3] = past
    appointments[2]["Status"] = "Completed"
    mark("double_booking_past", appointments[3]["ApptID"])
    future_day = _fm_date(today + dt.timedelta(days=30))
    for index in (4, 5):
        appointments[index].update(
            ApptDate=future_day,
            StartTime="10:00:00",
            Status="Booked",
            PractitionerID="PR001",
            ClinicID="CLN002",
            Duration=30,
        )
    mark("double_booking_future", appointments[5]["ApptID"])
    sydney_clinic = "CLN002"  # Australia/Sydney
    appointments[6].update(
        ClinicID=sydney_clinic, ApptDate="10/04/2026", StartTime="02:30:00", PractitionerID="PR013"
    )
    mark("nonexistent_local_time", appointments[6]["ApptID"])
    appointments[7].update(
        ClinicID=sydney_clinic, ApptDate="04/05/2026", StartTime="02:30:00", PractitionerID="PR013"
    )
    mark("ambiguous_local_time", appointments[7]["ApptID"])

    notes = []
    note_types = ["Progress", "Initial Assessment", "AT Report", "Letter"]
    for i in range(sizes["ClinicalNotes"]):
        signed = i % 3 != 0
        notes.append(
            {
                "NoteID": f"NT{i + 1:07d}",
                "ClientID": good_clients[i % len(good_clients)],
                "ApptID": appointments[(i + 10) % len(appointments)]["ApptID"] if i % 2 else "",
                "PractitionerID": practitioners[i % len(practitioners)]["PractitionerID"],
                "NoteDate": "03/02/2025 14:05:00",
                "NoteType": note_types[i % len(note_types)],
                "NoteText": f"S: sore heel\r\nO:\tgait reviewed, 5° valgus — plan “orthotics” #{i}",
                "Signed": "Yes" if signed else "No",
                "SignedTS": "03/02/2025 15:00:00" if signed else "",
            }
        )
    notes[0].update(PractitionerID="", Signed="Yes")
    mark("signed_without_author", notes[0]["NoteID"])
    notes[1]["NoteText"] = "Long history. " * 8_000  # > 100 kB
    mark("long_note", notes[1]["NoteID"])
    notes[2]["ClientID"] = "CL-GONE"
    mark("orphan_note_client", notes[2]["NoteID"])
    notes[3]["PractitionerID"] = "PR-GONE"
    mark("orphan_note_practitioner", notes[3]["NoteID"])

    documents, files = [], {}
    kinds = [
        ("report.pdf", PDF, "application/pdf"),
        ("photo.png", PNG, "image/png"),
        ("letter.doc", DOC, "application/msword"),
        ("letter.rtf", RTF, "application/rtf"),
    ]
    for i in range(sizes["Documents"]):
        name, content, ctype = kinds[i % 2]  # mostly allowed formats
        content = content + f"\n% doc {i}\n".encode()  # distinct bytes per document
        token = hashlib.sha256(f"doc{i}".encode()).hexdigest()[:32].upper()
        files[token] = (content, ctype)
        documents.append(
            {
                "DocID": f"DC{i + 1:07d}",
                "ClientID": good_clients[i % len(good_clients)],
                "Category": rng.choice(
                    ["Referral", "Report", "Image", "Consent", "Letter", "Other"]
                ),
                "Description": f"Document {i + 1}",
                "FileName": name,
                "File": f"{token}.{name.rsplit('.', 1)[1]}",
                "CreatedTS": "05/06/2023 11:00:00",
            }
        )
    documents[0]["File"] = ""
    mark("empty_container", documents[0]["DocID"])
    files.pop(documents[1]["File"].split(".")[0])
    mark("missing_bytes", documents[1]["DocID"])
    for index, (name, content, ctype) in ((2, kinds[2]), (3, kinds[3])):
        token = documents[index]["File"].split(".")[0]
        files[token] = (content, ctype)
        documents[index].update(FileName=name, File=f"{token}.{name.rsplit('.', 1)[1]}")
        mark("legacy_format", documents[index]["DocID"])
    # The same file filed twice for one client.
    documents[5].update(ClientID=documents[4]["ClientID"])
    files[documents[5]["File"].split(".")[0]] = files[documents[4]["File"].split(".")[0]]
    mark("identical_file", documents[5]["DocID"])

    layouts = {
        "Clinics": clinics,
        "Practitioners": practitioners,
        "Referrers": referrers,
        "Coordinators": coordinators,
        "Clients": clients,
        "Appointments": appointments,
        "ClinicalNotes": notes,
        "Documents": documents,
    }
    for name, rows in layouts.items():
        rows.sort(key=lambda r, k=KEYS[name]: r[k])
    return Practice(layouts, files, dirty)


def _certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-filemaker")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _fm_ts(text: str) -> dt.datetime | None:
    for fmt in ("%m/%d/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - FileMaker has no zone
        except ValueError:
            continue
    return None


class FakeFileMaker(FakeServer):
    def __init__(self, practice: Practice, *, odata_page: int = ODATA_PAGE) -> None:
        self.practice = practice
        self.odata_page = odata_page
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        # Called with the number of record-page requests so far; a test kills the importer.
        self.on_page: Callable[[int], None] | None = None
        self.pages = 0
        # The same for container downloads (document bytes), counted apart from pages.
        self.on_container: Callable[[int], None] | None = None
        self.containers = 0
        # Layout -> records FileMaker claims beyond those it serves (a count that lies).
        self.found_bonus: dict[str, int] = {}
        self._dir = tempfile.TemporaryDirectory()
        self.ca_file, key = _certificate(Path(self._dir.name))
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(self.ca_file, key)

    @classmethod
    def start(cls, practice: Practice | None = None, **kwargs: Any) -> "FakeFileMaker":
        fake = cls(practice or generate_practice(), **kwargs)
        return fake.serve(_handler(fake), tls=fake._tls)

    def stop(self) -> None:
        super().stop()
        self._dir.cleanup()

    def env(self) -> dict[str, str]:
        return {
            "FILEMAKER_URL": self.url,
            "FILEMAKER_DATABASE": DATABASE,
            "FILEMAKER_USERNAME": USERNAME,
            "FILEMAKER_PASSWORD": PASSWORD,
            "FILEMAKER_CA_BUNDLE": str(self.ca_file),
        }

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def page_served(self) -> None:
        with self.lock:
            self.pages += 1
            count = self.pages
        if self.on_page is not None:
            self.on_page(count)

    def container_served(self) -> None:
        with self.lock:
            self.containers += 1
            count = self.containers
        if self.on_container is not None:
            self.on_container(count)


def _basic_ok(header: str) -> bool:
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return secrets.compare_digest(user, USERNAME) and secrets.compare_digest(password, PASSWORD)


def _handler(fake: FakeFileMaker) -> type[BaseHTTPRequestHandler]:
    practice = fake.practice

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a kept-alive connection
        # waits for the client's delayed ACK (~40 ms) before the body of every response.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        # -- helpers ------------------------------------------------------------
        def _send(
            self,
            status: int,
            body: bytes,
            ctype: str = "application/json",
            headers: dict | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _fm(
            self,
            status: int,
            code: str,
            message: str,
            response: dict | None = None,
            headers: dict | None = None,
        ) -> None:
            body = {"response": response or {}, "messages": [{"code": code, "message": message}]}
            self._send(status, json.dumps(body).encode(), headers=headers)

        def _json_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            return json.loads(raw) if raw else {}

        def _token_ok(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in fake.tokens:
                return True
            self._fm(401, "952", "Invalid FileMaker Data API token (*)")
            return False

        def _layout(self, name: str) -> list[dict[str, Any]] | None:
            rows = practice.layouts.get(name)
            if rows is None:
                self._fm(500, "105", "Layout is missing")
            return rows

        def _streaming(self, row: dict[str, Any], layout: str) -> dict[str, Any]:
            out = dict(row)
            for fieldname in CONTAINERS.get(layout, ()):  # a container: its streaming URL
                if out.get(fieldname):
                    out[fieldname] = (
                        f"{fake.url}/Streaming_SSL/MainDB/{out[fieldname]}?RCType=EmbeddedRCFileProcessor"
                    )
            return out

        def _foundset(
            self, layout: str, rows: list[dict[str, Any]], offset: int, limit: int, total: int
        ) -> None:
            page = rows[offset - 1 : offset - 1 + limit]
            if not page:
                fake.page_served()
                self._fm(500, "401", "No records match the request")
                return
            start = offset
            data = [
                {
                    "fieldData": self._streaming(r, layout),
                    "portalData": {},
                    "recordId": str(start + i),
                    "modId": "1",
                }
                for i, r in enumerate(page)
            ]
            info = {
                "database": DATABASE,
                "layout": layout,
                "table": layout,
                "totalRecordCount": len(practice.layouts[layout]),
                "foundCount": total + fake.found_bonus.get(layout, 0),
                "returnedCount": len(page),
            }
            fake.page_served()
            self._fm(200, "0", "OK", {"dataInfo": info, "data": data})

        @staticmethod
        def _sorted(rows: list[dict[str, Any]], sort: Any, layout: str) -> list[dict[str, Any]]:
            if not sort:
                return rows
            if isinstance(sort, str):
                sort = json.loads(sort)
            for rule in reversed(sort):
                name = rule["fieldName"]
                if name == KEYS[layout]:
                    rows = rows if rule.get("sortOrder", "ascend") == "ascend" else rows[::-1]
                else:
                    rows = sorted(
                        rows,
                        key=lambda r, n=name: str(r.get(n, "")),
                        reverse=rule.get("sortOrder") == "descend",
                    )
            return rows

        # -- routes -------------------------------------------------------------
        def do_POST(self) -> None:
            with fake.lock:
                fake.requests.append(("POST", self.path))
            parts = urlsplit(self.path).path.strip("/").split("/")
            if parts[:2] == ["fmi", "data"] and len(parts) >= 6 and parts[5] == "sessions":
                self._json_body()
                if not _basic_ok(self.headers.get("Authorization", "")):
                    self._fm(401, "212", "Invalid user account and/or password; please try again")
                    return
                token = secrets.token_hex(26)
                with fake.lock:
                    fake.tokens.add(token)
                self._fm(
                    200, "0", "OK", {"token": token}, headers={"X-FM-Data-Access-Token": token}
                )
                return
            if parts[:2] == ["fmi", "data"] and len(parts) == 8 and parts[7] == "_find":
                if not self._token_ok():
                    return
                rows = self._layout(unquote(parts[6]))
                if rows is None:
                    return
                body = self._json_body()
                matched = [
                    r for r in rows if any(self._matches(r, q) for q in body.get("query", []))
                ]
                matched = self._sorted(matched, body.get("sort"), unquote(parts[6]))
                offset, limit = int(body.get("offset", 1)), int(body.get("limit", 100))
                self._foundset(unquote(parts[6]), matched, offset, limit, len(matched))
                return
            self._fm(404, "3", "Unsupported action")

        @staticmethod
        def _matches(row: dict[str, Any], query: dict[str, Any]) -> bool:
            for name, wanted in query.items():
                if name == "omit":
                    continue
                value = str(row.get(name, ""))
                if isinstance(wanted, str) and wanted.startswith(">"):
                    left, right = _fm_ts(value), _fm_ts(wanted.lstrip(">="))
                    if (
                        left is None
                        or right is None
                        or not (left >= right if wanted.startswith(">=") else left > right)
                    ):
                        return False
                elif value != str(wanted).lstrip("="):
                    return False
            return True

        def do_DELETE(self) -> None:
            parts = urlsplit(self.path).path.strip("/").split("/")
            if parts[:2] == ["fmi", "data"] and len(parts) == 7 and parts[5] == "sessions":
                with fake.lock:
                    fake.tokens.discard(parts[6])
                self._fm(200, "0", "OK")
                return
            self._fm(404, "3", "Unsupported action")

        def do_GET(self) -> None:
            with fake.lock:
                fake.requests.append(("GET", self.path))
            split = urlsplit(self.path)
            parts = split.path.strip("/").split("/")
            if parts[:2] == ["Streaming_SSL", "MainDB"]:
                fake.container_served()
                stored = practice.files.get(parts[2].split(".")[0])
                if stored is None:
                    self._send(404, b"Not Found", "text/plain")
                else:
                    self._send(200, stored[0], stored[1])
                return
            if parts[:2] == ["fmi", "data"] and len(parts) == 8 and parts[7] == "records":
                if not self._token_ok():
                    return
                layout = unquote(parts[6])
                rows = self._layout(layout)
                if rows is None:
                    return
                params = dict(p.split("=", 1) for p in split.query.split("&") if "=" in p)
                params = {k: unquote(v.replace("+", " ")) for k, v in params.items()}
                rows = self._sorted(rows, params.get("_sort"), layout)
                self._foundset(
                    layout,
                    rows,
                    int(params.get("_offset", 1)),
                    int(params.get("_limit", 100)),
                    len(rows),
                )
                return
            if parts[:3] == ["fmi", "odata", "v4"]:
                self._odata(split.query, parts[3:])
                return
            self._send(404, b"Not Found", "text/plain")

        # -- OData --------------------------------------------------------------
        def _odata_error(self, status: int, code: str, message: str) -> None:
            self._send(status, json.dumps({"error": {"code": code, "message": message}}).encode())

        def _odata(self, query: str, parts: list[str]) -> None:
            if not _basic_ok(self.headers.get("Authorization", "")):
                self._odata_error(401, "401", "Unauthorized")
                return
            if "%24" in query.upper():
                # FileMaker ignores percent-encoded system options; the fake refuses them
                # so a client that sends them fails loudly here.
                self._odata_error(400, "-1002", "System query options must use a literal $")
                return
            if not parts or unquote(parts[0]) != DATABASE:
                self._odata_error(404, "-1024", "Database not found")
                return
            base = f"{fake.url}/fmi/odata/v4/{DATABASE}"
            if len(parts) == 1:
                value = [{"name": n, "kind": "EntitySet", "url": n} for n in practice.layouts]
                self._send(
                    200,
                    json.dumps({"@odata.context": f"{base}/$metadata", "value": value}).encode(),
                )
                return
            entity = unquote(parts[1])
            if "(" in entity:  # Layout('key')/Field/$value
                layout, _, rest = entity.partition("(")
                key = rest.rstrip(")").strip("'").replace("''", "'")
                rows = practice.layouts.get(layout)
                row = next((r for r in rows or [] if r[KEYS[layout]] == key), None)
                if row is None or len(parts) != 4 or parts[3] != "$value":
                    self._odata_error(404, "-1024", "Not found")
                    return
                token = str(row.get(unquote(parts[2]), ""))
                if not token:
                    self._send(204, b"")
                    return
                stored = practice.files.get(token.split(".")[0])
                if stored is None:
                    self._odata_error(404, "-1024", "Container data not found")
                    return
                self._send(200, stored[0], stored[1])
                return
            rows = practice.layouts.get(entity)
            if rows is None:
                self._odata_error(404, "-1024", "Table not found")
                return
            options = {}
            for pair in filter(None, query.split("&")):
                name, _, value = pair.partition("=")
                options[name] = unquote(value)
            if "$filter" in options:
                name, _op, value = options["$filter"].split(" ", 2)
                limit_ts = _fm_ts(value)
                rows = [
                    r
                    for r in rows
                    if (ts := _fm_ts(str(r.get(name, "")))) and limit_ts and ts > limit_ts
                ]
            if len(parts) == 3 and parts[2] == "$count":
                self._send(200, str(len(rows)).encode(), "text/plain")
                return
            if "$orderby" in options and options["$orderby"].split(" ")[0] != KEYS[entity]:
                rows = sorted(rows, key=lambda r: str(r.get(options["$orderby"].split(" ")[0], "")))
            skip = int(options.get("$skip", 0))
            top = int(options.get("$top", len(rows)))
            page_size = min(top, fake.odata_page)
            page = rows[skip : skip + page_size]
            hidden = CONTAINERS.get(entity, ())
            body: dict[str, Any] = {
                "@odata.context": f"{base}/$metadata#{entity}",
                "value": [{k: v for k, v in r.items() if k not in hidden} for r in page],
            }
            if options.get("$count") == "true":
                body["@odata.count"] = len(rows)
            remaining = top - len(page)
            if remaining > 0 and skip + len(page) < len(rows):
                next_options = dict(
                    options, **{"$skip": str(skip + len(page)), "$top": str(remaining)}
                )
                body["@odata.nextLink"] = f"{base}/{entity}?" + "&".join(
                    f"{k}={v.replace(' ', '%20')}" for k, v in next_options.items()
                )
            fake.page_served()
            self._send(200, json.dumps(body).encode())

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Serve a generated practice as a fake FileMaker Server."
    )
    parser.add_argument("--full", action="store_true", help="The full 55,758-record practice.")
    args = parser.parse_args()
    fake = FakeFileMaker.start(generate_practice(FULL_SIZE if args.full else None))
    print(json.dumps(fake.env()), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
