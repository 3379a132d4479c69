"""In-memory fakes of the ports, with the same atomic semantics as the real adapters."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import (
    AlertInFlight,
    QueueUnavailable,
    VersionConflict,
)
from chalicelib.domain.events import Channel, MessageDeleted, MessageEvent, Platform
from chalicelib.domain.facts import Facts
from chalicelib.domain.ports import CustomerProfile, NewMessage, SeenMessage, Snapshot


class FakeMessageTable:
    """The ingest path's items, shared by the three fakes below as the one table is by the
    adapters. Its commit is atomic where the adapters' is several writes (the conversation's
    versioned put decides in both)."""

    def __init__(self) -> None:
        self.conversations: dict[tuple[Platform, str], Conversation] = {}
        self.messages: dict[tuple[Platform, str], dict[str, Any]] = {}
        self.applied: dict[tuple[Platform, str], SeenMessage] = {}
        self.tweets: dict[str, str] = {}
        self.customers: dict[tuple[Platform, str], CustomerProfile] = {}
        self.turns: dict[tuple[str, int], dict[str, Any]] = {}
        self.accepted: dict[tuple[Platform, str], datetime] = {}  # agents' replies' claims
        self.elsewhere: set[tuple[Platform, str]] = set()
        self.erased: dict[tuple[Platform, str], datetime] = {}  # customers' tombstones
        self.lock = threading.Lock()

    def load(self, platform: Platform, thread: str) -> Conversation | None:
        return self.conversations.get((platform, thread))

    def seen(self, event: MessageEvent) -> SeenMessage | None:
        if (event.platform, event.message_id) in self.elsewhere:
            return SeenMessage(conversation="", facts=None)
        return self.applied.get((event.platform, event.message_id))

    def commit(self, message: NewMessage) -> None:
        event, c = message.event, message.conversation
        with self.lock:
            current = self.conversations.get((c.platform, c.thread))
            if (current is None) != (message.expected_version is None) or (
                    current is not None and current.version != message.expected_version):
                raise VersionConflict(c.id)
            self.applied[(event.platform, event.message_id)] = SeenMessage(
                conversation=c.id, facts=message.facts)
            self.messages[(event.platform, event.message_id)] = {
                "conversation": c.id, "direction": event.direction.value, "text": event.text,
                "turn": c.turn}
            self.conversations[(c.platform, c.thread)] = replace(c, version=c.version + 1)
            if event.platform is Platform.X and event.channel is Channel.PUBLIC:
                self.tweets[event.message_id] = c.thread
            if message.outcome is Outcome.TURN_OPENED:
                known = self.customers.get((event.platform, c.customer.id))
                self.customers[(event.platform, c.customer.id)] = CustomerProfile(
                    platform=event.platform, user_id=c.customer.id, handle=c.customer.handle,
                    followers=c.customer.followers,
                    complaints=(known.complaints if known else 0) + 1,
                    first_seen=known.first_seen if known else message.received_at)
                self.turns[(c.id, c.turn)] = {"opened_at": c.turn_opened_at}
            elif message.outcome is Outcome.TURN_ANSWERED:
                self.turns[(c.id, c.turn)]["response_seconds"] = message.response_seconds


class FakeConversationLog:
    """services/inbound.py `ConversationLog`."""

    def __init__(self, table: FakeMessageTable | None = None) -> None:
        self.table = table or FakeMessageTable()
        self.reads: list[tuple[bool, bool, bool]] = []  # each `read`: seen, erasure, customer
        self.single_reads: list[str] = []  # `customer`, `erased_at`: what `read` did not bring

    def read(self, event: MessageEvent, *, seen: bool, erasure: bool,
             customer: bool) -> Snapshot:
        self.reads.append((seen, erasure, customer))
        t = self.table
        thread = event.thread
        if event.platform is Platform.X and event.channel is Channel.PUBLIC and event.reply_to:
            thread = t.tweets.get(event.reply_to) or event.thread
        author = (event.platform, event.author.id)
        return Snapshot(
            seen=t.seen(event) if seen else None, thread=thread,
            conversation=t.load(event.platform, thread),
            erased_at=t.erased.get(author) if erasure else None, erasure_read=erasure,
            customer=t.customers.get(author) if customer else None, customer_read=customer)

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        self.single_reads.append("customer")
        return self.table.customers.get((platform, user_id))

    def erased_at(self, platform: Platform, user_id: str) -> datetime | None:
        self.single_reads.append("erased_at")
        return self.table.erased.get((platform, user_id))

    def record(self, message: NewMessage) -> None:
        self.table.commit(message)

    def finish_applied(self, event: MessageEvent, conversation: Conversation,
                       received_at: datetime) -> Facts | None:
        # The table's commit is atomic: an applied message always has its facts.
        seen = self.table.seen(event)
        return seen.facts if seen else None

    def pass_over(self, platform: Platform, message_id: str) -> None:
        self.table.elsewhere.add((platform, message_id))

    def edit(self, event: MessageEvent) -> bool:
        message = self.table.messages.get((event.platform, event.message_id))
        if message is None:
            return False
        if not message.get("deleted"):
            message.update(text=event.text, edited=True)
        return True

    def erase(self, deleted: MessageDeleted) -> bool:
        message = self.table.messages.get((deleted.platform, deleted.message_id))
        if message is None:
            return False
        message.update(text="", deleted=True, deleted_at=deleted.deleted_at)
        return True


class FakeReplyLog:
    """services/agent_api.py `ReplyLog`."""

    def __init__(self, table: FakeMessageTable | None = None) -> None:
        self.table = table or FakeMessageTable()

    def seen(self, sent: MessageEvent) -> SeenMessage | None:
        return self.table.seen(sent)

    def record(self, message: NewMessage) -> None:
        # Its claim first, as the adapter writes it: the echo is a redelivery from then on.
        self.table.accepted.setdefault((message.event.platform, message.event.message_id),
                                       message.received_at)
        self.table.commit(message)
class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Mapping[str, Any]]] = []
        self.fail_next = 0
        self._dedupe: set[str] = set()

    def send(self, body: Mapping[str, Any], *, group: str, dedupe_id: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise QueueUnavailable("injected")
        if dedupe_id in self._dedupe:  # like FIFO's 5-minute deduplication
            return
        self._dedupe.add(dedupe_id)
        self.sent.append((group, dedupe_id, dict(body)))

    def window_passes(self) -> None:
        """FIFO deduplication lasts 5 minutes: a later send of the same id goes through."""
        self._dedupe.clear()


class FakeConversations:
    def __init__(self) -> None:
        self.items: dict[str, Conversation] = {}

    def get(self, conversation_id: str) -> Conversation | None:
        return self.items.get(conversation_id)

    def save(self, conversation: Conversation) -> None:
        current = self.items.get(conversation.id)
        if current is not None and current.version != conversation.version:
            raise VersionConflict(conversation.id)
        self.items[conversation.id] = replace(conversation, version=conversation.version + 1)

    def recent(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        return [("@ann", "where is my refund")][:limit]


class FakeDueChecks:
    def __init__(self) -> None:
        self.buckets: dict[int, list[Any]] = {}
        self.rang: set[int] = set()
        self.finished: set[int] = set()

    def add(self, bucket: int, check: Any) -> bool:
        self.buckets.setdefault(bucket, []).append(check)
        return bucket not in self.rang

    def ring(self, bucket: int) -> list[Any]:
        self.rang.add(bucket)
        return list(self.buckets.get(bucket, []))

    def done(self, bucket: int) -> None:
        self.finished.add(bucket)

    def unfinished(self, bucket: int) -> list[Any]:
        return [] if bucket in self.finished else list(self.buckets.get(bucket, []))


class FakeClock:
    def __init__(self) -> None:
        self.set_buckets: list[int] = []

    def set(self, bucket: int) -> None:
        if bucket not in self.set_buckets:
            self.set_buckets.append(bucket)


class FakeAlertLog:
    def __init__(self) -> None:
        self.status_of: dict[str, str] = {}
        self.leases: dict[str, datetime] = {}
        self.counts: dict[str, int] = {}
        self.reached: dict[str, set[str]] = {}

    def claim(self, alert_key: str, recipients: tuple[str, ...], at: datetime,
              lease: timedelta) -> frozenset[str] | None:
        if self.status_of.get(alert_key) == "sent":
            return None
        if self.leases.get(alert_key, at) > at:
            raise AlertInFlight(alert_key)
        self.status_of[alert_key] = "pending"
        self.leases[alert_key] = at + lease
        return frozenset(self.reached.get(alert_key, set()))

    def release(self, alert_key: str) -> None:
        self.leases.pop(alert_key, None)

    def status(self, alert_keys: list[str]) -> dict[str, str]:
        return {k: self.status_of[k] for k in alert_keys if k in self.status_of}

    def delivered(self, alert_key: str, agent: str) -> None:
        self.reached.setdefault(alert_key, set()).add(agent)

    def sent(self, alert_key: str, at: datetime) -> None:
        self.status_of[alert_key] = "sent"
        self.leases.pop(alert_key, None)

    def count_recent(self, agent: str, at: datetime) -> int:
        self.counts[agent] = self.counts.get(agent, 0) + 1
        return self.counts[agent]


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def notify(self, **alert: Any) -> None:
        self.sent.append(alert)


class FakeAckLinks:
    def __init__(self) -> None:
        self.grants: dict[str, Any] = {}

    def issue(self, grant: Any) -> str:
        token = f"t{len(self.grants)}.sig"
        self.grants[token] = grant
        return token

    def redeem(self, token: str, now: datetime) -> Any:
        grant = self.grants.get(token)
        return grant if grant is not None and now < grant.expires_at else None


class FakeRotas:
    def __init__(self, rota: Any) -> None:
        self._rota = rota

    def rota(self, team: str) -> Any:
        return self._rota if team == self._rota.team else None

    def agent(self, agent_id: str) -> Any:
        return None


class FakeChannelStore:
    """In-memory ChannelStore (services/channel_watch.py), without the adapter's throttle."""

    def __init__(self) -> None:
        from chalicelib.domain.channel_health import ChannelState

        self.states: dict[str, ChannelState] = {}
        self._empty = ChannelState

    def _get(self, channel: str) -> Any:
        return self.states.get(channel) or self._empty(channel=channel)

    def seen(self, channel: str, at: datetime) -> tuple[datetime, timedelta | None] | None:
        s = self._get(channel)
        self.states[channel] = replace(s, last_event_at=at, events=s.events + 1)
        return (s.last_event_at, s.longest_gap) if s.last_event_at else None

    def learn_gap(self, channel: str, gap: timedelta) -> None:
        s = self._get(channel)
        if s.longest_gap is None or gap > s.longest_gap:
            self.states[channel] = replace(s, longest_gap=gap)

    def signature(self, channel: str, ok: bool, at: datetime) -> None:
        s = self._get(channel)
        if ok:
            self.states[channel] = replace(s, last_verified_at=at)
        elif s.bad_first_at is None or (s.last_verified_at is not None
                                        and s.bad_first_at <= s.last_verified_at):
            self.states[channel] = replace(s, bad_first_at=at, bad_last_at=at, bad_count=1)
        else:  # the run goes on
            self.states[channel] = replace(s, bad_last_at=at, bad_count=s.bad_count + 1)

    def unsigned(self, channel: str, at: datetime) -> None:
        s = self._get(channel)
        self.states[channel] = replace(s, unsigned_count=s.unsigned_count + 1,
                                       unsigned_last_at=at)

    def unknown_account(self, channel: str, account_id: str, at: datetime) -> None:
        s = self._get(channel)
        counts = dict(s.unknown_accounts)
        counts[account_id] = counts.get(account_id, 0) + 1
        self.states[channel] = replace(s, unknown_accounts=counts)

    def claim_page(self, channel: str, at: datetime, every: timedelta) -> bool:
        s = self._get(channel)
        if s.last_paged_at is not None and at - s.last_paged_at < every:
            return False
        self.states[channel] = replace(s, last_paged_at=at)
        return True

    def release_page(self, channel: str, at: datetime, previous: datetime | None) -> None:
        s = self._get(channel)
        if s.last_paged_at == at:
            self.states[channel] = replace(s, last_paged_at=previous)

    def record(self, channel: str, state: str, detail: str, at: datetime) -> None:
        s = self._get(channel)
        self.states[channel] = (replace(s, last_send_ok_at=at) if state == "healthy" else
                                replace(s, problem=state, problem_at=at, problem_detail=detail))

    def all(self) -> list[Any]:
        return sorted(self.states.values(), key=lambda s: s.channel)

    def open_incident(self, channel: str, kind: str, at: datetime) -> bool:
        s = self._get(channel)
        if s.incident is not None:
            return False
        self.states[channel] = replace(s, incident=kind, incident_since=at,
                                       incident_alerted=False)
        return True

    def incident_alerted(self, channel: str) -> None:
        self.states[channel] = replace(self._get(channel), incident_alerted=True)

    def close_incident(self, channel: str, kind: str) -> bool:
        s = self._get(channel)
        if s.incident != kind:
            return False
        self.states[channel] = replace(s, incident=None, incident_since=None,
                                       incident_alerted=False)
        return True


