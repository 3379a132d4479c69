"""The agent API against moto and a fake X / Graph API server that checks signatures."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, post_webhook, run_inbound_worker, store_secrets
from tests.platform_fake import PAGE_TOKEN, WHATSAPP_TOKEN, X_KEYS, FakePlatforms, fake_platforms
from tests.unit.webhooks.conftest import fixture

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}", "Content-Type": "application/json"}


@pytest.fixture
def platforms(aws: Built, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatforms]:
    with fake_platforms() as fake:
        monkeypatch.setenv("REPLYWINDOW_X_API_URL", fake.url)
        monkeypatch.setenv("REPLYWINDOW_GRAPH_API_URL", fake.url)
        secrets = {**SECRETS, "x_consumer_key": X_KEYS["client_key"],
                   "x_consumer_secret": X_KEYS["client_secret"],
                   "x_access_token": X_KEYS["token"],
                   "x_access_token_secret": X_KEYS["token_secret"],
                   "meta_page_token": PAGE_TOKEN, "whatsapp_token": WHATSAPP_TOKEN}
        store_secrets(secrets)
        yield fake


@pytest.fixture
def client(platforms: FakePlatforms) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


@pytest.fixture
def agent(client: Client) -> dict[str, str]:
    created = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "alice", "name": "Alice", "phone": "+15550100001"}))
    assert created.status_code == 201
    token = json.loads(created.body)["token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def make_agent(client: Client, agent_id: str, teams: list[str] | None) -> dict[str, str]:
    """An agent with a token; `teams=None` leaves the field out (the default team)."""
    body: dict[str, Any] = {"id": agent_id, "name": agent_id, "phone": "+15550100002"}
    if teams is not None:
        body["teams"] = teams
    created = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(body))
    assert created.status_code == 201, created.body
    return {"Authorization": f"Bearer {json.loads(created.body)['token']}",
            "Content-Type": "application/json"}


def post_x(client: Client, payload: dict[str, Any]) -> None:
    post_webhook(client, "x", payload)


def post_meta(client: Client, payload: dict[str, Any]) -> None:
    post_webhook(client, "meta", payload)


def mention(post_id: str, *, minutes_ago: float = 1,
            text: str = "hey @ExampleUser") -> dict[str, Any]:
    payload = copy.deepcopy(fixture("twitter/xaa_post_mention_create.json"))
    payload["data"]["payload"].update(
        id=post_id, text=text, created_at=(datetime.now(UTC) - timedelta(minutes=minutes_ago))
        .isoformat())
    return dict(payload)


def messenger(psid: str, mid: str, at: datetime) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": "PAGE1"},
        "timestamp": int(at.timestamp() * 1000), "message": {"mid": mid, "text": "help"}}]}]}


def reply(client: Client, conversation: str, headers: dict[str, str], text: str = "On it!",
          **extra: Any) -> Any:
    return client.http.post(f"/api/conversations/{conversation}/replies", headers=headers,
                            body=json.dumps({"text": text, **extra}))


def test_a_reply_to_an_x_mention_goes_out_signed_in_the_customers_thread(
        client, agent, platforms) -> None:
    post_x(client, mention("2080765813578191303"))
    response = reply(client, "x.t-2080765813578191303", agent, "Sorry! DM us your order")
    assert response.status_code == 201, response.body
    [sent] = platforms.requests
    assert sent["path"] == "/2/tweets"
    assert sent["oauth_valid"] is True  # verified server-side by oauthlib
    assert sent["headers"]["Authorization"].startswith("OAuth ")
    assert sent["json"] == {"text": "Sorry! DM us your order",
                            "reply": {"in_reply_to_tweet_id": "2080765813578191303"}}
    body = json.loads(response.body)
    assert body["conversation"]["status"] == "awaiting_customer"
    assert body["conversation"]["last_response_seconds"] >= 60
    # The platform's echo of our own reply is a duplicate, not a second message.
    echo = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    echo["data"]["payload"].update(id=body["message"]["id"], author_id="1111111111111111111",
                                   in_reply_to_tweet_id="2080765813578191303",
                                   in_reply_to_user_id="2222222222222222222")
    post_x(client, echo)
    detail = json.loads(client.http.get("/api/conversations/x.t-2080765813578191303",
                                        headers=agent).body)
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]


def test_a_public_reply_without_a_summons_is_refused_with_the_dm_route(client, agent,
                                                                        platforms) -> None:
    payload = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    payload["data"]["payload"]["entities"] = {}
    payload["data"]["event_type"] = "post.reply.create"
    post_x(client, payload)
    refused = reply(client, "x.t-2090000000000000001", agent)
    assert refused.status_code == 409
    assert "DM instead" in json.loads(refused.body)["error"]
    assert platforms.requests == []
    dm = reply(client, "x.t-2090000000000000001", agent, private=True)
    assert dm.status_code == 201
    assert platforms.requests[0]["path"] == "/2/dm_conversations/with/2222222222222222222/messages"


def test_a_messenger_reply_outside_24_hours_is_refused(client, agent, platforms) -> None:
    post_meta(client, messenger("PSID1", "m_old", datetime.now(UTC) - timedelta(hours=30)))
    refused = reply(client, "messenger.dm-PAGE1-PSID1", agent)
    assert refused.status_code == 409
    assert "24-hour" in json.loads(refused.body)["error"]
    assert platforms.requests == []


def test_a_messenger_reply_inside_24_hours_uses_the_page_token(client, agent,
                                                               platforms) -> None:
    post_meta(client, messenger("PSID2", "m_new", datetime.now(UTC) - timedelta(hours=1)))
    assert reply(client, "messenger.dm-PAGE1-PSID2", agent).status_code == 201
    [sent] = platforms.requests
    assert sent["path"] == "/me/messages"
    # The page token in the header only: a token in a URL ends up in access logs.
    assert sent["headers"]["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert "access_token" not in sent["query"]
    assert sent["json"]["recipient"] == {"id": "PSID2"}
    assert sent["json"]["messaging_type"] == "RESPONSE"


def test_a_429_is_retried_after_the_platforms_pause_then_succeeds(client, agent,
                                                                  platforms) -> None:
    post_x(client, mention("2080765813578191304"))
    platforms.fail_next(429, headers={"x-rate-limit-reset": str(int(time.time()))})
    response = reply(client, "x.t-2080765813578191304", agent)
    assert response.status_code == 201
    assert len(platforms.requests) == 2


def test_a_5xx_becomes_a_502_that_says_what_happened(client, agent, platforms) -> None:
    post_x(client, mention("2080765813578191305"))
    platforms.fail_next(503, times=3, headers={"Retry-After": "0"})
    response = reply(client, "x.t-2080765813578191305", agent)
    assert response.status_code == 502
    assert "answered 503: the reply may have been sent" in json.loads(response.body)["error"]
    assert len(platforms.requests) == 1  # a 5xx may have posted it: never resent
    conv = json.loads(client.http.get("/api/conversations/x.t-2080765813578191305",
                                      headers=agent).body)
    assert conv["status"] == "awaiting_agent"  # nothing confirmed: the clock keeps running


def test_the_same_reply_retried_is_sent_once(client, agent, platforms) -> None:
    post_meta(client, messenger("PSID3", "m_3", datetime.now(UTC)))
    headers = {**agent, "Idempotency-Key": "req-1"}
    first = reply(client, "messenger.dm-PAGE1-PSID3", headers)
    again = reply(client, "messenger.dm-PAGE1-PSID3", headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert len(platforms.requests) == 1
    assert json.loads(first.body)["message"]["id"] == json.loads(again.body)["message"]["id"]


def test_unauthenticated_and_wrong_role_calls_are_refused(client, agent) -> None:
    assert client.http.get("/api/conversations").status_code == 401
    bad = client.http.get("/api/conversations", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    forbidden = client.http.put("/api/teams/support/rota", headers=agent, body="{}")
    assert forbidden.status_code == 403


def test_the_inbox_lists_earliest_deadline_first_with_a_cursor(client, agent, monkeypatch,
                                                               platforms) -> None:
    for n, minutes in enumerate((5, 30, 15)):
        post_x(client, mention(f"208076581357819000{n}", minutes_ago=minutes))
    first = json.loads(client.http.get("/api/conversations?limit=2", headers=agent).body)
    assert [c["id"] for c in first["conversations"]] == [
        "x.t-2080765813578190001", "x.t-2080765813578190002"]
    assert first["conversations"][0]["seconds_left"] < first["conversations"][1][
        "seconds_left"]
    rest = json.loads(client.http.get(f"/api/conversations?limit=2&cursor={first['next']}",
                                      headers=agent).body)
    assert [c["id"] for c in rest["conversations"]] == ["x.t-2080765813578190000"]
    bad = client.http.get("/api/conversations?cursor=garbage", headers=agent)
    assert bad.status_code == 400


def test_the_sla_report_counts_what_really_happened(client, agent, platforms) -> None:
    post_x(client, mention("2080765813578191400", minutes_ago=2))     # answered below: met
    post_x(client, mention("2080765813578191401", minutes_ago=300))   # never answered
    assert reply(client, "x.t-2080765813578191400", agent).status_code == 201
    response = client.http.get("/api/reports/sla", headers=agent)
    assert response.status_code == 200
    report = json.loads(response.body)
    overall = report["overall"]
    assert (overall["turns"], overall["met"], overall["breached"]) == (2, 1, 1)
    assert overall["attainment"] == 0.5
    first = overall["first_response_seconds"]
    assert first["count"] == 1
    assert 120 <= first["p50"] < 130  # opened two minutes before the reply
    assert report["by"]["agent"]["alice"]["met"] == 1
    assert report["fairness"]["public_attainment"] == 0.5
    assert report["fairness"]["private_attainment"] is None
    assert client.http.get("/api/reports/sla?from=2026-13-01",
                           headers=agent).status_code == 400


def test_a_reply_emits_the_response_time_as_an_emf_metric(client, agent, platforms,
                                                          capsys) -> None:
    post_x(client, mention("2080765813578191500", minutes_ago=3))
    capsys.readouterr()
    assert reply(client, "x.t-2080765813578191500", agent).status_code == 201
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{") and "_aws" in line]
    [emf] = [b for b in blobs if "FirstResponseTime" in b]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ReplyWindow"
    [value] = emf["FirstResponseTime"] if isinstance(emf["FirstResponseTime"], list) else [
        emf["FirstResponseTime"]]
    assert 180 <= value < 190
    assert emf["platform"] == "x"


def test_a_revoked_token_is_a_502_naming_the_channel_and_shows_in_health(
        client, agent, platforms) -> None:
    post_x(client, mention("2080765813578191600"))
    platforms.fail_next(401)
    response = reply(client, "x.t-2080765813578191600", agent)
    assert response.status_code == 502
    assert json.loads(response.body)["error"].startswith("x: token rejected (401)")
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["channels"]["x"]["state"] == "unhealthy"
    assert "reconnect the channel" in health["channels"]["x"]["detail"]


def test_x_refusing_a_duplicate_is_this_replys_refusal_not_a_channel_down(
        client, agent, platforms) -> None:
    post_x(client, mention("2080765813578191650"))
    # X's published answer to a post it already has: 403, the reason in `detail`.
    platforms.fail_next(403, body={
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank", "title": "Forbidden", "status": 403})
    response = reply(client, "x.t-2080765813578191650", agent)
    assert response.status_code == 409
    assert json.loads(response.body)["error"] == (
        "x: refused the reply (403): You are not allowed to create a Tweet with duplicate "
        "content.")
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["channels"].get("x", {}).get("state") not in ("unhealthy", "revoked")
    assert [c for c in bootstrap.channels().all() if c.problem or c.incident] == []
    # The next reply goes out: the channel was fine all along.
    assert reply(client, "x.t-2080765813578191650", agent, text="Sorry, here is more"
                 ).status_code == 201


def test_an_app_revoke_event_marks_the_channel(client, platforms) -> None:
    post_x(client, fixture("twitter/aaa_docs_user_event.json"))
    health = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert health["channels"]["x"]["state"] == "revoked"


def whatsapp(number: str, mid: str, at: datetime) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "metadata": {"display_phone_number": "1555", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Priya"}, "wa_id": number}],
            "messages": [{"from": number, "id": mid, "timestamp": str(int(at.timestamp())),
                          "type": "text", "text": {"body": "where is my order"}}]}}]}]}


def test_a_whatsapp_reply_inside_the_window_goes_through_the_cloud_api(client, agent,
                                                                       platforms) -> None:
    post_meta(client, whatsapp("447700900001", "wamid.1", datetime.now(UTC)))
    assert reply(client, "whatsapp.wa-106540352242922-447700900001", agent).status_code == 201
    [sent] = platforms.requests
    assert sent["path"] == "/106540352242922/messages"
    assert sent["headers"]["Authorization"] == f"Bearer {WHATSAPP_TOKEN}"
    assert sent["json"] == {"messaging_product": "whatsapp", "to": "447700900001",
                            "type": "text", "text": {"body": "On it!"}}


def test_a_whatsapp_reply_outside_the_window_needs_a_template(client, agent,
                                                              platforms) -> None:
    post_meta(client, whatsapp("447700900002", "wamid.2",
                               datetime.now(UTC) - timedelta(hours=25)))
    refused = reply(client, "whatsapp.wa-106540352242922-447700900002", agent)
    assert refused.status_code == 409
    assert "template" in json.loads(refused.body)["error"]
    assert platforms.requests == []


def test_an_instagram_comment_gets_a_public_reply_under_it(client, agent, platforms) -> None:
    post_meta(client, fixture("instagram/restfb_ig_comment_dashboard_sample.json"))
    assert reply(client, "instagram.c-987654321", agent).status_code == 201
    [sent] = platforms.requests
    assert sent["path"] == "/123456789/replies"
    assert sent["json"] == {"message": "On it!"}


def test_an_instagram_comment_reply_sends_the_page_token_in_the_header(client, agent,
                                                                     platforms) -> None:
    post_meta(client, fixture("instagram/restfb_ig_comment_dashboard_sample.json"))
    assert reply(client, "instagram.c-987654321", agent).status_code == 201
    [sent] = platforms.requests
    assert sent["headers"]["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert sent["query"] == {}


def test_an_id_that_is_not_of_the_platforms_shape_is_refused_before_any_request(
        client, agent, platforms) -> None:
    """A comment id like `../me` would post to another Graph API endpoint: refused, no call."""
    for bad in ("../me", "123/../../me", "1?access_token=x", "1%2F..", "12 3"):
        payload = copy.deepcopy(fixture("instagram/restfb_ig_comment_dashboard_sample.json"))
        payload["entry"][0]["changes"][0]["value"].update(id=bad, parent_id=f"p{len(bad)}")
        post_meta(client, payload)
        refused = reply(client, f"instagram.c-p{len(bad)}", agent)
        assert refused.status_code == 409, (bad, refused.body)
        assert "not of the platform's id shape" in json.loads(refused.body)["error"]
    assert platforms.requests == []


def test_assign_resolve_and_reopen(client, agent, platforms) -> None:
    post_meta(client, messenger("PSID9", "m_9", datetime.now(UTC)))
    make_agent(client, "bob", ["support"])
    conv = "/api/conversations/messenger.dm-PAGE1-PSID9"
    assigned = client.http.post(f"{conv}/assign", headers=agent,
                                body=json.dumps({"agent": "bob"}))
    assert json.loads(assigned.body)["assignee"] == "bob"
    resolved = json.loads(client.http.post(f"{conv}/resolve", headers=agent).body)
    assert resolved["status"] == "resolved"
    reopened = json.loads(client.http.post(f"{conv}/reopen", headers=agent).body)
    assert reopened["status"] == "awaiting_customer"
    assert client.http.post("/api/conversations/x.t-nope/resolve",
                            headers=agent).status_code == 404


def test_a_reply_whose_bookkeeping_failed_is_finished_by_the_platforms_echo(
        client, agent, platforms, monkeypatch) -> None:
    """The reply went out and answered the turn (the conversation's write), then the store
    failed before the message was kept: the echo's worker finds its id as the conversation's
    last message and finishes the bookkeeping, once."""
    from botocore.exceptions import ClientError

    post_x(client, mention("2080765813578191303"))
    ddb = bootstrap.dynamodb()
    real_put = ddb.put_item

    def no_messages(**kwargs: Any) -> Any:
        if kwargs["Item"]["SK"]["S"].startswith("MSG#"):
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")
        return real_put(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ddb, "put_item", no_messages)
        failed = reply(client, "x.t-2080765813578191303", agent, "Sorry! DM us your order")
    assert failed.status_code == 503
    assert len(platforms.requests) == 1  # it did go out
    detail = json.loads(client.http.get("/api/conversations/x.t-2080765813578191303",
                                        headers=agent).body)
    assert detail["status"] == "awaiting_customer"  # the turn is answered: the clock stopped
    assert [m["direction"] for m in detail["messages"]] == ["in"]
    echo = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    tweets = [i for i in ddb.scan(TableName=bootstrap.settings().table)["Items"]
              if i["PK"]["S"] == "CONV#x#t-2080765813578191303" and i["SK"]["S"] == "META"]
    sent_id = tweets[0]["last_message_id"]["S"]
    echo["data"]["payload"].update(id=sent_id, author_id="1111111111111111111",
                                   in_reply_to_tweet_id="2080765813578191303",
                                   in_reply_to_user_id="2222222222222222222",
                                   created_at=datetime.now(UTC).isoformat())
    post_x(client, echo)
    post_x(client, echo)  # and a redelivery of it changes nothing
    detail = json.loads(client.http.get("/api/conversations/x.t-2080765813578191303",
                                        headers=agent).body)
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]
    turns = [i for i in ddb.scan(TableName=bootstrap.settings().table)["Items"]
             if i["PK"]["S"] == "CONV#x#t-2080765813578191303" and i["SK"]["S"].startswith(
                 "TURN#")]
    assert len(turns) == 1 and "answered_at" in turns[0] and "response_seconds" in turns[0]


def test_an_echo_that_races_the_replys_own_bookkeeping_is_kept_once(
        client, agent, platforms, monkeypatch) -> None:
    """The platform's echo of a reply is applied by the worker between the reply's commit and
    the rest of its writes: the reply is still one message, where the agent API put it."""
    from chalicelib.services.ingest import ingest
    from chalicelib.webhooks.x_parser import parse_x

    post_x(client, mention("2080765813578191304"))
    ddb = bootstrap.dynamodb()
    real_put = ddb.put_item
    raced: list[str] = []

    def echo_right_after_the_commit(**kwargs: Any) -> Any:
        result = real_put(**kwargs)
        item = kwargs["Item"]
        if item["SK"]["S"] == "META" and item.get("last_outcome", {}).get("S") == (
                "turn_answered") and not raced:
            sent_id = item["last_message_id"]["S"]
            raced.append(sent_id)
            echo = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
            echo["data"]["payload"].update(
                id=sent_id, author_id="1111111111111111111",
                in_reply_to_tweet_id="2080765813578191304",
                in_reply_to_user_id="2222222222222222222",
                created_at=datetime.now(UTC).isoformat())
            now = datetime.now(UTC)
            ingest(parse_x(echo, now), bootstrap.ingest_deps())
            run_inbound_worker()
        return result

    with monkeypatch.context() as patch:
        patch.setattr(ddb, "put_item", echo_right_after_the_commit)
        assert reply(client, "x.t-2080765813578191304", agent, "Sorry!").status_code == 201
    assert raced
    detail = json.loads(client.http.get("/api/conversations/x.t-2080765813578191304",
                                        headers=agent).body)
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]


def test_a_reply_whose_commit_failed_is_kept_once_from_its_echo(
        client, agent, platforms, monkeypatch) -> None:
    """The reply went out but its conversation's write failed: what it had recorded of where
    it would be kept is dropped, so its echo is kept, once, where the echo says."""
    from botocore.exceptions import ClientError

    post_x(client, mention("2080765813578191305"))
    ddb = bootstrap.dynamodb()
    real_put = ddb.put_item

    def no_commit(**kwargs: Any) -> Any:
        if kwargs["Item"]["SK"]["S"] == "META":
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "PutItem")
        return real_put(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ddb, "put_item", no_commit)
        assert reply(client, "x.t-2080765813578191305", agent, "Sorry!").status_code == 503
    sent_id = f"19000000000000{platforms.counter:05d}"
    claims = [i for i in ddb.scan(TableName=bootstrap.settings().table)["Items"]
              if i["PK"]["S"] == f"MSGID#x#{sent_id}"]
    assert claims == []  # nothing left that points where nothing was kept
    echo = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    echo["data"]["payload"].update(id=sent_id, author_id="1111111111111111111",
                                   in_reply_to_tweet_id="2080765813578191305",
                                   in_reply_to_user_id="2222222222222222222",
                                   created_at=datetime.now(UTC).isoformat())
    post_x(client, echo)
    post_x(client, echo)  # a redelivery changes nothing
    detail = json.loads(client.http.get("/api/conversations/x.t-2080765813578191305",
                                        headers=agent).body)
    assert detail["status"] == "awaiting_customer"
    assert [m["direction"] for m in detail["messages"]] == ["in", "out"]


# --- Teams: an agent sees only their teams' conversations ----------------------------------

X_CONV, DM_CONV = "x.t-2080765813578197001", "messenger.dm-PAGE1-PSID70"


@pytest.fixture
def two_teams(platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Any) -> None:
    """The shipped policies plus a `social` team that takes X; everything else is support's."""
    from chalicelib.config import DEFAULT_POLICIES

    policies = tmp_path / "policies.yaml"
    policies.write_text(DEFAULT_POLICIES.read_text() + "teams:\n  social:\n    platforms: [x]\n")
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(policies))
    bootstrap.reset()


