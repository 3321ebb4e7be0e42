"""Malware scanning of uploads with ClamAV's daemon (security.md R30, issue 12 item 9).

When NEXUS_CLAMAV_SOCKET is set (`/run/clamav/clamd.ctl`, `unix:///run/clamav/clamd.ctl` or
`tcp://127.0.0.1:3310`), every upload is streamed to clamd with the INSTREAM command before
it is stored. A scanner that cannot be reached or answers with an error refuses the upload
(503): nothing unscanned is kept.
"""

import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from nexus.errors import DomainError

CHUNK = 64 * 1024
TIMEOUT_SECONDS = 30.0


class ScannerUnavailable(DomainError):
    status_code = 503
    code = "scanner_unavailable"
    default_detail = "The virus scanner is not available; please try the upload again shortly."


@dataclass(frozen=True)
class ScanResult:
    infected: bool
    signature: str = ""


def _connect(address: str) -> socket.socket:
    parsed = urlparse(address)
    if parsed.scheme == "tcp":
        return socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 3310), timeout=TIMEOUT_SECONDS
        )
    path = parsed.path if parsed.scheme == "unix" else address
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT_SECONDS)
    sock.connect(path)
    return sock


def scan_upload(upload: UploadedFile) -> ScanResult:
    """Scan with clamd if configured; clean when no scanner is configured."""
    address = settings.NEXUS_CLAMAV_SOCKET
    if not address:
        return ScanResult(infected=False)
    try:
        with _connect(address) as sock:
            sock.sendall(b"zINSTREAM\0")
            upload.seek(0)
            for chunk in upload.chunks(CHUNK):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
    except OSError as exc:
        raise ScannerUnavailable() from exc
    finally:
        upload.seek(0)
    answer = reply.rstrip(b"\0").decode(errors="replace").strip()
    # "stream: OK" | "stream: <signature> FOUND" | "... ERROR"
    if answer.endswith("FOUND"):
        signature = answer.removeprefix("stream:").removesuffix("FOUND").strip()
        return ScanResult(infected=True, signature=signature[:100])
    if answer.endswith("OK"):
        return ScanResult(infected=False)
    raise ScannerUnavailable()
