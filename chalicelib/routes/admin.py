"""The admin API (`Authorization: Bearer <admin token>`): agents, teams and rotas, customer
data (GDPR), the dead-letter queues. Each request is authenticated once, before its body is
read."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import bootstrap, services
from chalicelib.http import current, json_body, respond
from chalicelib.services.auth import Principal, authenticate, require

admin = Blueprint(__name__)


def _admin() -> Principal:
    return require(authenticate(current(admin).headers.get("authorization"),
                                bootstrap.auth_deps()), "admin")


@admin.route("/api/agents", methods=["POST"])
def create_agent() -> Response:
    return respond(lambda: services.oncall_admin.create_agent(
        json_body(current(admin)), bootstrap.admin_deps()), guard=_admin, status=201)


@admin.route("/api/agents/{agent_id}/teams", methods=["PUT"])
def put_agent_teams(agent_id: str) -> Response:
    return respond(lambda: services.oncall_admin.set_teams(
        agent_id, json_body(current(admin)), bootstrap.admin_deps()), guard=_admin)


@admin.route("/api/teams/{team}/rota", methods=["PUT"])
def put_rota(team: str) -> Response:
    return respond(lambda: services.oncall_admin.put_rota(
        team, json_body(current(admin)), bootstrap.admin_deps()), guard=_admin)


@admin.route("/api/teams/{team}/overrides", methods=["POST"])
def add_override(team: str) -> Response:
    return respond(lambda: services.oncall_admin.add_override(
        team, json_body(current(admin)), bootstrap.admin_deps()), guard=_admin, status=201)


@admin.route("/api/teams/{team}/oncall", methods=["GET"])
def on_call(team: str) -> Response:
    return respond(lambda: services.oncall_admin.who_is_on_call(
        team, bootstrap.admin_deps()), guard=_admin)


@admin.route("/api/customers/{platform}/{user_id}", methods=["GET", "DELETE"])
def customer_data(platform: str, user_id: str) -> Response:
    """GDPR: GET exports everything held about the customer, DELETE erases it. Audited."""
    # Audited under the admin's id: the request's one authentication, not a guard and another.
    request = current(admin)
    return respond(lambda: services.privacy.handle(
        request.method, platform, user_id, _admin().id, bootstrap.customer_data(),
        bootstrap.now()))


@admin.route("/api/dlq/{queue}", methods=["GET"])
def dead_letters(queue: str) -> Response:
    return respond(lambda: services.dead_letters.peek(queue, bootstrap.dead_letter_deps()),
                   guard=_admin)


@admin.route("/api/dlq/{queue}/redrive", methods=["POST"])
def redrive(queue: str) -> Response:
    return respond(lambda: services.dead_letters.redrive(queue, bootstrap.dead_letter_deps()),
                   guard=_admin)