@pytest.fixture
def social(client: Client, two_teams: None) -> dict[str, str]:
    """Sam, an agent of the social team only (alice, the `agent` fixture, is support's)."""
    return make_agent(client, "sam", ["social"])


def conversations_of(client: Client, headers: dict[str, str], query: str = "") -> list[str]:
    listed = client.http.get(f"/api/conversations{query}", headers=headers)
    assert listed.status_code == 200, listed.body
    return [c["id"] for c in json.loads(listed.body)["conversations"]]


def test_another_teams_agent_gets_404_on_every_conversation_route_and_changes_nothing(
        client, agent, social, platforms) -> None:
    post_x(client, mention(X_CONV.removeprefix("x.t-")))             # social's
    post_meta(client, messenger("PSID70", "m_70", datetime.now(UTC)))  # support's
    base = f"/api/conversations/{X_CONV}"
    calls = [("GET", base, None), ("POST", f"{base}/replies", {"text": "hi"}),
             ("POST", f"{base}/assign", {"agent": "alice"}), ("POST", f"{base}/resolve", None),
             ("POST", f"{base}/reopen", None)]
    for method, path, body in calls:
        answer = client.http.request(method, path, headers=agent,
                                     body=json.dumps(body).encode() if body else b"")
        missing = client.http.request(method, path.replace(X_CONV, "x.t-1"), headers=agent,
                                      body=json.dumps(body).encode() if body else b"")
        # Exactly what a conversation that does not exist gets: existence does not leak.
        assert (answer.status_code, missing.status_code) == (404, 404), (method, path)
        assert json.loads(answer.body)["error"] == json.loads(missing.body)["error"].replace(
            "x.t-1", X_CONV)
    assert platforms.requests == []  # no reply went out on another team's conversation
    seen = json.loads(client.http.get(base, headers=social).body)
    assert (seen["status"], seen["assignee"], seen["team"]) == ("awaiting_agent", None, "social")
    # The other way round too, and the admin sees both.
    assert client.http.get(f"/api/conversations/{DM_CONV}", headers=social).status_code == 404
    assert client.http.get(f"/api/conversations/{DM_CONV}", headers=agent).status_code == 200
    assert client.http.get(base, headers=ADMIN).status_code == 200


