"""Domain errors with names a support team would understand."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """AWS failed (throttled, 5xx, unreachable): nothing half-written; the caller should retry."""


class ErasureIncomplete(StoreUnavailable):
    """AWS did not take every deletion of an erasure (a throttled table), even after retries:
    answered 503 with this reason, never audited as done. What is left is found again by the
    same request, retried."""

    def __init__(self, left: int, total: int) -> None:
        super().__init__(f"erasure incomplete: {left} of {total} items are not deleted yet; "
                         "retry the request")
        self.left, self.total = left, total


class QueueUnavailable(StoreUnavailable):
    """The queue could not take the message; the delivery must be retried."""


class NotConfigured(Exception):
    """A credential the request needs is not filled in yet (answered 503 with this reason: the
    platform retries, and an operator can tell what to set)."""


class NotFound(LookupError):
    """What was asked for does not exist: answered 404."""


class ConversationNotFound(NotFound):
    pass


class ReplyRefused(Exception):
    """A platform rule forbids this reply (answered 409 with the reason)."""


class IdempotencyKeyReused(ReplyRefused):
    """An Idempotency-Key already used for a different reply (answered 409 with the reason)."""


class BadPlatformId(ReplyRefused):
    """A stored platform id is not of the platform's shape: no request is made with it."""


class Unauthorized(Exception):
    """The request is not signed (or authenticated) as it must be: answered 401."""


class Forbidden(Exception):
    """Authenticated, but not allowed to do this: answered 403."""


class PayloadTooLarge(Exception):
    """The body is over the size limit: answered 413, nothing read or written."""


class BadRequest(ValueError):
    """The request is not of the expected shape: answered 400 with this reason."""


class PlatformFailed(Exception):
    """The platform did not take the reply (after bounded retries): answered 502."""

    def __init__(self, channel: str, detail: str) -> None:
        super().__init__(f"{channel}: {detail}")
        self.channel = channel


class ReplyMaybeSent(Exception):
    """The platform took the post but gave no clear answer (a read timeout, a 5xx, a dropped
    connection): the reply may be out. Never resent; the platform's echo settles it. Answered
    504 after a timeout, 502 otherwise."""

    def __init__(self, channel: str, detail: str, *, timed_out: bool = False) -> None:
        super().__init__(f"{channel}: {detail}: the reply may have been sent; it is not sent "
                         "again, and the platform's echo of it will settle it")
        self.channel, self.detail, self.timed_out = channel, detail, timed_out


class PlatformRefused(ReplyRefused):
    """The platform refused this one reply (duplicate content, a restricted reply, outside the
    messaging window...): answered 409 with the platform's reason; the channel is fine."""

    def __init__(self, channel: str, detail: str) -> None:
        super().__init__(f"{channel}: {detail}")
        self.channel = channel


class ChannelAuthFailed(PlatformFailed):
    """The platform says our token is expired or revoked: the channel needs attention."""


class MalformedPayload(ValueError):
    """The body is not of the platform's shape: answered 400 with this reason, nothing written."""


class VersionConflict(Exception):
    """Another writer changed the conversation since it was read: reload and try again."""


class AlertInFlight(Exception):
    """Another sender holds this alert's claim and its lease is not over: try again later (if
    that sender dies mid-send, its lease runs out and the retry sends)."""
