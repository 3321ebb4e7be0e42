"""What every vendor's sending code shares: one error type and one registry.

A transport turns an outbox `Message` into a call to a provider and answers the provider's
reference, or raises `TransportError` saying whether trying again could help. The outbox
(integrations/outbox.py) owns retries, states and audit; a vendor only speaks its protocol.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable

from integrations.models import Message


class TransportError(Exception):
    """A send that did not happen. `permanent` failures (an invalid number, a refused
    sender) are recorded at once; the others are retried with backoff."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        hold: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.permanent = permanent
        # Nothing to do until a person acts (a Gmail account to reconnect): the row waits,
        # queued with its reason and no next attempt, and is released when they do.
        self.hold = hold
        # The provider said when to come back (a 429's Retry-After): never sooner.
        self.retry_after = retry_after


class Transport(ABC):
    channel: str

    @abstractmethod
    def send(self, message: Message) -> str:
        """Hand the message to the provider; return the provider's reference for it."""


_REGISTRY: dict[str, Callable[[], Transport]] = {}


def register(channel: str) -> Callable[[Callable[[], Transport]], Callable[[], Transport]]:
    def decorator(factory: Callable[[], Transport]) -> Callable[[], Transport]:
        _REGISTRY[channel] = factory
        return factory

    return decorator


def transport_for(channel: str) -> Transport:
    """The transport configured for a channel; built per call so settings changes apply."""
    # Vendors register themselves when imported; import them here, not at module load,
    # so the registry has no import cycle with the vendors' own modules.
    import integrations.gmail.transport
    import integrations.smsbroadcast.transport
    import integrations.xero.transport  # noqa: F401

    try:
        factory = _REGISTRY[channel]
    except KeyError:
        raise TransportError(f"No transport for channel {channel!r}", permanent=True) from None
    return factory()