def test_the_inbox_lists_only_the_callers_teams(client, agent, social, platforms) -> None:
    post_x(client, mention(X_CONV.removeprefix("x.t-")))
    post_meta(client, messenger("PSID70", "m_70", datetime.now(UTC)))
    assert conversations_of(client, agent) == [DM_CONV]
    assert conversations_of(client, social) == [X_CONV]  # not in support: their own team
    assert conversations_of(client, ADMIN, "?team=social") == [X_CONV]
    refused = client.http.get("/api/conversations?team=social", headers=agent)
    assert refused.status_code == 404
    assert "not one of your teams" in json.loads(refused.body)["error"]


def test_the_sla_report_covers_only_the_callers_teams(client, agent, social,
                                                      platforms) -> None:
    post_x(client, mention(X_CONV.removeprefix("x.t-"), minutes_ago=2))
    post_meta(client, messenger("PSID70", "m_70", datetime.now(UTC)))
    assert reply(client, X_CONV, social).status_code == 201

    def turns(headers: dict[str, str], query: str = "") -> int:
        answer = client.http.get(f"/api/reports/sla{query}", headers=headers)
        assert answer.status_code == 200, answer.body
        return int(json.loads(answer.body)["overall"]["turns"])

    assert (turns(agent), turns(social), turns(ADMIN)) == (1, 1, 2)
    assert turns(ADMIN, "?team=social") == 1
    refused = client.http.get("/api/reports/sla?team=social", headers=agent)
    assert refused.status_code == 404
    assert "not one of your teams" in json.loads(refused.body)["error"]
    by_agent = json.loads(client.http.get("/api/reports/sla", headers=agent).body)["by"]
    assert "sam" not in by_agent.get("agent", {})  # nothing of social's leaks through


