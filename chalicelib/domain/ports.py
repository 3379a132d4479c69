"""The ports several services share, and the values adapters build for them.

Here: the messages the inbound worker and the agent API's reply write (`NewMessage`,
`SeenMessage`, with the customer's `CustomerProfile`; `Snapshot`, what the worker reads),
`ChannelLog` (the webhook, ingest, listening and the agent API write it), `ConversationStore`
(turns, acknowledge, alerting, the agent API), `AckLinks` (alerting issues the links,
acknowledge redeems them) and `AlertLog` (alerting and the sweeper). A port one service uses
sits next to that service, where its reader looks: services/ingest.py `Claims` and
`InboundQueue`, services/inbound.py `ConversationLog`, services/agent_api.py `ReplyLog`,
services/alerting.py `Notifier`, services/sms_failures.py `SentTexts`, and so on. The values
stay here even for one service, because the adapters that build them never import a service.

Adapters in chalicelib/adapters implement the protocols structurally; tests use the in-memory
fakes in tests/fakes.py, which satisfy the same protocols. The domain's errors they raise are in
domain/errors.py; how they store things (keys, items) is the adapters' own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.events import MessageEvent, Platform
from chalicelib.domain.facts import Facts


@dataclass(frozen=True)
class SeenMessage:
    """An applied message: its conversation and what triage needs of it."""

    conversation: str
    facts: Facts | None


@dataclass(frozen=True)
class CustomerProfile:
    platform: Platform
    user_id: str
    handle: str | None
    followers: int | None
    complaints: int  # turns this customer opened, across conversations
    first_seen: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """What a message needs read to join its conversation, read together (one or two
    requests, not one a thing). `erased_at` and `customer` are read only when asked for:
    `erasure_read`, `customer_read` say whether they were."""

    seen: SeenMessage | None  # None also when the seen check was not asked for
    thread: str  # the conversation the message joins
    conversation: Conversation | None
    erased_at: datetime | None = None  # the author's erasure, while its tombstone lasts
    erasure_read: bool = False
    customer: CustomerProfile | None = None  # the author's profile
    customer_read: bool = False


@dataclass(frozen=True)
class NewMessage:
    """Everything one accepted message writes; the conversation's write is the commit."""

    event: MessageEvent
    conversation: Conversation  # the state after this message
    expected_version: int | None  # None: the conversation must not exist yet
    outcome: Outcome
    received_at: datetime
    facts: Facts  # what the alarm needs, kept so a redelivery can finish it
    response_seconds: float | None = None


class ChannelLog(Protocol):
    """The traces the webhook and ingest leave for the channel watch (services/channel_watch.py
    implements it; the scheduled check reads them). Bookkeeping never fails a delivery, except
    `problem`: a revoke not recorded is retried by the platform."""

    def seen(self, channels: Iterable[str]) -> None:
        """Events arrived from these channels: the platform is calling."""
        ...

    def signature(self, channel: str, ok: bool) -> None:
        """A delivery's signature checked: a run of failures is a rotated secret."""
        ...

    def unsigned(self, channel: str) -> None:
        """A POST with no signature of the platform's shape: anyone's junk, counted apart."""
        ...

    def problem(self, channel: str, state: str, detail: str) -> None:
        """The platform's word on the channel (revoked, send_failed; a send healthy or not)."""
        ...

    def unknown_account(self, channel: str, account_id: str) -> None:
        """A delivery for an account the policies do not declare: stored nowhere, counted so a
        half-configured setup shows."""
        ...


class ConversationStore(Protocol):
    """Conversations as the SLA engine and the agent API see them."""

    def get(self, conversation_id: str) -> Conversation | None: ...

    def save(self, conversation: Conversation) -> None:
        """Write `conversation` if nobody changed it since it was read (its `version`);
        VersionConflict otherwise."""
        ...

    def recent(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """The last `limit` messages as (who, text), oldest first."""
        ...


@dataclass(frozen=True)
class AckGrant:
    """What an acknowledge link lets its agent do: acknowledge this turn, until it expires."""

    conversation: str
    turn: int
    agent: str
    expires_at: datetime


class AckLinks(Protocol):
    def issue(self, grant: AckGrant) -> str:
        """A short, signed token for the link `/ack/<token>`."""
        ...

    def redeem(self, token: str, now: datetime) -> AckGrant | None:
        """The grant, or None for a forged, unknown or expired token."""
        ...


class AlertLog(Protocol):
    def claim(self, alert_key: str, recipients: tuple[str, ...], at: datetime,
              lease: timedelta) -> frozenset[str] | None:
        """None if this alert was sent already; else the recipients who have it already (a
        retry after a failed publish sends only to the others), the claim held until
        `at + lease`. AlertInFlight while another sender's lease runs."""
        ...

    def release(self, alert_key: str) -> None:
        """Give up a claim whose send failed, so a retry may take it at once."""
        ...

    def status(self, alert_keys: list[str]) -> dict[str, str]:
        """"pending" or "sent" for each alert ever claimed among `alert_keys`."""
        ...

    def delivered(self, alert_key: str, agent: str) -> None: ...

    def sent(self, alert_key: str, at: datetime) -> None: ...

    def count_recent(self, agent: str, at: datetime) -> int:
        """Count one more alert for `agent` in the minute of `at`; the count so far."""
        ...
