"""ReplyWindow's Lambda entry points. Routes and event handlers only: parse, call one service
function, map the result. Everything else lives in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib import bootstrap, handlers

app = Chalice(app_name="replywindow")


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    return bootstrap.health()


@app.on_sqs_message(queue="alerts", batch_size=10)
def ring_alarm(event: Any) -> dict[str, Any]:
    """An alarm-clock bucket rang: alert whoever is on call about every check in it."""
    return handlers.ring_batch(event.to_dict(), event.context)
