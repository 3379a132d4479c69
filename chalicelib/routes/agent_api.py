"""The agent API (`Authorization: Bearer <agent or admin token>`): the inbox, a conversation,
replying, assigning, resolving, reopening, and the SLA report. Who is asking is settled once,
before the body is read, and handed to the service, which applies the team rules."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import bootstrap, services
from chalicelib.http import current, json_body, query, respond
from chalicelib.services.auth import Principal, authenticate, require

agent_api = Blueprint(__name__)


def _agent() -> Principal:
    return require(authenticate(current(agent_api).headers.get("authorization"),
                                bootstrap.auth_deps()), "agent", "admin")


@agent_api.route("/api/conversations", methods=["GET"])
def inbox() -> Response:
    return respond(lambda: services.agent_api.list_inbox(query(current(agent_api)), _agent(),
                                                         bootstrap.agent_deps()))


@agent_api.route("/api/conversations/{conversation_id}", methods=["GET"])
def conversation(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.show(conversation_id, _agent(),
                                                   bootstrap.agent_deps()))


@agent_api.route("/api/conversations/{conversation_id}/replies", methods=["POST"])
def reply(conversation_id: str) -> Response:
    request = current(agent_api)
    bootstrap.lambda_context(agent_api.lambda_context)
    # Keyword arguments run in the order written: who is asking, before reading the body.
    return respond(lambda: services.agent_api.reply(
        conversation_id, agent=_agent(), body=json_body(request),
        idempotency_key=request.headers.get("idempotency-key"), deps=bootstrap.agent_deps()),
        status=201)


@agent_api.route("/api/conversations/{conversation_id}/assign", methods=["POST"])
def assign(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.assign(
        conversation_id, principal=_agent(), body=json_body(current(agent_api)),
        deps=bootstrap.agent_deps()))


@agent_api.route("/api/conversations/{conversation_id}/resolve", methods=["POST"])
def resolve(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.resolve(conversation_id, _agent(),
                                                      bootstrap.agent_deps()))


@agent_api.route("/api/conversations/{conversation_id}/reopen", methods=["POST"])
def reopen(conversation_id: str) -> Response:
    return respond(lambda: services.agent_api.reopen(conversation_id, _agent(),
                                                     bootstrap.agent_deps()))


@agent_api.route("/api/reports/sla", methods=["GET"])
def sla_report() -> Response:
    return respond(lambda: services.agent_api.report(
        query(current(agent_api)), _agent(), bootstrap.conversations(), bootstrap.now(),
        bootstrap.policies().default_team, bootstrap.sent_texts().failed_between))