def test_assigning_to_an_agent_outside_the_team_is_refused(client, agent, social,
                                                           platforms) -> None:
    post_meta(client, messenger("PSID70", "m_70", datetime.now(UTC)))
    assign = f"/api/conversations/{DM_CONV}/assign"
    for who in ("sam", "nobody"):
        refused = client.http.post(assign, headers=agent, body=json.dumps({"agent": who}))
        assert refused.status_code == 400
        assert f"{who} is not an agent of team support" in json.loads(refused.body)["error"]
    detail = json.loads(client.http.get(f"/api/conversations/{DM_CONV}", headers=agent).body)
    assert detail["assignee"] is None
    done = client.http.post(assign, headers=agent, body=json.dumps({"agent": "alice"}))
    assert json.loads(done.body)["assignee"] == "alice"


def test_teams_are_set_by_the_admin_and_a_rota_makes_its_agents_members(
        client, agent, two_teams, platforms) -> None:
    post_meta(client, messenger("PSID70", "m_70", datetime.now(UTC)))
    conv = f"/api/conversations/{DM_CONV}"
    rob = make_agent(client, "rob", [])
    assert client.http.get(conv, headers=rob).status_code == 404
    empty = json.loads(client.http.get("/api/conversations", headers=rob).body)
    assert (empty["team"], empty["conversations"]) == (None, [])
    # On support's rota: paged for support, so a member of it.
    rota = client.http.put("/api/teams/support/rota", headers=ADMIN, body=json.dumps(
        {"members": ["alice", "rob"], "starts_on": "2026-11-25"}))
    assert rota.status_code == 200, rota.body
    assert client.http.get(conv, headers=rob).status_code == 200
    # The admin replaces the teams: the next request already sees the change.
    moved = client.http.put("/api/agents/rob/teams", headers=ADMIN,
                            body=json.dumps({"teams": ["social"]}))
    assert json.loads(moved.body) == {"agent": "rob", "teams": ["social"]}
    assert client.http.get(conv, headers=rob).status_code == 404
    for body, status, reason in (({"teams": ["nope"]}, 400, "unknown 'nope'"),
                                 ({"teams": "support"}, 400, "a list of team names"),
                                 ({}, 400, "a list of team names")):
        answer = client.http.put("/api/agents/rob/teams", headers=ADMIN, body=json.dumps(body))
        assert answer.status_code == status
        assert reason in json.loads(answer.body)["error"]
    assert client.http.put("/api/agents/ghost/teams", headers=ADMIN, body=json.dumps(
        {"teams": ["support"]})).status_code == 404
    assert client.http.put("/api/agents/rob/teams", headers=rob, body=json.dumps(
        {"teams": ["support"]})).status_code == 403
    bad = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "zoe", "name": "Zoe", "phone": "+15550100003", "teams": ["support", "billing"]}))
    assert bad.status_code == 400
    assert "unknown 'billing'" in json.loads(bad.body)["error"]


