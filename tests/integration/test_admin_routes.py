"""The admin API authenticates each request once (the GDPR export used to ask twice: once to
let the caller in, once to name them in the audit), and its dead-letter routes answer through
their service: a known queue's letters, a 404 for any other name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.services.auth import AuthDeps
from infrastructure.local.aws import Built
from tests.integration.conftest import SECRETS

ADMIN = {"Authorization": f"Bearer {SECRETS['admin_token']}", "Content-Type": "application/json"}


class Counted:
    """The admin token's reads, one per authentication."""

    def __init__(self) -> None:
        self.reads = 0

    def wrap(self, deps: AuthDeps) -> AuthDeps:
        def admin_token() -> str:
            self.reads += 1
            return deps.admin_token()

        return replace(deps, admin_token=admin_token)


@pytest.fixture
def counted(aws: Built, monkeypatch: pytest.MonkeyPatch) -> Counted:
    counter, real = Counted(), bootstrap.auth_deps
    monkeypatch.setattr(bootstrap, "auth_deps", lambda: counter.wrap(real()))
    return counter


@pytest.fixture
def client(aws: Built) -> Iterator[Client]:
    import app

    with Client(app.app) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    # Nothing held about this customer: answered after the audit's principal is known.
    ("GET", "/api/customers/x/2222222222222222222", None, 404),
    ("DELETE", "/api/customers/x/2222222222222222222", None, 404),
    ("POST", "/api/agents", {"id": "alice", "name": "Alice", "phone": "+15550100"}, 201),
    ("GET", "/api/teams/support/oncall", None, 404),  # no rota yet
    ("GET", "/api/dlq/inbound", None, 200),
    ("POST", "/api/dlq/alerts/redrive", None, 200),
])
def test_each_admin_request_authenticates_once(client: Client, counted: Counted, method: str,
                                               path: str, body: object, status: int) -> None:
    answer = client.http.request(method, path, headers=ADMIN,
                                 body=json.dumps(body).encode() if body is not None else b"")
    assert answer.status_code == status, answer.body
    assert counted.reads == 1


def test_the_dead_letter_routes_name_only_queues_with_a_dead_letter_queue(
        client: Client) -> None:
    shown = client.http.get("/api/dlq/inbound", headers=ADMIN)
    assert (shown.status_code, shown.json_body) == (200, {"queue": "inbound", "messages": []})
    for method, path in (("GET", "/api/dlq/outbound"), ("POST", "/api/dlq/outbound/redrive")):
        refused = client.http.request(method, path, headers=ADMIN, body=b"")
        assert (refused.status_code, refused.json_body) == (
            404, {"error": "queue: inbound or alerts"}), (method, path)
    stranger = client.http.get("/api/dlq/inbound", headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 401
