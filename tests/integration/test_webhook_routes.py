"""The webhook routes through Chalice's test client against moto: their documented answers,
and what each leaves behind in DynamoDB and SQS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.webhooks.signatures import meta_signature, x_crc_response, x_signature
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.unit.webhooks.conftest import fixture

X_SECRET, META_SECRET = SECRETS["x_consumer_secret"], SECRETS["meta_app_secret"]


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


def post_x(client: Client, body: bytes, signature: str | None = "sign") -> Any:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["x-twitter-webhooks-signature"] = x_signature(X_SECRET, body)
    elif signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    return client.http.post("/webhooks/x", headers=headers, body=body)


def post_meta(client: Client, body: bytes, signature: str | None = "sign") -> Any:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = meta_signature(META_SECRET, body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.http.post("/webhooks/meta", headers=headers, body=body)


def items() -> list[dict[str, Any]]:
    return bootstrap.dynamodb().scan(TableName=bootstrap.settings().table)["Items"]


def queued() -> list[dict[str, Any]]:
    sqs = bootstrap.sqs()
    url = sqs.get_queue_url(QueueName=bootstrap.settings().inbound_queue)["QueueUrl"]
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        out.extend(json.loads(m["Body"]) for m in batch)
    return out


def body(name: str) -> bytes:
    return json.dumps(fixture(name)).encode()


CRC_TOKEN = "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0"  # X's shape: base64 of a UUID


def test_x_crc_handshake(client: Client) -> None:
    response = client.http.get(f"/webhooks/x?crc_token={CRC_TOKEN}")
    assert response.status_code == 200
    assert json.loads(response.body) == {"response_token": x_crc_response(X_SECRET, CRC_TOKEN)}
    assert client.http.get("/webhooks/x").status_code == 400


def test_the_crc_is_503_while_the_x_secret_is_unset(aws: Built) -> None:
    """Not an HMAC under an empty key: X would take it for a working webhook."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    import app
    from chalicelib import bootstrap
    from tests.integration.conftest import SECRETS

    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=bootstrap.settings().secrets_name,
        SecretString=json.dumps({**SECRETS, "x_consumer_secret": ""}))
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    bootstrap.reset()
    answer = app.webhook_url(function_url_event("GET", "/webhooks/x",
                                                query=f"crc_token={CRC_TOKEN}"), None)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"]) == {
        "error": "X is not configured: set x_consumer_secret in the platform secret"}
    assert "response_token" not in answer["body"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.dictionaries(st.text(max_size=6), st.text(max_size=6) | st.integers(),
                                max_size=3) | st.lists(st.integers(), max_size=3))
def test_the_crc_route_signs_no_json_body(client: Client, document: Any) -> None:
    # Given a forger's delivery body as the crc_token, the route answers 400 with a reason and
    # nothing a forger could reuse as x-twitter-webhooks-signature.
    response = client.http.get(f"/webhooks/x?{urlencode({'crc_token': json.dumps(document)})}")
    assert response.status_code == 400
    answer = json.loads(response.body)
    assert "crc_token" in answer["error"] and "response_token" not in answer
    assert "sha256=" not in response.body.decode()


def test_meta_verification_handshake(client: Client) -> None:
    ok = client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-me"
                         "&hub.challenge=1158201444")
    assert (ok.status_code, ok.body) == (200, b"1158201444")
    # Inert text: no browser renders the echo as a page.
    assert ok.headers["Content-Type"].startswith("text/plain")
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    wrong = client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope"
                            "&hub.challenge=7301985524")
    assert wrong.status_code == 403
    assert b"7301985524" not in wrong.body  # nothing echoed before the token matched


def test_meta_never_echoes_markup_even_with_the_right_verify_token(client: Client) -> None:
    markup = quote("<script>alert(1)</script>")
    response = client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-me"
                               f"&hub.challenge={markup}")
    assert response.status_code == 400
    assert b"<script>" not in response.body
    assert "hub.challenge" in json.loads(response.body)["error"]


def test_a_signed_x_dm_is_stored_and_queued(client: Client) -> None:
    response = post_x(client, body("twitter/aaa_docs_direct_message_events.json"))
    assert response.status_code == 200
    assert json.loads(response.body)["events"] == {"accepted": 1}
    assert run_inbound_worker() == 1  # the queue's worker: the conversation is built there
    assert any(i["PK"]["S"] == "CONV#x#dm-4337869213-3001969357" for i in items())


