"""The client's address, as far as it can be trusted (rate limits, audit rows).

Behind a load balancer REMOTE_ADDR is the balancer, so every visitor would share one rate
limit; but X-Forwarded-For is whatever the client sent plus what each proxy appended, so
only the last NEXUS_TRUSTED_PROXY_COUNT entries are facts. With N trusted proxies the
client is the N-th address from the end. DRF's throttles (nexus/api/throttling.py),
allauth's rate limits (AccountAdapter.get_client_ip), the login lockout (axes) and the
audit trail all call this function.

With NEXUS_TRUSTED_PROXIES (networks, e.g. the load balancer's subnets) the header is
believed only from a peer inside them: a client that reaches the app some other way, with
whatever X-Forwarded-For it likes, is keyed on its own address.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _trusted_peer(remote: str) -> bool:
    networks = settings.NEXUS_TRUSTED_PROXIES
    if not networks:
        return True  # no list: every peer is the proxy (the count alone decides)
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    count = settings.NEXUS_TRUSTED_PROXY_COUNT
    if count <= 0 or not _trusted_peer(remote):
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
