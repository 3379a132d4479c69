"""ReplyWindow's Lambda entry points. Routes and event handlers only: parse, call one service
function, map the result. Everything else lives in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Rate, Response

from chalicelib import bootstrap, function_url, observability, services
from chalicelib.console.alert import alerts
from chalicelib.console.routes import console
from chalicelib.console.team_pages import team_pages
from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.http import current, json_body, query, raw_body, respond, text
from chalicelib.services.auth import Principal, authenticate, require

app = Chalice(app_name="replywindow")
app.register_blueprint(console)  # the agent console's pages, /console (chalicelib/console/)
app.register_blueprint(team_pages)  # on call, reports, channels
app.register_blueprint(alerts)  # the alert page behind a link: GET shows, POST acknowledges


@app.middleware("http")
@observability.flushes_metrics
def flush_metrics(event: Any, get_response: Any) -> Any:
    """Metrics recorded while handling a request go out once, as EMF, when it is done (the
    function URL's webhooks come through here too)."""
    return get_response(event)

# Platforms sign the raw bytes: accept what they send and never let Chalice reject the type.
_WEBHOOK_TYPES = ["application/json", "text/plain", "application/octet-stream"]


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    """Up or not, for anyone; what runs where and the channels' troubles, for the admin."""
    return bootstrap.health(admin=_is_admin(current(app).headers.get("authorization")))


def _is_admin(header: str | None) -> bool:
    if not header:
        return False
    try:
        return authenticate(header, bootstrap.auth_deps()).role == "admin"
    except Unauthorized:
        return False


# --- Platform webhooks -------------------------------------------------------------------

@app.route("/webhooks/x", methods=["GET"])
def x_crc() -> Response:
    params = query(current(app))
    return respond(lambda: services.webhooks.x_crc(params.get("crc_token"),
                                                   bootstrap.webhook_deps()))


@app.route("/webhooks/x", methods=["POST"], content_types=_WEBHOOK_TYPES)
def x_webhook() -> Response:
    request = current(app)
    return respond(lambda: services.webhooks.receive_x(
        raw_body(request), request.headers.get("x-twitter-webhooks-signature"),
        bootstrap.webhook_deps()).as_dict())


@app.route("/webhooks/meta", methods=["GET"])
def meta_verify() -> Response:
    params = query(current(app))
    return respond(lambda: text(services.webhooks.meta_verify(
        params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge"),
        bootstrap.webhook_deps())))


@app.route("/webhooks/meta", methods=["POST"], content_types=_WEBHOOK_TYPES)
def meta_webhook() -> Response:
    request = current(app)
    return respond(lambda: services.webhooks.receive_meta(
        raw_body(request), request.headers.get("x-hub-signature-256"),
        bootstrap.webhook_deps()).as_dict())


def webhook_url(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The webhooks' front in AWS: a function URL on its own Lambda (infrastructure/package.py),
    routed to the same routes above."""
    return function_url.handle(app, app.routes, event, context)


# --- Agent API (agent or admin token) ------------------------------------------------------

def _agent() -> Principal:
    return require(authenticate(current(app).headers.get("authorization"),
                                bootstrap.auth_deps()), "agent", "admin")


@app.route("/api/conversations", methods=["GET"])
def inbox() -> Response:
    return respond(lambda: services.agent_api.list_inbox(query(current(app)), _agent(),
                                                         bootstrap.agent_deps()))


@app.route("/api/conversations/{conversation_id}", methods=["GET"])
def conversation(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.show(conversation_id, _agent(),
                                                   bootstrap.agent_deps()))


@app.route("/api/conversations/{conversation_id}/replies", methods=["POST"])
def reply(conversation_id: str) -> Response:
    request = current(app)
    bootstrap.lambda_context(app.lambda_context)
    # Keyword arguments run in the order written: who is asking, before reading the body.
    return respond(lambda: services.agent_api.reply(
        conversation_id, agent=_agent(), body=json_body(request),
        idempotency_key=request.headers.get("idempotency-key"), deps=bootstrap.agent_deps()),
        status=201)


@app.route("/api/conversations/{conversation_id}/assign", methods=["POST"])
def assign(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.assign(
        conversation_id, principal=_agent(), body=json_body(current(app)),
        deps=bootstrap.agent_deps()))


@app.route("/api/conversations/{conversation_id}/resolve", methods=["POST"])
def resolve(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.resolve(conversation_id, _agent(),
                                                      bootstrap.agent_deps()))


@app.route("/api/conversations/{conversation_id}/reopen", methods=["POST"])
def reopen(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.reopen(conversation_id, _agent(),
                                                     bootstrap.agent_deps()))


@app.route("/api/reports/sla", methods=["GET"])
def sla_report() -> Response:
    return respond(lambda: services.agent_api.report(
        query(current(app)), _agent(), bootstrap.conversations(), bootstrap.now(),
        bootstrap.policies().default_team))


# --- On-call administration (admin token) --------------------------------------------------

def _admin() -> None:
    require(authenticate(current(app).headers.get("authorization"), bootstrap.auth_deps()),
            "admin")


@app.route("/api/agents", methods=["POST"])
def create_agent() -> Response:
    return respond(lambda: services.oncall_admin.create_agent(
        json_body(current(app)), bootstrap.admin_deps()), guard=_admin, status=201)


@app.route("/api/agents/{agent_id}/teams", methods=["PUT"])
def put_agent_teams(agent_id: str) -> Response:
    return respond(lambda: services.oncall_admin.set_teams(
        agent_id, json_body(current(app)), bootstrap.admin_deps()), guard=_admin)


@app.route("/api/teams/{team}/rota", methods=["PUT"])
def put_rota(team: str) -> Response:
    return respond(lambda: services.oncall_admin.put_rota(
        team, json_body(current(app)), bootstrap.admin_deps()), guard=_admin)


@app.route("/api/teams/{team}/overrides", methods=["POST"])
def add_override(team: str) -> Response:
    return respond(lambda: services.oncall_admin.add_override(
        team, json_body(current(app)), bootstrap.admin_deps()), guard=_admin, status=201)


@app.route("/api/teams/{team}/oncall", methods=["GET"])
def on_call(team: str) -> Response:
    return respond(lambda: services.oncall_admin.who_is_on_call(
        team, bootstrap.admin_deps()), guard=_admin)


@app.route("/api/customers/{platform}/{user_id}", methods=["GET", "DELETE"])
def customer_data(platform: str, user_id: str) -> Response:
    """GDPR: GET exports everything held about the customer, DELETE erases it. Audited."""
    request = current(app)
    return respond(lambda: services.privacy.handle(
        request.method, platform, user_id, _admin_principal(), bootstrap.customer_data(),
        bootstrap.now()), guard=_admin)


def _admin_principal() -> str:
    return authenticate(current(app).headers.get("authorization"), bootstrap.auth_deps()).id


@app.route("/api/dlq/{queue}", methods=["GET"])
def dead_letters(queue: str) -> Response:
    return respond(lambda: {"queue": queue, "messages": bootstrap.dead_letters().peek(
        _known_queue(queue))}, guard=_admin)


@app.route("/api/dlq/{queue}/redrive", methods=["POST"])
def redrive(queue: str) -> Response:
    return respond(lambda: {"queue": queue, "redriven": bootstrap.dead_letters().redrive(
        _known_queue(queue))}, guard=_admin)


def _known_queue(queue: str) -> str:
    if queue not in ("inbound", "alerts"):
        raise NotFound("queue: inbound or alerts")
    return queue


# --- Queue workers ---------------------------------------------------------------------------

@app.on_sqs_message(queue="inbound.fifo", batch_size=10)
def triage(event: Any) -> dict[str, Any]:
    """A message was stored: triage a new turn and set its timers."""
    from chalicelib import handlers

    return handlers.inbound_batch(event.to_dict(), event.context)


@app.on_sqs_message(queue="alerts", batch_size=10)
def ring_alarm(event: Any) -> dict[str, Any]:
    """An alarm-clock bucket rang: alert whoever is on call about every check in it."""
    from chalicelib import handlers

    return handlers.ring_batch(event.to_dict(), event.context)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def channel_watch(event: Any) -> dict[str, str]:
    """Every few minutes: a channel gone quiet, failing signatures or without credentials is
    told to the admins once, and again when it recovers."""
    from chalicelib import handlers

    return handlers.channel_watch()


# The period is the template's SweepMinutes (infrastructure/resources.yaml overrides this rate).
@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep(event: Any) -> dict[str, int]:
    """The last line of defence: an open turn past its warning, breach or escalation without
    that alert (its timer lost, the alarm clock down, its bucket dead-lettered) is rung now,
    once."""
    from chalicelib import handlers

    return handlers.sweep()


# The period is the template's ListenMinutes (infrastructure/resources.yaml overrides this rate).
@app.schedule(Rate(5, unit=Rate.MINUTES))
def listen(event: Any) -> dict[str, int]:
    """Listening: search X for the brand where nobody tagged it (the policies file's
    `listening` queries, each at its own period and daily budget); every hit goes through the
    webhook's ingest, so a post also delivered by webhook is stored once."""
    from chalicelib import handlers

    return handlers.listen(event.context)


# The topic is the template's OpsAlarmsTopic (resources.yaml points this subscription at it).
@app.on_sns_message(topic="ops-alarms")
def ops_alarm(event: Any) -> None:
    """One of ReplyWindow's own CloudWatch alarms changed state: tell every admin."""
    from chalicelib import handlers

    handlers.ops_alarm(event.to_dict())
