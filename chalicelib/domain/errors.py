"""Domain errors with names a support team would understand."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """AWS failed (throttled, 5xx, unreachable): nothing half-written; the caller should retry."""


class QueueUnavailable(StoreUnavailable):
    """The queue could not take the message; the delivery must be retried."""


class ConversationNotFound(LookupError):
    pass


class ReplyRefused(Exception):
    """A platform rule forbids this reply (answered 409 with the reason)."""
