"""In-memory fakes of the ports, with the same atomic semantics as the real adapters."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.conversations import Conversation, Outcome
from chalicelib.domain.errors import QueueUnavailable
from chalicelib.domain.events import Channel, Platform
from chalicelib.domain.ports import (
    AlreadyStored,
    CustomerProfile,
    NewMessage,
    SeenMessage,
    VersionConflict,
)


class FakeIngestStore:
    def __init__(self) -> None:
        self.conversations: dict[tuple[Platform, str], Conversation] = {}
        self.messages: dict[tuple[Platform, str], dict[str, Any]] = {}
        self.dedupe: dict[tuple[Platform, str], SeenMessage] = {}
        self.tweets: dict[str, str] = {}
        self.customers: dict[tuple[Platform, str], CustomerProfile] = {}
        self.turns: dict[tuple[str, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def seen(self, platform: Platform, message_id: str) -> SeenMessage | None:
        return self.dedupe.get((platform, message_id))

    def thread_of_tweet(self, tweet_id: str) -> str | None:
        return self.tweets.get(tweet_id)

    def load(self, platform: Platform, thread: str) -> Conversation | None:
        return self.conversations.get((platform, thread))

    def customer(self, platform: Platform, user_id: str) -> CustomerProfile | None:
        return self.customers.get((platform, user_id))

    def record(self, message: NewMessage) -> None:
        event, c = message.event, message.conversation
        with self._lock:
            if (event.platform, event.message_id) in self.dedupe:
                raise AlreadyStored(event.message_id)
            current = self.conversations.get((c.platform, c.thread))
            if (current is None) != (message.expected_version is None) or (
                    current is not None and current.version != message.expected_version):
                raise VersionConflict(c.id)
            self.dedupe[(event.platform, event.message_id)] = SeenMessage(
                conversation=c.id, message_sk=message.message_sk,
                queue_body=dict(message.queue_body), queued=False)
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

    def mark_queued(self, platform: Platform, message_id: str) -> None:
        seen = self.dedupe[(platform, message_id)]
        self.dedupe[(platform, message_id)] = replace(seen, queued=True, queue_body=None)

    def edit(self, platform: Platform, message_id: str, text: str) -> bool:
        message = self.messages.get((platform, message_id))
        if message is None:
            return False
        message.update(text=text, edited=True)
        return True

    def erase(self, platform: Platform, message_id: str, deleted_at: datetime) -> bool:
        message = self.messages.get((platform, message_id))
        if message is None:
            return False
        message.update(text="", deleted=True, deleted_at=deleted_at)
        return True


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