def test_a_redelivered_payload_makes_one_message_and_one_queue_entry(client: Client) -> None:
    payload = body("whatsapp/pywa_text.json")
    assert post_meta(client, payload).status_code == 200
    snapshot = items()
    again = post_meta(client, payload)
    assert again.status_code == 200
    assert json.loads(again.body)["events"] == {"accepted": 1}  # sent: SQS deduplicates
    assert items() == snapshot
    assert len(queued()) == 1


@pytest.mark.parametrize("signature", [None, "", "sha256=00", "sha1=abc"])
def test_forged_or_missing_signatures_get_401_and_write_nothing(client, signature) -> None:
    response = post_meta(client, body("whatsapp/pywa_text.json"), signature=signature)
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in json.loads(response.body)["error"]
    response = post_x(client, body("twitter/aaa_docs_direct_message_events.json"),
                      signature=signature)
    assert response.status_code == 401
    # Nothing of the body is kept; only the channel's count of failed signatures (at most a
    # write a minute per container), which tells a rotated secret from junk.
    assert [i for i in items() if i["PK"]["S"] != "CHANNELS"] == []
    assert queued() == []


def test_an_x_signature_does_not_open_the_meta_door(client: Client) -> None:
    payload = body("whatsapp/pywa_text.json")
    assert post_meta(client, payload, signature=x_signature(META_SECRET, payload)
                     ).status_code == 401


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid UTF-8"),
    (b"[1, 2]", "must be a JSON object"),
    (json.dumps({"object": "newsletter", "entry": []}).encode(), "unsupported object"),
    (json.dumps({"object": "page", "entry": "x"}).encode(), "entry must be a list"),
    (b"[" * 200 + b"]" * 200, "nested too deeply"),
    (json.dumps({"object": "page", "entry": [{"id": "1", "x": {"a": {"b": {"c": []}}}}]}
                ).encode(), None),
])
def test_malformed_bodies_get_400_with_a_reason_and_write_nothing(client, raw, reason) -> None:
    response = post_meta(client, raw)
    if reason is None:  # well-formed, nothing to do: accepted
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert reason in json.loads(response.body)["error"]
    assert items() == []


def test_a_body_over_1_mib_gets_413_before_anything_else(client: Client) -> None:
    big = b'{"object": "page", "entry": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post_meta(client, big, signature=None)
    assert response.status_code == 413
    assert items() == []


def test_a_dynamodb_fault_costs_the_webhook_nothing_and_the_worker_retries(
        client, monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "PutItem")

    payload = body("whatsapp/restfb_text.json")
    with monkeypatch.context() as patch:
        patch.setattr(bootstrap.dynamodb(), "put_item", throttled)
        patch.setattr(bootstrap.dynamodb(), "update_item", throttled)
        response = post_meta(client, payload)  # the webhook writes no message: queued
        assert response.status_code == 200
        assert run_inbound_worker() == 1  # the worker's commit fails: retried
    deadline = time.monotonic() + 60
    while not [i for i in items() if i["SK"]["S"].startswith("MSG#")] and (
            time.monotonic() < deadline):
        run_inbound_worker()  # the failed record comes back in ~2 s
        time.sleep(0.2)
    assert len([i for i in items() if i["SK"]["S"].startswith("MSG#")]) == 1