def test_a_tampered_forged_or_replayed_cursor_is_refused(client, agent, social,
                                                        platforms) -> None:
    import base64

    for n in range(3):
        post_meta(client, messenger(f"PSID8{n}", f"m_8{n}", datetime.now(UTC)))
    first = json.loads(client.http.get("/api/conversations?limit=1", headers=agent).body)
    cursor = first["next"]
    assert client.http.get(f"/api/conversations?limit=1&cursor={cursor}",
                           headers=agent).status_code == 200
    position, _, signature = cursor.rpartition(".")
    # Another team's queue, written by hand and signed with a guess: not ours.
    key = json.loads(base64.urlsafe_b64decode(position))
    key["GSI1PK"] = "QUEUE#social#awaiting_agent"
    forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    for bad in (f"{forged}.{signature}", forged, position, cursor[:-2] + "AA"):
        answer = client.http.get(f"/api/conversations?limit=1&cursor={bad}", headers=agent)
        assert answer.status_code == 400, bad
        assert "cursor" in json.loads(answer.body)["error"]
    # A cursor continues its own query only: not another status, nor another team.
    for query in ("status=resolved", "team=social"):
        replayed = client.http.get(f"/api/conversations?{query}&cursor={cursor}",
                                   headers=ADMIN)
        assert replayed.status_code == 400, query


