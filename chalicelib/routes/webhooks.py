"""The platforms' webhooks: X's CRC and deliveries, Meta's verification and deliveries. In AWS
they are served by their own Lambda's function URL (app.py:webhook_url), never the REST API."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import bootstrap, services
from chalicelib.http import current, query, raw_body, respond, text

webhooks = Blueprint(__name__)

# Platforms sign the raw bytes: accept what they send and never let Chalice reject the type.
_WEBHOOK_TYPES = ["application/json", "text/plain", "application/octet-stream"]


@webhooks.route("/webhooks/x", methods=["GET"])
def x_crc() -> Response:
    params = query(current(webhooks))
    return respond(lambda: services.webhooks.x_crc(params.get("crc_token"),
                                                   bootstrap.webhook_deps()))


@webhooks.route("/webhooks/x", methods=["POST"], content_types=_WEBHOOK_TYPES)
def x_webhook() -> Response:
    request = current(webhooks)
    return respond(lambda: services.webhooks.receive_x(
        raw_body(request), request.headers.get("x-twitter-webhooks-signature"),
        bootstrap.webhook_deps()).as_dict())


@webhooks.route("/webhooks/meta", methods=["GET"])
def meta_verify() -> Response:
    params = query(current(webhooks))
    return respond(lambda: text(services.webhooks.meta_verify(
        params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge"),
        bootstrap.webhook_deps())))


@webhooks.route("/webhooks/meta", methods=["POST"], content_types=_WEBHOOK_TYPES)
def meta_webhook() -> Response:
    request = current(webhooks)
    return respond(lambda: services.webhooks.receive_meta(
        raw_body(request), request.headers.get("x-hub-signature-256"),
        bootstrap.webhook_deps()).as_dict())
