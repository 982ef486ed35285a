"""Who may read /metrics: whoever sends the operator's token, or comes from a network the operator named."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from config.ratelimit import client_address

REFUSED = (
    "Metrics are for the operator: send PODIUM_METRICS_TOKEN as 'Authorization: Bearer <token>', "
    "or ask from an address in PODIUM_METRICS_NETWORKS."
)


def metrics_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of PODIUM_METRICS_NETWORKS ("127.0.0.1/32, 10.0.0.0/8"); ImproperlyConfigured naming a bad one."""
    networks = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"PODIUM_METRICS_NETWORKS: {part!r} is not a network like 10.0.0.0/8") from None
    return networks


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether `request` carries the metrics token, or comes from one of the metrics networks."""
    token = settings.PODIUM_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address(request.META))
    except ValueError:
        return False
    return any(address in network for network in metrics_networks(settings.PODIUM_METRICS_NETWORKS))
