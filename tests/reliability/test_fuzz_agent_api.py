"""Bad input against the agent and admin API: every route, with junk path parameters, query
strings and bodies (random bytes, truncated and deeply nested JSON, huge strings, each field of
a valid body replaced by a wrong type) under every kind of credential. Never a 5xx, never an
unhandled exception, and a refusal (4xx) writes nothing: not in DynamoDB, not in SNS. An agent
of another team never gets anything but a refusal on the conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.webhooks.signatures import meta_signature
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.platform_fake import FakePlatforms
from tests.unit.webhooks.conftest import fixture

TRIED = {"inputs": 0, "2xx": 0, "4xx": 0, "outsider": 0}
VALID: dict[str, Any] = {
    "replies": {"text": "Sorry about that, a refund is on its way.", "private": False},
    "assign": {"agent": "alice"},
    "agents": {"id": "zed", "name": "Zed", "phone": "+15550100009",
               "email": "zed@example.com", "role": "agent"},
    "rota": {"members": ["alice"], "shift": 86400, "handoff": "09:00", "timezone": "UTC",
             "starts_on": "2026-11-25", "lead": "alice"},
    "teams": {"teams": ["support"]},
    "overrides": {"start": "2026-11-25T09:00:00+00:00", "end": "2026-11-25T17:00:00+00:00",
                  "agent": "alice"},
}
ROUTES = [  # (method, path template, body kind or None)
    ("GET", "/api/conversations", None), ("GET", "/api/conversations/{id}", None),
    ("POST", "/api/conversations/{id}/replies", "replies"),
    ("POST", "/api/conversations/{id}/assign", "assign"),
    ("POST", "/api/conversations/{id}/resolve", None),
    ("POST", "/api/conversations/{id}/reopen", None), ("GET", "/api/reports/sla", None),
    ("POST", "/api/agents", "agents"), ("PUT", "/api/agents/{agent}/teams", "teams"),
    ("PUT", "/api/teams/{team}/rota", "rota"),
    ("POST", "/api/teams/{team}/overrides", "overrides"),
    ("GET", "/api/teams/{team}/oncall", None),
    ("GET", "/api/customers/{platform}/{user}", None),
    ("DELETE", "/api/customers/{platform}/{user}", None),
    ("GET", "/api/dlq/{queue}", None), ("POST", "/api/dlq/{queue}/redrive", None),
]
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
# Not the URL's own delimiters: chalice's local gateway also cuts ";params" off the last
# segment and drops tab, CR and LF (urlparse) before it matches a route, so such a request
# never reaches the app (nor can an HTTP request line carry them).
segment = st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                         blacklist_characters="/?#%;\t\r\n"),
                  min_size=1, max_size=80)


@pytest.fixture
def client(platforms: FakePlatforms) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def _state() -> tuple[list[dict[str, Any]], int]:
    items = bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]
    sns = bootstrap.sns()
    subscriptions = len(sns.list_subscriptions_by_topic(
        TopicArn=bootstrap.alerts_topic_arn())["Subscriptions"])
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"])), subscriptions


def _body(data: st.DataObject, kind: str | None) -> bytes:
    valid = VALID.get(kind or "", {})
    how = data.draw(st.sampled_from(["valid", "wrong_type", "bytes", "truncate", "nest",
                                     "huge", "junk"]))
    if how == "valid":
        return json.dumps(valid).encode()
    if how == "wrong_type" and valid:
        field = data.draw(st.sampled_from(sorted(valid)))
        return json.dumps({**valid, field: data.draw(junk)}).encode()
    if how == "bytes":
        return data.draw(st.binary(max_size=200))
    if how == "truncate":
        raw = json.dumps(valid or {"a": [1, 2]}).encode()
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)))]
    if how == "nest":
        depth = data.draw(st.integers(50, 3000))
        return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"
    if how == "huge":
        return json.dumps({**valid, "text": "x" * data.draw(st.integers(10_000, 300_000))}
                          ).encode()
    return json.dumps(data.draw(junk)).encode()


# Hundreds of examples, each reading the whole table: minutes on a busy machine.
@pytest.mark.timeout(900)
def test_fuzzed_agent_api_never_5xx_and_refusals_write_nothing(
        client: Client, agent: dict[str, str], social: dict[str, str]) -> None:
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    assert client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body)}
    ).status_code == 200
    run_inbound_worker()
    conversation = next(i["id"]["S"] for i in _state()[0] if i["SK"]["S"] == "META")
    admin = {"Authorization": f"Bearer {SECRETS['admin_token']}"}
    # `social` is an agent of another team than the conversation's (support).
    # Hypothesis draws the first elements most: the outsider first, so every run tries it.
    credentials = [social, agent, admin, {}, {"Authorization": "Bearer nope"},
                   {"Authorization": agent["Authorization"][:-1]}, {"Authorization": "Basic x"}]

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(st.data())
    def check(data: st.DataObject) -> None:
        method, template, kind = data.draw(st.sampled_from(ROUTES))
        path = template.format(
            id=data.draw(st.sampled_from([conversation]) | segment),
            team=data.draw(st.sampled_from(["support"]) | segment),
            platform=data.draw(st.sampled_from(["whatsapp", "x"]) | segment),
            user=data.draw(segment), queue=data.draw(st.sampled_from(["inbound"]) | segment),
            agent=data.draw(st.sampled_from(["alice"]) | segment))
        params = data.draw(st.dictionaries(st.sampled_from(
            ["status", "team", "limit", "cursor", "from", "to", "x"]), segment, max_size=3))
        if params:
            from urllib.parse import quote
            path += "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())
        credential = data.draw(st.sampled_from(credentials))
        headers = {**credential, "Content-Type": "application/json"}
        if data.draw(st.booleans()):
            headers["Idempotency-Key"] = data.draw(segment)
        before = _state()
        TRIED["inputs"] += 1
        response = client.http.request(method, path, headers=headers,
                                       body=_body(data, kind) if method in ("POST", "PUT")
                                       else b"")
        status = int(response.status_code)
        assert status < 500, (method, path, status, response.body[:300])
        if credential == social and path.startswith(f"/api/conversations/{conversation}"):
            # Another team's: not found, as if it did not exist (or a malformed request).
            TRIED["outsider"] += 1
            assert status in (400, 404), (method, path, status, response.body[:300])
        if status >= 400:
            TRIED["4xx"] += 1
            assert "error" in json.loads(response.body), (method, path)
            assert _state() == before, (method, path, status)
        else:
            TRIED["2xx"] += 1

    check()
    print(f"\nagent API fuzz: {TRIED['inputs']} inputs, {TRIED['2xx']} accepted, "
          f"{TRIED['4xx']} refused with a reason, 0 5xx; another team's agent: "
          f"{TRIED['outsider']} requests on the conversation, all refused")
    assert TRIED["4xx"] > TRIED["inputs"] // 2 and TRIED["2xx"] > 0 and TRIED["outsider"] > 0


def test_another_teams_agent_gets_404_on_every_route_for_the_conversation(
        client: Client, agent: dict[str, str], social: dict[str, str]) -> None:
    body = json.dumps(fixture("whatsapp/pywa_text.json")).encode()
    assert client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], body)}
    ).status_code == 200
    run_inbound_worker()
    conversation = next(i["id"]["S"] for i in _state()[0] if i["SK"]["S"] == "META")
    asked = [(method, template.format(id=conversation), kind) for method, template, kind
             in ROUTES if "{id}" in template]
    asked += [("GET", "/api/conversations?team=support", None),
              ("GET", "/api/reports/sla?team=support", None)]
    before = _state()
    for method, path, kind in asked:
        headers = {**social, "Content-Type": "application/json", "Idempotency-Key": "k"}
        response = client.http.request(method, path, headers=headers, body=json.dumps(
            VALID.get(kind or "", {})).encode() if method == "POST" else b"")
        assert response.status_code == 404, (method, path, response.body)
    assert _state() == before
    # The conversation's own team still works on it: the 404s were about who asked.
    assert client.http.get(f"/api/conversations/{conversation}",
                           headers=agent).status_code == 200
    print(f"\nanother team's agent: {len(asked)} of {len(asked)} routes answered 404, "
          "nothing written")
