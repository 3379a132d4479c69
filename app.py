"""ReplyWindow's Lambda entry points, as a table of contents: the HTTP surfaces are Blueprints
registered here (each route parses, calls one service function and answers); the queue,
schedule and SNS handlers stay on `app` so their functions keep their names and handlers in
the packaged template. Everything else lives in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Rate

from chalicelib import function_url, observability
from chalicelib.console.alert import alerts
from chalicelib.console.routes import console
from chalicelib.console.team_pages import team_pages
from chalicelib.routes.admin import admin
from chalicelib.routes.agent_api import agent_api
from chalicelib.routes.health import health_check
from chalicelib.routes.webhooks import webhooks

app = Chalice(app_name="replywindow")

# --- HTTP: the REST API (APIHandler) and the webhooks' function URL (WebhookHandler) ----------
# In this order, the packaged API's paths keep the order they had (build/sam.json).
app.register_blueprint(console)  # the agent console's pages, /console (chalicelib/console/)
app.register_blueprint(team_pages)  # the console's on call, reports, channels
app.register_blueprint(alerts)  # /ack/{token}: GET shows the alert, POST acknowledges
app.register_blueprint(health_check)  # /health (chalicelib/routes/)
app.register_blueprint(webhooks)  # /webhooks/x, /webhooks/meta: the function URL's only routes
app.register_blueprint(agent_api)  # /api/conversations..., /api/reports/sla (agent token)
app.register_blueprint(admin)  # /api/agents, /api/teams, /api/customers, /api/dlq (admin)


@app.middleware("http")
@observability.flushes_metrics
def flush_metrics(event: Any, get_response: Any) -> Any:
    """Metrics recorded while handling a request go out once, as EMF, when it is done (the
    function URL's webhooks come through here too)."""
    return get_response(event)


def webhook_url(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The webhooks' front in AWS: a function URL on its own Lambda (infrastructure/package.py),
    routed to the webhook Blueprint's routes."""
    return function_url.handle(app, app.routes, event, context)


# --- Queue workers ---------------------------------------------------------------------------

@app.on_sqs_message(queue="inbound.fifo", batch_size=10)
def inbound_worker(event: Any) -> dict[str, Any]:
    """A message was stored: triage a new turn and set its timers."""
    from chalicelib import handlers

    return handlers.inbound_batch(event.to_dict(), event.context)


@app.on_sqs_message(queue="alerts", batch_size=10)
def alert_worker(event: Any) -> dict[str, Any]:
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
def sweeper(event: Any) -> dict[str, int]:
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
def ops_alarm_relay(event: Any) -> None:
    """One of ReplyWindow's own CloudWatch alarms changed state: tell every admin."""
    from chalicelib import handlers

    handlers.ops_alarm(event.to_dict())


# Fed by a subscription filter on SNS's failed-texts log group (infrastructure/resources.yaml).
@app.lambda_function(name="sms_failures")
def sms_failures(event: dict[str, Any], context: Any) -> dict[str, int]:
    """SNS reported alert texts failed: each agent's email follows, once, and is counted."""
    from chalicelib import handlers

    return handlers.sms_failures_batch(event)
