"""Several brand accounts per platform against moto, through the real webhook routes, the
inbound worker and the agent API, with the stand-in platforms checking which credentials sign
each reply (tests/fixtures/policies/accounts.yaml: two X accounts, two Pages, two WhatsApp
numbers, each answered by its own team)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import bootstrap, handlers
from infrastructure.local import outbox
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, post_webhook, store_secrets
from tests.platform_fake import FakePlatforms, fake_platforms
from tests.unit.test_account_senders import SECRET as ACCOUNT_SECRET
from tests.unit.webhooks.conftest import fixture

ACCOUNTS = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "accounts.yaml"
ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}", "Content-Type": "application/json"}
TEAMS = ["care", "sales", "uk", "us", "wa_uk", "wa_us"]


@pytest.fixture
def platforms(aws: Built, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePlatforms]:
    with fake_platforms() as fake:
        monkeypatch.setenv("REPLYWINDOW_X_API_URL", fake.url)
        monkeypatch.setenv("REPLYWINDOW_GRAPH_API_URL", fake.url)
        monkeypatch.setenv("REPLYWINDOW_POLICIES", str(ACCOUNTS))
        store_secrets({**SECRETS, **ACCOUNT_SECRET})
        yield fake


@pytest.fixture
def client(platforms: FakePlatforms) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def post_x(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    return post_webhook(client, "x", payload)


def post_meta(client: Client, payload: dict[str, Any]) -> dict[str, Any]:
    return post_webhook(client, "meta", payload)


def x_dm(account: str, customer: str, message_id: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("twitter/aaa_docs_direct_message_events.json"))
    payload["for_user_id"] = account
    event = payload["direct_message_events"][0]
    event["id"], event["created_timestamp"] = message_id, str(
        int(datetime.now(UTC).timestamp() * 1000))
    event["message_create"]["target"]["recipient_id"] = account
    event["message_create"]["sender_id"] = customer
    event["message_create"]["message_data"]["text"] = "my refund never came"
    users = payload["users"]
    payload["users"] = {account: {**users["4337869213"], "id": account},
                        customer: {**users["3001969357"], "id": customer}}
    return dict(payload)


def page_dm(page: str, psid: str, mid: str) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page, "time": 1, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page},
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "message": {"mid": mid, "text": "my refund never came"}}]}]}


def whatsapp(phone_id: str, sender: str, message_id: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("whatsapp/pywa_text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_id
    value["contacts"][0]["wa_id"] = sender
    message = value["messages"][0]
    message.update({"from": sender, "id": message_id,
                    "timestamp": str(int(datetime.now(UTC).timestamp()))})
    message["text"]["body"] = "my refund never came"
    return dict(payload)


# (conversation id, the webhook route, the delivery, its team, the token its reply is signed
# with); built when the test runs, so its timestamps are now.
def cases() -> list[tuple[str, str, dict[str, Any], str, str]]:
    return [
        ("x.dm-1001-501", "x", x_dm("1001", "501", "9001"), "sales", "at-main-0123456789"),
        ("x.dm-1002-502", "x", x_dm("1002", "502", "9002"), "care", "at-help-0123456789"),
        ("messenger.dm-2001-601", "meta", page_dm("2001", "601", "m-uk"), "uk",
         "page-uk-token"),
        ("messenger.dm-2002-602", "meta", page_dm("2002", "602", "m-us"), "us",
         "page-us-token"),
        ("whatsapp.wa-3001-447700900001", "meta",
         whatsapp("3001", "447700900001", "wamid.uk"), "wa_uk", "wa-uk-token"),
        ("whatsapp.wa-3002-12025550101", "meta",
         whatsapp("3002", "12025550101", "wamid.us"), "wa_us", "wa-us-token"),
    ]


def test_each_accounts_deliveries_go_to_its_team_and_its_replies_out_as_that_account(
        client: Client, platforms: FakePlatforms) -> None:
    created = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": "ana", "name": "Ana", "phone": "+15550100009", "teams": TEAMS}))
    assert created.status_code == 201, created.body
    agent = {"Authorization": f"Bearer {json.loads(created.body)['token']}",
             "Content-Type": "application/json"}
    deliveries = cases()
    for conversation, route, payload, _, _ in deliveries:
        post = post_x if route == "x" else post_meta
        assert post(client, payload)["events"] == {"accepted": 1}, conversation
    for conversation, _, _, team, token in deliveries:
        shown = client.http.get(f"/api/conversations/{conversation}", headers=agent)
        assert shown.status_code == 200, (conversation, shown.body)
        detail = json.loads(shown.body)
        assert (detail["team"], detail["account"]) == (team, conversation.split("-")[1])
        before = len(platforms.requests)
        sent = client.http.post(f"/api/conversations/{conversation}/replies", headers=agent,
                                body=json.dumps({"text": "Sorry - on it."}))
        assert sent.status_code == 201, (conversation, sent.body)
        [request] = platforms.requests[before:]
        assert request["token"] == token, conversation
        assert request.get("oauth_valid", True)
    # The SLA report has a line per account.
    report = json.loads(client.http.get("/api/reports/sla", headers=ADMIN).body)
    assert set(report["by"]["account"]) == {
        "x:1001", "x:1002", "messenger:2001", "messenger:2002", "whatsapp:3001",
        "whatsapp:3002"}


def test_an_undeclared_accounts_delivery_is_answered_counted_and_stored_nowhere(
        client: Client, platforms: FakePlatforms) -> None:
    table = bootstrap.settings().table

    def stored() -> int:
        return len([i for i in bootstrap.dynamodb().scan(TableName=table)["Items"]
                    if not i["PK"]["S"].startswith("CHANNELS")])

    before = stored()
    assert post_x(client, x_dm("1003", "503", "9003"))["events"] == {"unknown_account": 1}
    assert post_meta(client, page_dm("2999", "603", "m-xx"))["events"] == {
        "unknown_account": 1}
    assert post_meta(client, whatsapp("3999", "447700900009", "wamid.xx"))["events"] == {
        "unknown_account": 1}
    assert stored() == before  # no claim, no conversation, no customer
    # Counted in the partition the webhook's role may write (its dynamodb:LeadingKeys).
    counters = {(i["PK"]["S"], i["SK"]["S"]) for i in bootstrap.dynamodb().scan(
        TableName=table)["Items"] if "#unknown#" in i["SK"]["S"]}
    assert counters == {("CHANNELS", "x#unknown#1003"), ("CHANNELS", "messenger#unknown#2999"),
                        ("CHANNELS", "whatsapp#unknown#3999")}
    channels = json.loads(client.http.get("/health", headers=ADMIN).body)["channels"]
    assert channels["x"]["unknown_accounts"] == {"1003": 1}
    assert channels["messenger"]["unknown_accounts"] == {"2999": 1}
    assert channels["whatsapp"]["unknown_accounts"] == {"3999": 1}
    page = admins_channels_page(client)
    assert "1003: 1 delivery not stored" in page and "Deliveries not stored" in page


def test_a_rejected_token_is_that_accounts_problem_only(
        client: Client, platforms: FakePlatforms) -> None:
    agent = agent_of_every_team(client, "ben", "Ben", "+15550100008")
    post_meta(client, page_dm("2001", "611", "m-uk-2"))
    post_meta(client, page_dm("2002", "612", "m-us-2"))
    platforms.fail_next(400, body={"error": {"message": "Error validating access token",
                                             "code": 190}})
    failed = client.http.post("/api/conversations/messenger.dm-2001-611/replies",
                              headers=agent, body=json.dumps({"text": "On it"}))
    assert failed.status_code == 502, failed.body
    sent = client.http.post("/api/conversations/messenger.dm-2002-612/replies",
                            headers=agent, body=json.dumps({"text": "On it"}))
    assert sent.status_code == 201, sent.body
    channels = json.loads(client.http.get("/health", headers=ADMIN).body)["channels"]
    assert channels["messenger:2001"]["state"] == "unhealthy"  # the UK Page's token
    assert channels["messenger:2002"]["state"] != "unhealthy"  # the US Page is fine
    assert channels["messenger:2002"]["last_send_ok_at"] is not None
    # Each account's declared name next to its id, on /health and the console's Channels page.
    assert channels["messenger:2001"]["account_name"] == "Scruffy UK"
    assert channels["messenger:2002"]["account_name"] == "Scruffy US"
    page = admins_channels_page(client)
    assert "messenger:2001 (Scruffy UK):" in page and "messenger:2002 (Scruffy US):" in page


def agent_of_every_team(client: Client, agent_id: str, name: str, phone: str
                        ) -> dict[str, str]:
    """An agent of every team, created by the admin: the headers of its API calls."""
    created = client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
        {"id": agent_id, "name": name, "phone": phone, "teams": TEAMS}))
    return {"Authorization": f"Bearer {json.loads(created.body)['token']}",
            "Content-Type": "application/json"}


def admins_channels_page(client: Client) -> str:
    """The console's Channels page as an admin signed in with the admin token sees it."""
    answer = client.http.post("/console/sign-in", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
        body=f"token={SECRETS['admin_token']}")
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    return str(client.http.get("/console/channels", headers={"Cookie": cookie}).body.decode())


