"""The only code that speaks SMS Broadcast's Advanced HTTP API (integrations.md §1).

POST form-encoded to api-adv.php; the answer is plain text, one line per recipient:
`OK: 61400111222:2942263`, `BAD:0400abc111:Invalid Number`, or a single
`ERROR: <reason>` for the whole request, all with HTTP 200.
"""

import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from integrations.transports import TransportError

SINGLE_PART = 160
# A long message travels in 153-character parts (7 go to the joining header).
PART = 153
MAX_PARTS = 5
MAX_LENGTH = PART * MAX_PARTS
MAX_REF = 20


def sms_parts(body: str) -> int:
    """How many SMS parts a text takes (what the provider bills)."""
    if len(body) <= SINGLE_PART:
        return 1
    return math.ceil(len(body) / PART)


def provider_number(e164: str) -> str:
    """`+61412345678` → `61412345678`: international form without the plus (§1.2)."""
    return e164.removeprefix("+")


@dataclass(frozen=True)
class SmsBroadcastClient:
    api_url: str
    username: str
    password: str
    sender: str = ""
    timeout: float = 10.0

    def send(self, *, to: str, message: str, ref: str) -> str:
        """Send one message; answer SMS Broadcast's own reference for it (`smsref`)."""
        if not 1 <= len(ref) <= MAX_REF:
            raise TransportError(f"ref must be 1-{MAX_REF} characters", permanent=True)
        parts = sms_parts(message)
        if parts > MAX_PARTS:
            raise TransportError(
                f"Message is {len(message)} characters; the most is {MAX_LENGTH}", permanent=True
            )
        fields = {
            "username": self.username,
            "password": self.password,
            "to": to,
            "from": self.sender,
            "message": message,
            "ref": ref,
            "maxsplit": str(parts),
        }
        return parse_send_response(self._post(fields))

    def balance(self) -> int:
        body = self._post(
            {"action": "balance", "username": self.username, "password": self.password}
        )
        status, _, rest = body.strip().partition(":")
        if status.strip().upper() != "OK":
            raise TransportError(f"SMS Broadcast: {rest.strip() or body[:100]}", permanent=False)
        return int(rest.strip())

    def _post(self, fields: dict[str, str]) -> str:
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise TransportError("SMSBROADCAST_API_URL must be http(s)", permanent=True)
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            self.api_url,
            data=urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return str(response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            # 5xx and throttling are worth another try; other 4xx will not change.
            retry = error.code >= 500 or error.code in (408, 429)
            raise TransportError(f"SMS Broadcast HTTP {error.code}", permanent=not retry) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TransportError(
                f"SMS Broadcast unreachable: {type(reason).__name__}", permanent=False
            ) from None


def parse_send_response(body: str) -> str:
    """The `smsref` of the one recipient, or TransportError saying whether to retry.

    Spacing after the colons varies (`OK: 614…` vs `BAD:0400…`), so split on ':' and strip.
    """
    for line in body.splitlines():
        if not line.strip():
            continue
        status = line.split(":", 1)[0].strip().upper()
        if status == "OK":
            parts = [part.strip() for part in line.split(":", 2)]
            if len(parts) == 3 and parts[2]:
                return parts[2]
        elif status == "BAD":
            parts = [part.strip() for part in line.split(":", 2)]
            reason = parts[2] if len(parts) == 3 else "rejected"
            raise TransportError(f"SMS Broadcast refused the number: {reason}", permanent=True)
        elif status == "ERROR":
            # The whole request was refused (credentials, balance, outage): retried with
            # backoff, so a fixed account or a topped-up balance sends the backlog.
            reason = line.split(":", 1)[1].strip()
            raise TransportError(f"SMS Broadcast error: {reason}"[:300], permanent=False)
    raise TransportError("SMS Broadcast gave an answer Nexus could not read", permanent=False)
