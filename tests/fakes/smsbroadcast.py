"""A local stand-in for SMS Broadcast's Advanced HTTP API (integrations.md §1).

`POST|GET /api-adv.php` checks the API key's username and password, answers one
`OK: 61…:<smsref>` or `BAD:<raw>:Invalid Number` line per comma-separated recipient, and
`ERROR: <reason>` for a refused request, all with HTTP 200 as the real service does. Tests
switch it to answer ERROR, to time out, or to answer 5xx, and it can call a Nexus webhook
back the way SMS Broadcast does (a GET with to/ref/smsref/status, or to/from/message/ref).
Binds 127.0.0.1 on a free port (§8.7). Usable from another process too: the real-worker
test points a Celery worker at it.
"""

import itertools
import re
import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.fakes._server import FakeServer

USERNAME = "nexus-api-key"
PASSWORD = "nexus-api-secret"
_MOBILE = re.compile(r"^(?:614\d{8}|04\d{8}|4\d{8})$")


@dataclass
class FakeSmsBroadcast(FakeServer):
    # What the fake does with the next sends: "ok", "error" (ERROR: line), "5xx", "timeout".
    mode: str = "ok"
    # Numbers (61… form) the network rejects with BAD although well-formed.
    bad_numbers: set[str] = field(default_factory=set)
    # How long each send takes, to let a test kill a worker in the middle of a run.
    delay: float = 0.0
    sent: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(2942263))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _release: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls) -> "FakeSmsBroadcast":
        return cls().serve(_Handler)

    def stop(self) -> None:
        self._release.set()  # Any request held by "timeout" returns first.
        super().stop()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api-adv.php"

    def reset(self) -> None:
        with self._lock:
            self.mode, self.bad_numbers, self.delay = "ok", set(), 0.0
            self.sent, self.requests = [], 0
        # Any request held by "timeout" returns now.
        self._release.set()
        self._release = threading.Event()

    def refs(self) -> Counter[str]:
        with self._lock:
            return Counter(item["ref"] for item in self.sent)

    def settings(self) -> dict[str, Any]:
        """The Django settings that point Nexus at this fake."""
        return {
            "SMSBROADCAST_API_URL": self.api_url,
            "SMSBROADCAST_USERNAME": USERNAME,
            "SMSBROADCAST_PASSWORD": PASSWORD,
            "SMSBROADCAST_FROM": "Nexus",
            "SMSBROADCAST_TIMEOUT_SECONDS": 2.0,
        }

    # The provider calling Nexus back (§1.5, §1.6): a GET with query parameters.
    def call_status(self, url: str, *, ref: str, status: str, to: str, smsref: str = "") -> str:
        return _get(url, {"to": to, "ref": ref, "smsref": smsref or "1", "status": status})

    def call_inbound(self, url: str, *, sender: str, message: str, ref: str = "") -> str:
        params = {"to": "61400000000", "from": sender, "message": message}
        if ref:
            params["ref"] = ref
        return _get(url, params)

    def _answer(self, form: dict[str, str]) -> tuple[int, str]:
        if form.get("username") != USERNAME or form.get("password") != PASSWORD:
            return 200, "ERROR: Username or password is incorrect"
        if form.get("action") == "balance":
            return 200, "OK: 5000"
        with self._lock:
            self.requests += 1
            mode = self.mode
        if mode == "timeout":
            self._release.wait(timeout=30)
            return 200, "ERROR: timed out"
        if mode == "5xx":
            return 503, "Service Unavailable"
        if mode == "error":
            return 200, "ERROR: Insufficient credits"
        message = form.get("message", "")
        if len(message) > 160 * int(form.get("maxsplit", "1") or 1):
            return 200, "ERROR: Message too long for maxsplit"
        if self.delay:
            self._release.wait(timeout=self.delay)
        lines = []
        for raw in form.get("to", "").split(","):
            number = raw.strip()
            if not _MOBILE.match(number) or number in self.bad_numbers:
                lines.append(f"BAD:{number}:Invalid Number")
                continue
            normalised = "61" + number[1:] if number.startswith("0") else number
            normalised = "61" + normalised if normalised.startswith("4") else normalised
            smsref = next(self._ids)
            with self._lock:
                self.sent.append(
                    {
                        "to": normalised,
                        "from": form.get("from", ""),
                        "message": message,
                        "ref": form.get("ref", ""),
                        "maxsplit": form.get("maxsplit", ""),
                        "smsref": str(smsref),
                    }
                )
            lines.append(f"OK: {normalised}:{smsref}")
        return 200, "\n".join(lines) + "\n"


def _get(url: str, params: dict[str, str]) -> str:
    with urllib.request.urlopen(f"{url}?{urlencode(params)}", timeout=10) as response:  # noqa: S310
        return response.read().decode()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSmsBroadcast

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(parse_qs(urlparse(self.path).query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(parse_qs(self.rfile.read(length).decode()))

    def _handle(self, query: dict[str, list[str]]) -> None:
        if urlparse(self.path).path != "/api-adv.php":
            self.send_error(404)
            return
        form = {key: values[0] for key, values in query.items()}
        status, body = self.fake._answer(form)
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The client gave up (a timeout test).
