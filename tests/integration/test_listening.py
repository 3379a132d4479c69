"""Listening against moto and the stand-in X over HTTP: the real adapter (bearer token,
recent search's parameters), cursors in DynamoDB, the real ingest, queue and worker."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from chalicelib.services import listening
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, post_webhook, run_inbound_worker
from tests.platform_fake import X_BEARER, X_KEYS, FakePlatforms, fake_platforms, snowflake
from tests.unit.webhooks.conftest import fixture

ROOT = Path(__file__).resolve().parents[2]
QUERY = '"scruffy mcgee" OR scruffymcgee -is:retweet -from:ScruffyMcG'
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}", "Content-Type": "application/json"}


@pytest.fixture
def x(aws: Built, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakePlatforms]:
    policies = tmp_path / "policies.yaml"
    policies.write_text((ROOT / "chalicelib" / "policies.yaml").read_text() + (
        f"listening:\n  - query: '{QUERY}'\n    account: ScruffyMcG\n"
        "    period_minutes: 15\n    daily_requests: 50\n"))
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(policies))
    with fake_platforms() as fake:
        monkeypatch.setenv("REPLYWINDOW_X_API_URL", fake.url)
        bootstrap.reset()
        bootstrap._client("secretsmanager").put_secret_value(
            SecretId=bootstrap.settings().secrets_name, SecretString=json.dumps(
                {**SECRETS, "x_consumer_key": X_KEYS["client_key"],
                 "x_consumer_secret": X_KEYS["client_secret"], "x_bearer_token": X_BEARER}))
        bootstrap.reset()
        fake.users["42"] = {"id": "42", "username": "ann", "name": "Ann",
                            "public_metrics": {"followers_count": 1200}}
        fake.users["43"] = {"id": "43", "username": "bo", "name": "Bo",
                            "public_metrics": {"followers_count": 3}}
        yield fake


@pytest.fixture
def graph(aws: Built, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatforms]:
    """The stand-in Graph API, for replies to Meta conversations."""
    with fake_platforms() as fake:
        monkeypatch.setenv("REPLYWINDOW_GRAPH_API_URL", fake.url)
        bootstrap.reset()
        yield fake


def run(at: datetime) -> dict[str, int]:
    """One run of the poller as a new container would make it, at `at`."""
    bootstrap.reset()
    report = listening.poll(replace(bootstrap.listening_deps(), now=lambda: at))
    run_inbound_worker()
    return report


def post(x: FakePlatforms, post_id: str, at: datetime, author: str = "42",
         text: str = "scruffy mcgee lost my parcel again, useless") -> None:
    x.post(post_id, text, author, at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def conversation(thread: str) -> Any:
    return bootstrap.conversations().get(f"x.{thread}")


def test_pages_are_followed_and_a_restarted_poller_resumes_from_since_id(
        x: FakePlatforms) -> None:
    now = datetime.now(UTC)
    x.page_size = 2
    times = [now - timedelta(minutes=5 - i) for i in range(3)]
    ids = [snowflake(at) for at in times]
    for post_id, at, author in zip(ids, times, ["42", "43", "42"], strict=True):
        post(x, post_id, at, author)
    assert run(now)["accepted"] == 3
    first, second = x.searches()[0]["query"], x.searches()[1]["query"]
    assert first["query"] == QUERY and first["max_results"] == "100"
    assert first["start_time"] == (now - timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first["expansions"] == "author_id"
    assert "referenced_tweets" in first["tweet.fields"]
    assert first["user.fields"] == "public_metrics,username,name"
    assert second["next_token"] == "nt-2" and len(x.searches()) == 2
    # App-only auth, and only that: never a user's OAuth signature.
    assert {r["headers"]["Authorization"] for r in x.searches()} == {f"Bearer {X_BEARER}"}
    found = conversation(f"t-{ids[0]}")
    assert found.found_by_listening and found.team == "support" and found.due_at
    assert found.customer.followers == 1200 and found.brand_id == "ScruffyMcG"

    # A new container later: the cursor is in DynamoDB, only the newer post is read.
    newer = snowflake(now + timedelta(minutes=10))
    post(x, newer, now + timedelta(minutes=10))
    assert run(now + timedelta(minutes=15))["accepted"] == 1
    assert x.searches()[-1]["query"]["since_id"] == ids[2]
    assert "start_time" not in x.searches()[-1]["query"]
    # And once more with nothing new: an empty result, nothing stored twice.
    assert run(now + timedelta(minutes=30)) == {"requests": 1}
    assert x.searches()[-1]["query"]["since_id"] == newer


def test_a_429_waits_for_x_rate_limit_reset_then_resumes(x: FakePlatforms) -> None:
    now = datetime.now(UTC)
    post(x, "1810000000000000000", now - timedelta(minutes=1))
    reset = int((now + timedelta(minutes=7)).timestamp())
    x.search_failures.append((429, {"x-rate-limit-reset": str(reset)}))
    assert run(now) == {"rate_limited": 1}
    assert run(now + timedelta(minutes=5)) == {"rate_limited": 1}
    assert len(x.searches()) == 1  # it waited without asking
    report = run(now + timedelta(minutes=8))
    assert report.get("accepted") == 1, (report, x.searches()[-1]["query"])
    assert conversation("t-1810000000000000000").found_by_listening


def test_the_scheduled_function_runs_the_poller(x: FakePlatforms) -> None:
    post(x, "1820000000000000000", datetime.now(UTC) - timedelta(minutes=1))
    report = handlers.listen()
    assert report["accepted"] == 1
    run_inbound_worker()
    assert conversation("t-1820000000000000000").found_by_listening


def _webhook_mention(post_id: str, at: datetime) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("twitter/xaa_post_mention_create.json"))
    payload["data"]["payload"].update(id=post_id, created_at=at.isoformat(),
                                      text="hey @ScruffyMcG scruffy mcgee lost my parcel")
    return dict(payload)


@pytest.mark.parametrize("webhook_first", [True, False])
def test_a_post_that_also_comes_by_webhook_is_stored_once(
        x: FakePlatforms, webhook_first: bool) -> None:
    import app

    now = datetime.now(UTC)
    post_id = "1830000000000000000"
    post(x, post_id, now - timedelta(minutes=1), text="hey @ScruffyMcG scruffy mcgee lost it")
    with Client(app.app) as client:
        if webhook_first:
            assert post_webhook(client, "x", _webhook_mention(post_id, now))["events"] == {
                "accepted": 1}
            # Queued again: the queue's deduplication id, or the worker's check, drops it.
            assert run(now) == {"requests": 1, "accepted": 1}
        else:
            assert run(now)["accepted"] == 1
            assert post_webhook(client, "x", _webhook_mention(post_id, now))["events"] == {
                "accepted": 1}
    found = conversation(f"t-{post_id}")
    assert found.turn == 1 and found.found_by_listening is not webhook_first
    messages = bootstrap.dynamodb().query(
        TableName=bootstrap.settings().table, KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CONV#x#t-{post_id}"}})["Items"]
    assert len([m for m in messages if m["SK"]["S"].startswith("MSG#")]) == 1


def test_found_by_listening_shows_in_the_inbox_and_the_report_and_a_public_reply_is_refused(
        x: FakePlatforms) -> None:
    import app

    now = datetime.now(UTC)
    post(x, "1840000000000000000", now - timedelta(minutes=1))
    run(now)
    with Client(app.app) as client:
        inbox = json.loads(client.http.get("/api/conversations", headers=ADMIN).body)
        [row] = [c for c in inbox["conversations"] if c["id"] == "x.t-1840000000000000000"]
        assert row["found_by_listening"] is True
        refused = client.http.post("/api/conversations/x.t-1840000000000000000/replies",
                                   headers=ADMIN, body=json.dumps({"text": "Sorry!"}))
        assert refused.status_code == 409
        reason = json.loads(refused.body)["error"]
        assert "found by listening" in reason and "reply by DM instead" in reason
        report = json.loads(client.http.get("/api/reports/sla", headers=ADMIN).body)
        from tests.integration.test_console import _admin_cookie

        cookie = {"Cookie": _admin_cookie(client)}
        page = client.http.get("/console", headers=cookie).body.decode()
        shown = client.http.get("/console/conversations/x.t-1840000000000000000",
                                headers=cookie).body.decode()
    assert report["by"]["source"]["listening"]["turns"] == 1
    assert '<span class="found">found by listening</span>' in page
    assert "the customer did not tag the brand" in shown


def test_instagram_and_page_mentions_open_their_own_conversations_and_are_answered(
        graph: FakePlatforms) -> None:
    import app

    page_comment = copy.deepcopy(fixture("facebook/restfb_mention_comment_add.json"))
    value = page_comment["entry"][0]["changes"][0]["value"]
    value.update(created_time=int(datetime.now(UTC).timestamp()) - 60, sender_id="555",
                 sender_name="Ann", message="Scruffy McGee lost my parcel")
    # The same comment by the Page's feed (it is on one of the Page's posts): stored once.
    feed = copy.deepcopy(page_comment)
    feed["entry"][0]["changes"][0]["field"] = "feed"
    with Client(app.app) as client:
        mentions = fixture("instagram/restfb_ig_mentions.json")
        assert post_webhook(client, "meta", mentions)["events"] == {"accepted": 1}
        assert post_webhook(client, "meta", page_comment)["events"] == {"accepted": 1}
        assert post_webhook(client, "meta", feed)["events"] == {"accepted": 1}
        inbox = json.loads(client.http.get("/api/conversations", headers=ADMIN).body)
        mention = "/api/conversations/instagram.mention-17887498072083520_17887498072083520"
        private = client.http.post(f"{mention}/replies", headers=ADMIN,
                                   body=json.dumps({"text": "Thanks!", "private": True}))
        sent = client.http.post(f"{mention}/replies", headers=ADMIN,
                                body=json.dumps({"text": "Thanks!"}))
        answered = json.loads(client.http.get(mention, headers=ADMIN).body)
    rows = {c["id"]: c for c in inbox["conversations"]}
    ig = rows["instagram.mention-17887498072083520_17887498072083520"]
    fb = rows["facebook.c-7363534231324_3754798971271444"]
    assert ig["found_by_listening"] and fb["found_by_listening"]
    assert ig["due_at"] and fb["due_at"] and fb["customer"]["name"] == "Ann"
    assert private.status_code == 409
    assert "no private reply to a mention" in json.loads(private.body)["error"]
    # Answered as the mentioned account (the entry's id), under the mentioning comment.
    assert sent.status_code == 201, sent.body
    assert json.loads(sent.body)["message"]["route"] == "mention_reply"
    [request] = graph.requests
    assert request["path"] == "/0/mentions" and request["token"] == SECRETS["meta_page_token"]
    assert request["json"] == {"media_id": "17887498072083520",
                               "comment_id": "17887498072083520", "message": "Thanks!"}
    assert answered["status"] != "awaiting_agent"


def test_two_overlapping_runs_never_both_move_a_cursor(aws: Built) -> None:
    from chalicelib.domain.listening import CursorConflict, ListenState

    cursors = bootstrap.listen_cursors()
    first = cursors.save("q1", ListenState(since_id="5", last_run=datetime.now(UTC)))
    assert cursors.load("q1") == first and first.version == 1
    with pytest.raises(CursorConflict):
        cursors.save("q1", ListenState(since_id="6"))  # a second run that saw no cursor
    moved = cursors.save("q1", replace(first, since_id="7", next_token="nt-1"))
    with pytest.raises(CursorConflict):
        cursors.save("q1", replace(first, since_id="8"))  # read before `moved`
    assert cursors.load("q1") == moved and moved.version == 2