def test_an_sqs_fault_gets_503_and_the_retry_queues_exactly_once(client, monkeypatch) -> None:
    def down(**kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    payload = body("whatsapp/restfb_text.json")
    with monkeypatch.context() as patch:
        patch.setattr(bootstrap.sqs(), "send_message", down)
        assert post_meta(client, payload).status_code == 503
    assert queued() == []
    retry = post_meta(client, payload)
    assert json.loads(retry.body)["events"] == {"accepted": 1}
    assert run_inbound_worker() == 1
    assert len([i for i in items() if i["SK"]["S"].startswith("MSG#")]) == 1


def test_many_entries_and_items_in_one_post_are_each_handled(client: Client) -> None:
    text = fixture("whatsapp/pywa_text.json")
    image = fixture("whatsapp/restfb_image.json")
    status = fixture("whatsapp/pywa_status_read.json")
    payload = {"object": "whatsapp_business_account",
               "entry": text["entry"] + image["entry"] + status["entry"]}
    response = post_meta(client, json.dumps(payload).encode())
    assert json.loads(response.body)["events"] == {"accepted": 2, "signal:read": 1}
    assert run_inbound_worker() == 2
    assert len([i for i in items() if i["SK"]["S"] == "META"]) == 2  # two conversations


def test_a_withdrawn_tweet_loses_its_text(client: Client) -> None:
    mention = fixture("twitter/xaa_post_mention_create.json")
    assert post_x(client, json.dumps(mention).encode()).status_code == 200
    run_inbound_worker()
    delete = {"for_user_id": "1111111111111111111", "tweet_delete_events": [
        {"status": {"id": "2080765813578191303", "user_id": "2222222222222222222"},
         "timestamp_ms": "1784928300000"}]}
    response = post_x(client, json.dumps(delete).encode())
    assert json.loads(response.body)["events"] == {"deletion_queued": 1}
    assert run_inbound_worker() == 1
    [message] = [i for i in items() if i["SK"]["S"].startswith("MSG#")]
    assert message["text"]["S"] == ""
    assert message["deleted"]["BOOL"] is True


def function_url_event(method: str, path: str, body: bytes | None = None,
                       headers: dict[str, str] | None = None, query: str = "",
                       *, base64_body: bool = False) -> dict[str, Any]:
    """What the deployed webhook front (a Lambda function URL, payload format 2.0) hands its
    function: the fields of Lambda's documented request example, header names lower case."""
    import base64

    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc123", "domainName":
            "abc123.lambda-url.us-east-1.on.aws", "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "facebookexternalua"},
            "requestId": "id", "routeKey": "$default", "stage": "$default",
            "time": "24/Nov/2026:12:00:00 +0000", "timeEpoch": 1795521600000},
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def test_the_function_url_front_delivers_webhooks_to_the_same_routes(aws: Built) -> None:
    import app

    challenge = app.webhook_url(function_url_event(
        "GET", "/webhooks/meta",
        query="hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"), None)
    assert (challenge["statusCode"], challenge["body"]) == (200, "1158201444")
    crc = app.webhook_url(function_url_event("GET", "/webhooks/x",
                                             query="crc_token=t%2B0Rk9PYmFy"), None)
    assert json.loads(crc["body"]) == {"response_token": x_crc_response(X_SECRET, "t+0Rk9PYmFy")}

    payload = body("whatsapp/pywa_text.json")
    signed = {"Content-Type": "application/json",
              "X-Hub-Signature-256": meta_signature(META_SECRET, payload)}
    answer = app.webhook_url(function_url_event("POST", "/webhooks/meta", payload, signed), None)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["events"] == {"accepted": 1}
    # A body Lambda passed as base64 (no text content type) is the same signed bytes.
    again = app.webhook_url(function_url_event("POST", "/webhooks/meta", payload, {
        "X-Hub-Signature-256": signed["X-Hub-Signature-256"]}, base64_body=True), None)
    assert (again["statusCode"], json.loads(again["body"])["events"]) == (200, {"accepted": 1})
    forged = app.webhook_url(function_url_event("POST", "/webhooks/meta", payload + b" ",
                                                signed), None)
    assert forged["statusCode"] == 401
    assert run_inbound_worker() == 1
    assert sum(i["PK"]["S"].startswith("CONV#whatsapp#") and i["SK"]["S"] == "META"
               for i in items()) == 1


def test_the_function_url_serves_the_webhooks_and_nothing_else(aws: Built) -> None:
    import app

    before = items()
    for method, path in (("GET", "/health"), ("GET", "/api/conversations"),
                         ("POST", "/api/conversations/x.t-1/reply"), ("GET", "/"),
                         ("GET", "/webhooks")):
        answer = app.webhook_url(function_url_event(method, path, b"{}", {
            "Authorization": "Bearer admin"}), None)
        assert answer["statusCode"] == 404, path
        assert json.loads(answer["body"])["error"].startswith(f"no webhook at {path}")
    wrong_method = app.webhook_url(function_url_event("DELETE", "/webhooks/x"), None)
    assert wrong_method["statusCode"] == 405
    assert items() == before
