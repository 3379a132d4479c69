"""Each channel's health (`CHANNELS` / `<channel>`, one partition read in one query): its last
event, its longest gap, its last successful send, its last problem and its open incident,
where /health, the channel watch and the operators can see them.

The hot path pays little: a channel's last event and its last verified delivery are written
at most once a minute per container, and so are failed signatures (counted in memory between
writes), so a flood of forged POSTs costs a write a minute, not one each. A run of failures
lives in the item (`bad_first_at`, `bad_last_at`, `bad_count`), shared by every container;
a verified delivery after `bad_first_at` ends it.
"""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, value
from chalicelib.domain.channel_health import ChannelState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TOUCH_EVERY = timedelta(minutes=1)
_UNKNOWN = "#unknown#"  # an undeclared account's counter: `<channel>#unknown#<account id>`


def _time(raw: Any) -> datetime | None:
    return datetime.fromisoformat(str(raw)) if raw else None


class DynamoChannels:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table
        self._touched: dict[str, datetime] = {}
        self._bad_signatures: Counter[str] = Counter()  # failures not written yet
        self._unsigned: Counter[str] = Counter()  # unsigned POSTs not written yet
        self._unknown: Counter[str] = Counter()  # undeclared accounts' deliveries not written

    def _key(self, channel: str) -> dict[str, Any]:
        return key("CHANNELS", channel)

    def _update(self, channel: str, expression: str, values: dict[str, Any], what: str,
                **extra: Any) -> dict[str, Any]:
        with aws_errors(what):
            return dict(self.client.update_item(
                TableName=self.table, Key=self._key(channel),
                # Every write names the channel (for the operators reading the table).
                UpdateExpression=expression.replace("SET ", "SET channel = :ch, ", 1),
                ExpressionAttributeValues={k: value(v) for k, v in
                                           {**values, ":ch": channel}.items()},
                **extra))

    def seen(self, channel: str, at: datetime) -> tuple[datetime, timedelta | None] | None:
        """Record an event on the channel (throttled); the previous event's time and the
        longest gap known, when this call wrote, so the caller can learn the gap."""
        last = self._touched.get(channel)
        if last is not None and at - last < TOUCH_EVERY:
            return None
        self._touched[channel] = at
        old = from_item(self._update(channel, "SET last_event_at = :at ADD events :one",
                                     {":at": at.isoformat(), ":one": 1}, "record channel event",
                                     ReturnValues="ALL_OLD").get("Attributes", {}))
        previous = _time(old.get("last_event_at"))
        if previous is None:
            return None
        gap = old.get("longest_gap")
        return previous, timedelta(seconds=int(gap)) if gap is not None else None

    def learn_gap(self, channel: str, gap: timedelta) -> None:
        seconds = int(gap.total_seconds())
        # A failed condition means a longer gap is known already.
        with aws_errors("learn channel gap"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table, Key=self._key(channel),
                UpdateExpression="SET longest_gap = :g",
                ConditionExpression="attribute_not_exists(longest_gap) OR longest_gap < :g",
                ExpressionAttributeValues={":g": value(seconds)})

    def signature(self, channel: str, ok: bool, at: datetime) -> None:
        verified, failed = f"verified:{channel}", f"failed:{channel}"
        if ok:
            last = self._touched.get(verified)
            # Written at once after a failure here (it ends the run), else once a minute.
            if failed in self._touched or last is None or at - last >= TOUCH_EVERY:
                self._touched[verified] = at
                self._touched.pop(failed, None)
                self._bad_signatures.pop(channel, None)
                self._update(channel, "SET last_verified_at = :at", {":at": at.isoformat()},
                             "record verified delivery")
            return
        self._bad_signatures[channel] += 1
        last = self._touched.get(failed)
        if last is not None and at - last < TOUCH_EVERY:
            return
        self._touched[failed] = at
        count = self._bad_signatures.pop(channel)
        with aws_errors("record failed signatures"):
            try:  # the run goes on: no verified delivery since it began
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="SET bad_last_at = :at ADD bad_count :n",
                    ConditionExpression="attribute_exists(bad_first_at) AND "
                                        "(attribute_not_exists(last_verified_at) OR "
                                        "bad_first_at > last_verified_at)",
                    ExpressionAttributeValues={":at": value(at.isoformat()),
                                               ":n": value(count)})
                return
            except self.client.exceptions.ConditionalCheckFailedException:
                pass
        self._update(channel, "SET bad_first_at = :at, bad_last_at = :at, bad_count = :n",
                     {":at": at.isoformat(), ":n": count}, "record failed signatures")

    def unsigned(self, channel: str, at: datetime) -> None:
        """Junk (no signature of the platform's shape): counted in memory, written at most
        once a minute per container, never part of a run of failed signatures."""
        self._count(self._unsigned, channel, f"unsigned:{channel}", at,
                    "SET unsigned_last_at = :at ADD unsigned_count :n", "record unsigned posts")

    def unknown_account(self, channel: str, account_id: str, at: datetime) -> None:
        """A delivery for an undeclared account: its own item in the partition
        (`<channel>#unknown#<id>`), counted in memory and written at most once a minute per
        container and account, like junk."""
        sk = f"{channel}{_UNKNOWN}{account_id[:64]}"
        self._count(self._unknown, sk, f"unknown:{sk}", at,
                    "SET last_at = :at ADD unknown_count :n", "count unknown account")

    def _count(self, pending: Counter[str], sk: str, mark: str, at: datetime, expression: str,
               what: str) -> None:
        # Counted in memory; the item is written at most once a minute per container, with
        # everything counted since (a burst of junk costs one write, not one each).
        pending[sk] += 1
        last = self._touched.get(mark)
        if last is not None and at - last < TOUCH_EVERY:
            return
        self._touched[mark] = at
        self._update(sk, expression, {":at": at.isoformat(), ":n": pending.pop(sk)}, what)

    def claim_page(self, channel: str, at: datetime, every: timedelta) -> bool:
        """One "down" page per channel per period, whichever container sends it."""
        with aws_errors("claim channel page"):
            try:
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="SET last_paged_at = :at",
                    ConditionExpression="attribute_not_exists(last_paged_at) OR "
                                        "last_paged_at <= :cutoff",
                    ExpressionAttributeValues={":at": value(at.isoformat()),
                                               ":cutoff": value((at - every).isoformat())})
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def release_page(self, channel: str, at: datetime, previous: datetime | None) -> None:
        with aws_errors("release channel page"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            if previous is None:
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="REMOVE last_paged_at",
                    ConditionExpression="last_paged_at = :at",
                    ExpressionAttributeValues={":at": value(at.isoformat())})
            else:
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="SET last_paged_at = :prev",
                    ConditionExpression="last_paged_at = :at",
                    ExpressionAttributeValues={":at": value(at.isoformat()),
                                               ":prev": value(previous.isoformat())})

    def record(self, channel: str, state: str, detail: str, at: datetime) -> None:
        """A problem (revoked, send_failed, unhealthy), or "healthy": a
        send went through."""
        if state == "healthy":
            self._update(channel, "SET last_send_ok_at = :at", {":at": at.isoformat()},
                         "record channel send")
            return
        self._update(channel, "SET problem = :p, problem_at = :at, problem_detail = :d",
                     {":p": state, ":at": at.isoformat(), ":d": detail[:300]},
                     "record channel problem")

    def open_incident(self, channel: str, kind: str, at: datetime) -> bool:
        """Open an incident unless one is open: True for the one caller that opened it."""
        with aws_errors("open channel incident"):
            try:
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="SET incident = :k, incident_since = :at, "
                                     "incident_alerted = :f",
                    ConditionExpression="attribute_not_exists(incident)",
                    ExpressionAttributeValues={":k": value(kind), ":at": value(at.isoformat()),
                                               ":f": value(False)})
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def incident_alerted(self, channel: str) -> None:
        self._update(channel, "SET incident_alerted = :t", {":t": True},
                     "mark channel incident alerted")

    def close_incident(self, channel: str, kind: str) -> bool:
        with aws_errors("close channel incident"):
            try:
                self.client.update_item(
                    TableName=self.table, Key=self._key(channel),
                    UpdateExpression="REMOVE incident, incident_since, incident_alerted",
                    ConditionExpression="incident = :k",
                    ExpressionAttributeValues={":k": value(kind)})
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def all(self) -> list[ChannelState]:
        with aws_errors("read channel health"):
            items = self.client.query(
                TableName=self.table, KeyConditionExpression="PK = :c",
                ExpressionAttributeValues={":c": value("CHANNELS")})["Items"]
        states = []
        unknown: dict[str, dict[str, int]] = {}
        rows = [from_item(x) for x in items]
        for i in rows:
            if _UNKNOWN in str(i["SK"]):
                channel, account = str(i["SK"]).split(_UNKNOWN, 1)
                unknown.setdefault(channel, {})[account] = int(i.get("unknown_count", 0))
        for i in rows:
            if _UNKNOWN in str(i["SK"]):
                continue
            gap = i.get("longest_gap")
            states.append(ChannelState(
                channel=str(i["SK"]),
                last_event_at=_time(i.get("last_event_at")), events=int(i.get("events", 0)),
                longest_gap=timedelta(seconds=int(gap)) if gap is not None else None,
                last_send_ok_at=_time(i.get("last_send_ok_at")), problem=i.get("problem"),
                last_verified_at=_time(i.get("last_verified_at")),
                problem_at=_time(i.get("problem_at")),
                problem_detail=str(i.get("problem_detail") or ""),
                incident=i.get("incident"), incident_since=_time(i.get("incident_since")),
                incident_alerted=bool(i.get("incident_alerted", False)),
                bad_first_at=_time(i.get("bad_first_at")),
                bad_last_at=_time(i.get("bad_last_at")), bad_count=int(i.get("bad_count", 0)),
                last_paged_at=_time(i.get("last_paged_at")),
                unsigned_count=int(i.get("unsigned_count", 0)),
                unsigned_last_at=_time(i.get("unsigned_last_at")),
                unknown_accounts=unknown.pop(str(i["SK"]), {})))
        # An undeclared account's deliveries on a channel with no item of its own.
        states.extend(ChannelState(channel=c, unknown_accounts=counts)
                      for c, counts in unknown.items())
        return sorted(states, key=lambda s: s.channel)
