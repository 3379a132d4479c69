"""The sweeper against moto: with the alarm clock failing or gone, every open turn past its
warning or breach is alerted once, an answered one never; and one poisoned check does not sink
its bucket. Messages go in through the real webhook and inbound worker; SNS publishes are
counted as they leave botocore."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.domain.timers import DueCheck, bucket_of
from chalicelib.services import alerting, oncall_admin, sweeper
from chalicelib.webhooks.signatures import meta_signature
from infrastructure.local.aws import Built
from infrastructure.local.pollers import to_lambda_event
from tests.integration.conftest import SECRETS, run_inbound_worker

PAGE = "PAGE1"
Published = list[tuple[str | None, str | None, str | None]]  # (conversation, level, agent)


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    deps = bootstrap.admin_deps()
    for agent in ("alice", "bob", "dana"):
        oncall_admin.create_agent({"id": agent, "name": agent, "phone": "+15550100001"}, deps)
    oncall_admin.put_rota("support", {
        "members": ["alice", "bob"], "shift": 30 * 86400, "handoff": "00:00", "timezone": "UTC",
        "starts_on": (bootstrap.now() - timedelta(days=1)).date().isoformat(),
        "lead": "dana"}, deps)
    with Client(app.app) as test_client:
        yield test_client


@pytest.fixture
def published(aws: Built) -> Published:
    """Every alert SNS accepted, as it left botocore (a refused publish is not in it)."""
    sent: Published = []
    asked: list[dict[str, str]] = []

    def ask(params: dict[str, Any], **_: Any) -> None:
        asked.append({k: v["StringValue"] for k, v in params["MessageAttributes"].items()})

    def accepted(**_: Any) -> None:
        attributes = asked.pop()
        sent.append((attributes.get("conversation"), attributes.get("level"),
                     attributes.get("agent")))

    def refused(**_: Any) -> None:
        asked.pop()

    events = bootstrap.sns().meta.events
    events.register("before-parameter-build.sns.Publish", ask)
    events.register("after-call.sns.Publish", accepted)
    events.register("after-call-error.sns.Publish", refused)
    return sent


def deliver(client: Client, psid: str, *, echo: bool = False) -> None:
    at = datetime.now(UTC)
    sender, recipient = (PAGE, psid) if echo else (psid, PAGE)
    message: dict[str, Any] = {"mid": f"m-{psid}-{'e' if echo else 'c'}",
                               "text": "sorted" if echo else "my parcel never came"}
    if echo:
        message["is_echo"] = True
    body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": recipient},
        "timestamp": int(at.timestamp() * 1000), "message": message}]}]}).encode()
    response = client.http.post("/webhooks/meta", body=body, headers={
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body),
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.body
    run_inbound_worker()


def conv(psid: str) -> str:
    return f"messenger.dm-{PAGE}-{psid}"


def at(offset: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + offset


def sweep_at(offset: timedelta) -> sweeper.SweepReport:
    deps = bootstrap.sweep_deps()
    later = replace(deps, now=at(offset),
                    alerting=lambda: replace(deps.alerting(), now=at(offset)))
    return sweeper.sweep(later)


def _warn_at(conversation: str) -> datetime:
    found = bootstrap.conversations().get(conversation)
    assert found is not None and found.warn_at is not None
    return found.warn_at


def fail_start_execution() -> None:
    def refuse(**_: Any) -> None:
        error: Any = {"Error": {"Code": "ServiceUnavailable", "Message": "injected"},
                      "ResponseMetadata": {"HTTPStatusCode": 503}}
        raise ClientError(error, "StartExecution")

    bootstrap.stepfunctions().meta.events.register("before-call.sfn.StartExecution", refuse)


def delete_state_machine() -> None:
    bootstrap.stepfunctions().delete_state_machine(stateMachineArn=bootstrap.alarm_clock_arn())


@pytest.mark.parametrize("fault", [fail_start_execution, delete_state_machine])
def test_with_the_alarm_clock_down_the_sweeper_alerts_every_due_turn_once(
        client: Client, published: Published, fault: Callable[[], None]) -> None:
    deliver(client, "answered")  # its alarm is set while the clock works…
    deliver(client, "answered", echo=True)  # …and it is answered
    bootstrap.alarm_clock()._set.clear()  # the others are planned by a fresh container
    fault()
    for psid in ("p1", "p2", "p3"):
        deliver(client, psid)  # committed, but no alarm was set for them
    stuck = {conv(p) for p in ("p1", "p2", "p3")}
    assert all(bootstrap.conversations().get(c).warn_at for c in stuck)  # type: ignore[union-attr]

    # Default policies; a plain complaint is low priority: 8 h to answer, warned at 6 h,
    # the lead woken at 12 h.
    assert sweep_at(timedelta(hours=5, minutes=50)).missed == 0  # nothing due yet
    first = sweep_at(timedelta(hours=6, minutes=5))
    # Their warnings were filed in buckets that never rang (the answered turn's too: nothing
    # polls the alerts queue here): rung now, the answered one skipped.
    assert (first.unfinished, first.missed, first.sent) == (
        len({bucket_of(_warn_at(c), timedelta(seconds=10))
             for c in {*stuck, conv("answered")}}), 4, 3)
    assert sweep_at(timedelta(hours=6, minutes=10)).missed == 0  # again: pages nobody twice
    breach = sweep_at(timedelta(hours=8, minutes=5))
    assert (breach.missed, breach.sent, breach.failed) == (3, 6, [])
    assert sweep_at(timedelta(hours=8, minutes=10)).sent == 0
    escalation = sweep_at(timedelta(hours=12, minutes=5))
    assert (escalation.missed, escalation.sent) == (3, 3)

    expected = [(c, "warning", "alice") for c in sorted(stuck)] + [
        (c, "breach", agent) for c in sorted(stuck) for agent in ("alice", "bob")] + [
        (c, "escalation", "dana") for c in sorted(stuck)]
    print(f"\n{fault.__name__}: alerts due {3 * len(stuck)} ({len(expected)} messages), sent "
          f"{len(set(published))}, duplicated {len(published) - len(set(published))}, lost "
          f"{len(set(expected) - set(published))}; answered turn alerted "
          f"{sum(p[0] == conv('answered') for p in published)}")
    assert sorted(published) == sorted(expected)
    assert not [p for p in published if p[0] == conv("answered")]
    # The normal path, late (a redriven bucket): the claims say it was sent.
    late = alerting.alert_checks(
        [DueCheck(c, 1, "escalation", datetime.now(UTC)) for c in sorted(stuck)],
        replace(bootstrap.alerting_deps(), now=at(timedelta(hours=12, minutes=10))))
    assert (late.sent, dict(late.skipped)) == (0, {"already alerted": 3})
    assert Counter(published).most_common(1)[0][1] == 1


def test_the_sweeper_reads_only_what_is_due_through_the_index(
        client: Client, published: Published) -> None:
    calls: Counter[str] = Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        index = params.get("IndexName")
        calls.update([f"{model.name} {index}" if index else model.name])

    bootstrap.dynamodb().meta.events.register("before-parameter-build.dynamodb.*", count)
    for psid in ("q1", "q2"):
        deliver(client, psid)
    calls.clear()
    quiet = sweep_at(timedelta(hours=4))  # nothing due: one small read per bucket
    buckets = 2 * 5 * 60 // 10 + 1  # two 5-minute periods of 10 s buckets
    assert (quiet.buckets, quiet.candidates) == (buckets, 0)
    assert calls == {"Query": buckets, "Query GSI1": len(bootstrap.policies().teams)}
    calls.clear()
    report = sweep_at(timedelta(hours=6, minutes=5))  # both past their warning
    assert (report.missed, report.sent) == (2, 2)
    assert "Scan" not in calls
    assert calls["Query GSI1"] == len(bootstrap.policies().teams)
    # The markers of each bucket, the checks of the unfinished ones, then the alert log's
    # entries in one batch (then the alerts themselves).
    assert calls["Query"] == buckets + report.unfinished + 2  # + each alert's last messages
    assert calls["BatchGetItem"] == 1


def test_one_poisoned_check_does_not_sink_its_bucket(client: Client,
                                                     published: Published) -> None:
    for psid in ("g1", "bad", "g2"):
        deliver(client, psid)
    table = bootstrap.settings().table
    meta = {"PK": {"S": f"CONV#messenger#dm-{PAGE}-bad"}, "SK": {"S": "META"}}
    bootstrap.dynamodb().update_item(  # a corrupt item: it cannot be read as a conversation
        TableName=table, Key=meta, UpdateExpression="SET #s = :x",
        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":x": {"S": "?"}})
    bucket = 10 * (int(datetime.now(UTC).timestamp()) // 10) + 7200
    for psid in ("g1", "bad", "g2"):
        bootstrap.due_checks().add(bucket, DueCheck(conv(psid), 1, "warning",
                                                    datetime.now(UTC)))
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().alerts_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"bucket": bucket}))

    def ring() -> dict[str, Any]:
        # The failed ring hid the record for its backoff (2 s at the first receive).
        messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                                       WaitTimeSeconds=5)["Messages"]
        records: list[dict[str, Any]] = [dict(m) for m in messages]
        return handlers.ring_batch(to_lambda_event(records, arn, "us-east-1"), None)

    first = ring()
    assert len(first["batchItemFailures"]) == 1  # the bucket is retried…
    assert sorted(published) == [(conv("g1"), "warning", "alice"),
                                 (conv("g2"), "warning", "alice")]  # …the others went out
    bootstrap.dynamodb().update_item(
        TableName=table, Key=meta, UpdateExpression="SET #s = :x",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":x": {"S": "awaiting_agent"}})
    assert ring()["batchItemFailures"] == []
    assert sorted(published) == [(conv(p), "warning", "alice") for p in ("bad", "g1", "g2")]


def test_a_refused_digest_is_sent_by_the_retry_and_the_sweeper_rings_none_of_it_again(
        client: Client, published: Published) -> None:
    psids = [f"d{n}" for n in range(4)]
    for psid in psids:
        deliver(client, psid)
    bucket = 10 * (int(datetime.now(UTC).timestamp()) // 10) + 7200
    for psid in psids:
        bootstrap.due_checks().add(bucket, DueCheck(conv(psid), 1, "warning",
                                                    datetime.now(UTC)))
    refuse = [True]

    def refuse_digests(params: dict[str, Any], **_: Any) -> None:
        level = params["MessageAttributes"]["level"]["StringValue"]
        if level == "digest" and refuse[0]:
            error: Any = {"Error": {"Code": "Throttled", "Message": "injected"},
                          "ResponseMetadata": {"HTTPStatusCode": 503}}
            raise ClientError(error, "Publish")

    bootstrap.sns().meta.events.register("before-parameter-build.sns.Publish", refuse_digests)
    deps = replace(bootstrap.alerting_deps(), digest_after=1)  # one alert a minute, then one
    with pytest.raises(alerting.ChecksFailed) as failed:
        alerting.ring_bucket(bucket, deps)
    assert len(failed.value.keys) == 3  # the three the digest covers: claimed, not sent
    assert [p[1] for p in published] == ["warning"]
    refuse[0] = False
    assert alerting.ring_bucket(bucket, deps).digested == 3  # the bucket's retry
    assert alerting.ring_bucket(bucket, deps).skipped == {"already alerted": 4}
    assert [p[1] for p in published] == ["warning", "digest"]
    # Every conversation the digest covered counts as warned: the sweeper pages none again.
    assert sweep_at(timedelta(hours=6, minutes=5)).sent == 0
    print(f"\ndigest refused then retried: covered 3, digests sent "
          f"{sum(p[1] == 'digest' for p in published)}, alerts re-rung by the sweeper 0")