# --- Idempotency-Key: the caller's, on this conversation -----------------------------------

def test_an_idempotency_key_is_scoped_to_the_agent_and_the_conversation(client, agent,
                                                                       platforms) -> None:
    post_meta(client, messenger("PSID71", "m_71", datetime.now(UTC)))
    post_meta(client, messenger("PSID72", "m_72", datetime.now(UTC)))
    carol = {**make_agent(client, "carol", ["support"]), "Idempotency-Key": "1"}
    alice = {**agent, "Idempotency-Key": "1"}
    sent = [reply(client, "messenger.dm-PAGE1-PSID71", alice, "Refund sent"),
            reply(client, "messenger.dm-PAGE1-PSID71", carol, "Refund sent"),
            reply(client, "messenger.dm-PAGE1-PSID72", alice, "Refund sent")]
    assert [r.status_code for r in sent] == [201, 201, 201]
    ids = {json.loads(r.body)["message"]["id"] for r in sent}
    assert len(ids) == 3 and len(platforms.requests) == 3  # three replies, none swallowed
    assert [json.loads(r.body)["message"]["author"] for r in sent] == ["alice", "carol",
                                                                       "alice"]


def test_an_idempotency_key_reused_for_another_reply_is_refused(client, agent,
                                                               platforms) -> None:
    post_meta(client, messenger("PSID73", "m_73", datetime.now(UTC)))
    headers = {**agent, "Idempotency-Key": "req-9"}
    assert reply(client, "messenger.dm-PAGE1-PSID73", headers, "Refund sent").status_code == 201
    reused = reply(client, "messenger.dm-PAGE1-PSID73", headers, "Actually, no refund")
    assert reused.status_code == 409
    assert "already used for a different reply" in json.loads(reused.body)["error"]
    assert len(platforms.requests) == 1  # the second text never went out
    detail = json.loads(client.http.get("/api/conversations/messenger.dm-PAGE1-PSID73",
                                        headers=agent).body)
    assert [m["text"] for m in detail["messages"] if m["direction"] == "out"] == [
        "Refund sent"]