def instagram_dm(account: str, igsid: str, mid: str) -> dict[str, Any]:
    payload = page_dm(account, igsid, mid)
    return {**payload, "object": "instagram"}


def instagram_mention(account: str, media: str, comment: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("instagram/restfb_ig_mentions.json"))
    payload["entry"][0]["id"] = account
    payload["entry"][0]["changes"][0]["value"] = {"media_id": media, "comment_id": comment}
    return dict(payload)


def test_each_instagram_accounts_dms_and_mentions_go_to_its_team_answered_with_its_pages_token(
        client: Client, platforms: FakePlatforms) -> None:
    agent = agent_of_every_team(client, "cy", "Cy", "+15550100007")
    # (conversation, delivery, team, the Graph call, the token the linked Page lends it)
    deliveries = [
        ("instagram.dm-4001-701", instagram_dm("4001", "701", "ig-m-uk"), "uk",
         "/4001/messages", "page-uk-token"),
        ("instagram.mention-17900000000000001_17900000000000002",
         instagram_mention("4002", "17900000000000001", "17900000000000002"), "us",
         "/4002/mentions", "page-us-token"),
    ]
    for conversation, payload, _, _, _ in deliveries:
        assert post_meta(client, payload)["events"] == {"accepted": 1}, conversation
    for conversation, _, team, path, token in deliveries:
        detail = json.loads(client.http.get(f"/api/conversations/{conversation}",
                                            headers=agent).body)
        assert detail["team"] == team, conversation
        before = len(platforms.requests)
        sent = client.http.post(f"/api/conversations/{conversation}/replies", headers=agent,
                                body=json.dumps({"text": "Sorry - on it."}))
        assert sent.status_code == 201, (conversation, sent.body)
        [request] = platforms.requests[before:]
        assert (request["path"], request["token"]) == (path, token), conversation
    assert platforms.requests[-1]["json"] == {
        "media_id": "17900000000000001", "comment_id": "17900000000000002",
        "message": "Sorry - on it."}
    # An Instagram account no one declared: counted, not stored, as for the other platforms.
    assert post_meta(client, instagram_dm("4999", "702", "ig-m-xx"))["events"] == {
        "unknown_account": 1}


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def test_one_page_gone_quiet_pages_the_admins_once_naming_it(
        platforms: FakePlatforms, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import app

    policies = tmp_path / "policies.yaml"
    policies.write_text(ACCOUNTS.read_text() +
                        'channel_silence: {"messenger:2001": 30m, "messenger:2002": 30m}\n')
    monkeypatch.setenv("REPLYWINDOW_POLICIES", str(policies))
    bootstrap.reset()
    clock = Clock()
    monkeypatch.setattr(bootstrap, "now", clock)  # minutes pass in no time
    deliveries = tmp_path / "outbox.jsonl"
    outbox.install(deliveries)
    with Client(app.app) as client:
        assert client.http.post("/api/agents", headers=ADMIN, body=json.dumps(
            {"id": "ops", "name": "Ops", "phone": "+15550100010", "role": "admin"}
        )).status_code == 201
        post_meta(client, page_dm("2002", "622", "m-us-quiet"))  # the US Page, once
        for step in range(5):  # the UK Page every ten minutes
            post_meta(client, page_dm("2001", "621", f"m-uk-{step}"))
            clock.at += timedelta(minutes=10)
        assert handlers.channel_watch() == {"messenger:2002": "down: silent"}
        assert handlers.channel_watch() == {}  # one page per incident
        sms = [json.loads(line) for line in deliveries.read_text().splitlines()]
        assert [(d["to"], d["text"][:47]) for d in sms if d["protocol"] == "sms"] == [
            ("+15550100010", "CHANNEL DOWN messenger:2002 (Scruffy US): no ev")]
        channels = json.loads(client.http.get("/health", headers=ADMIN).body)["channels"]
        assert (channels["messenger:2001"]["state"], channels["messenger:2002"]["state"]) == (
            "ok", "silent")
        assert channels["messenger"]["state"] != "silent"
