"""The client's address, as far as it can be trusted (rate limits, audit rows).

Behind a load balancer REMOTE_ADDR is the balancer, so every visitor would share one rate
limit; but X-Forwarded-For is whatever the client sent plus what each proxy appended, so
only the last NEXUS_TRUSTED_PROXY_COUNT entries are facts. With N trusted proxies the
client is the N-th address from the end. DRF's NUM_PROXIES and allauth's
ALLAUTH_TRUSTED_PROXY_COUNT read the same setting (nexus/settings.py).
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    count = settings.NEXUS_TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [
        address.strip()
        for address in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if address.strip()
    ]
    if len(forwarded) < count:
        # Not every trusted proxy added its entry: the request did not come the usual way.
        return remote
    return forwarded[-count]