class FakeChannelLog:
    """In-memory ChannelLog (domain/ports.py): what the webhook and ingest told the watch, in
    order, as ("seen", channel), ("signature", channel, ok), ("unsigned", channel),
    ("problem", channel, state) and ("unknown_account", channel, account id)."""

    def __init__(self) -> None:
        self.traces: list[tuple[object, ...]] = []

    def seen(self, channels: Iterable[str]) -> None:
        self.traces.extend(("seen", c) for c in sorted(set(channels)))

    def signature(self, channel: str, ok: bool) -> None:
        self.traces.append(("signature", channel, ok))

    def unsigned(self, channel: str) -> None:
        self.traces.append(("unsigned", channel))

    def problem(self, channel: str, state: str, detail: str) -> None:
        self.traces.append(("problem", channel, state))

    def unknown_account(self, channel: str, account_id: str) -> None:
        self.traces.append(("unknown_account", channel, account_id))


class FakeSentTexts:
    """In-memory SentTexts (adapters/dynamodb/sent_texts.py)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.months: dict[str, int] = {}

    def published(self, message_id: str, covered: Any, at: datetime) -> None:
        self.records[message_id] = {"covered": dict(covered)}

    def claim_failure(self, message_id: str, at: datetime, lease: timedelta
                      ) -> dict[str, str] | None:
        record = self.records.setdefault(message_id, {"covered": {}})
        if "resent_at" in record or record.get("claimed_until", at) > at:
            return None
        record["claimed_until"] = at + lease
        return dict(record["covered"])

    def release(self, message_id: str) -> None:
        self.records[message_id].pop("claimed_until", None)

    def failed(self, message_id: str, at: datetime, team: str) -> None:
        self.records[message_id]["resent_at"] = at
        month = at.strftime("%Y-%m")
        self.months[month] = self.months.get(month, 0) + 1

    def failed_in_month(self, at: datetime) -> int:
        return self.months.get(at.strftime("%Y-%m"), 0)


class FakeResender:
    """The follow-up side of adapters/sns_alerts.py: records each email-only publish."""

    def __init__(self, fail: int = 0) -> None:
        self.resent: list[dict[str, str]] = []
        self.fail = fail  # how many resends refuse before they go out
        self.policy_checks = 0

    def resend(self, **message: str) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("SNS refused")
        self.resent.append(message)

    def refuse_resends_by_sms(self) -> int:
        self.policy_checks += 1
        return 0


class FakeListenCursors:
    """In-memory ListenCursors (domain/listening.py), with the version check of the real one."""

    def __init__(self) -> None:
        from chalicelib.domain.listening import ListenState

        self.states: dict[str, ListenState] = {}

    def load(self, key: str) -> Any:
        return self.states.get(key)

    def save(self, key: str, state: Any) -> Any:
        from dataclasses import replace

        from chalicelib.domain.listening import CursorConflict

        current = self.states.get(key)
        if (current.version if current else 0) != state.version:
            raise CursorConflict(key)
        self.states[key] = replace(state, version=state.version + 1)
        return self.states[key]