# --- /health: up for anyone, details for the admin -----------------------------------------

def test_health_tells_strangers_only_that_it_is_up(client, agent, platforms) -> None:
    for headers in ({}, agent, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        answer = client.http.get("/health", headers=headers)
        assert answer.status_code == 200
        assert json.loads(answer.body) == {"status": "ok"}, headers
    full = json.loads(client.http.get("/health", headers=ADMIN).body)
    assert full["status"] == "ok"
    assert full["table"] == bootstrap.settings().table
    assert {"queues", "topic", "state_machine", "stage", "channels"} <= set(full)


# --- No double posts: resent only when it certainly did not arrive ----------------------------
# A reply that may have reached the platform (a read timeout, a 5xx) is never resent: the agent
# is told so, the conversation shows it, a retry with the same Idempotency-Key posts nothing,
# and the platform's echo settles it. The fake platform counts the posts it took.


def conversation(client: Client, conv: str, headers: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(client.http.get(f"/api/conversations/{conv}",
                                                       headers=headers).body)
    return found


def echo_of(tweet: str, text: str, sent_id: str) -> dict[str, Any]:
    """The brand's own post as X's webhook delivers it."""
    echo = copy.deepcopy(fixture("twitter/xaa_post_reply_create.json"))
    echo["data"]["payload"].update(id=sent_id, author_id="1111111111111111111", text=text,
                                   in_reply_to_tweet_id=tweet,
                                   in_reply_to_user_id="2222222222222222222",
                                   created_at=datetime.now(UTC).isoformat())
    return dict(echo)


@pytest.mark.parametrize("status", [500, 503])
def test_an_ambiguous_5xx_is_not_resent_and_a_retry_with_the_same_key_posts_nothing(
        client, agent, platforms: FakePlatforms, status: int) -> None:
    tweet = f"208076581357819{status}"
    conv = f"x.t-{tweet}"
    post_x(client, mention(tweet))
    platforms.fail_next(status, times=3, headers={"Retry-After": "0"})
    headers = {**agent, "Idempotency-Key": "reply-1"}
    first = reply(client, conv, headers, "Sorry! A refund is on its way")
    assert first.status_code == 502, first.body
    said = json.loads(first.body)["error"]
    assert f"answered {status}" in said and "may have been sent" in said
    assert len(platforms.requests) == 1  # taken once, never resent
    again = reply(client, conv, headers, "Sorry! A refund is on its way")
    assert again.status_code == 502 and "may have been sent" in json.loads(again.body)["error"]
    assert len(platforms.requests) == 1  # the same key: still one post
    print(f"ambiguous {status}: {len(platforms.requests)} post, retry with the same key: "
          f"still {len(platforms.requests)}")
    shown = conversation(client, conv, agent)
    assert shown["status"] == "awaiting_agent"  # nothing confirmed: the clock keeps running
    [unsure] = shown["unsure_replies"]
    assert unsure["state"] == "may_have_been_sent" and unsure["author"] == "alice"
    assert unsure["text"] == "Sorry! A refund is on its way"
    # The platform's echo of the brand's post settles it: sent, and the turn answered.
    post_x(client, echo_of(tweet, "Sorry! A refund is on its way", f"209{status}0000000001"))
    shown = conversation(client, conv, agent)
    assert shown["status"] == "awaiting_customer"
    assert [u["state"] for u in shown["unsure_replies"]] == ["sent"]
    assert shown["unsure_replies"][0]["message_id"] == f"209{status}0000000001"


def test_a_read_timeout_is_a_504_that_may_have_been_sent_and_is_never_resent(
        client, agent, platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYWINDOW_PLATFORM_READ_TIMEOUT", "1")
    bootstrap.reset()
    post_x(client, mention("2080765813578191700"))
    platforms.delay_next(2.5)  # the post is taken; the answer comes after the client gave up
    headers = {**agent, "Idempotency-Key": "slow-1"}
    started = time.monotonic()
    first = reply(client, "x.t-2080765813578191700", headers)
    took = time.monotonic() - started
    assert first.status_code == 504, first.body
    assert "no answer within 1 s" in json.loads(first.body)["error"]
    assert took < 2.5  # the read timeout, not the platform, decided
    assert platforms.counter == 1 and len(platforms.requests) == 1
    again = reply(client, "x.t-2080765813578191700", headers)
    assert again.status_code == 504
    time.sleep(1.6)  # let the slow answer finish: nothing else arrives
    assert platforms.counter == 1 and len(platforms.requests) == 1
    print(f"read timeout: {platforms.counter} post, retry with the same key: still "
          f"{platforms.counter}")
    shown = conversation(client, "x.t-2080765813578191700", agent)
    assert [u["state"] for u in shown["unsure_replies"]] == ["may_have_been_sent"]


def test_a_refused_connection_is_retried_and_the_reply_goes_out_once(
        client, agent, platforms: FakePlatforms) -> None:
    post_x(client, mention("2080765813578191701"))
    platforms.refuse_connections(0.2)  # refuses the first attempt, not the one 0.5 s on
    response = reply(client, "x.t-2080765813578191701", agent)
    assert response.status_code == 201, response.body
    assert platforms.counter == 1 and len(platforms.requests) == 1
    assert conversation(client, "x.t-2080765813578191701", agent)["unsure_replies"] == []


def test_a_429_whose_reset_is_beyond_the_budget_is_not_waited_for(
        client, agent, platforms: FakePlatforms) -> None:
    post_x(client, mention("2080765813578191702"))
    platforms.fail_next(429, headers={"x-rate-limit-reset": str(int(time.time()) + 900)})
    started = time.monotonic()
    response = reply(client, "x.t-2080765813578191702", agent)
    assert time.monotonic() - started < 5
    assert response.status_code == 502
    assert "was not sent" in json.loads(response.body)["error"]
    assert len(platforms.requests) == 1 and platforms.counter == 0
    # Certainly not sent: the same request later goes out.
    assert reply(client, "x.t-2080765813578191702", agent).status_code == 201
    assert platforms.counter == 1
