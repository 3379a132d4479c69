"""Console sessions: what a cookie is worth, for how long, and where sign-in may lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.console import sessions
from chalicelib.services.auth import Principal

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class MemorySessions:
    """Satisfies sessions.SessionStore, as chalicelib/adapters/dynamodb/sessions.py does."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put(self, digest: str, agent: str, role: str, created: datetime,
            expires: datetime, credential: str = "") -> None:
        self.items[digest] = {"agent": agent, "role": role, "created": created.isoformat(),
                              "expires": expires.isoformat(), "credential": credential}

    def get(self, digest: str) -> dict[str, Any] | None:
        return self.items.get(digest)

    def delete(self, digest: str) -> None:
        self.items.pop(digest, None)

    def delete_for(self, agent: str) -> int:
        gone = [d for d, item in self.items.items() if item["agent"] == agent]
        for digest in gone:
            del self.items[digest]
        return len(gone)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def deps() -> sessions.SessionDeps:
    return sessions.SessionDeps(store=MemorySessions(), now=Clock())


def test_a_session_is_stored_only_as_a_hash_and_resumes_with_its_principal(
        deps: sessions.SessionDeps) -> None:
    started = sessions.start(Principal("carol", "agent"), deps)
    store = deps.store
    assert isinstance(store, MemorySessions)
    assert started.id not in store.items  # a leaked table opens nothing
    assert sessions.resume(started.id, deps) == started
    assert sessions.resume("forged-" + started.id, deps) is None
    assert sessions.resume(None, deps) is None


def test_a_session_ends_after_its_lifetime_even_before_the_ttl_sweep(
        deps: sessions.SessionDeps) -> None:
    started = sessions.start(Principal("carol", "agent"), deps)
    clock = deps.now
    assert isinstance(clock, Clock)
    clock.now = NOW + sessions.LIFETIME - timedelta(seconds=1)
    assert sessions.resume(started.id, deps) is not None
    clock.now = NOW + sessions.LIFETIME
    assert sessions.resume(started.id, deps) is None


def test_sign_out_ends_one_session_and_revoke_ends_all_of_an_agents(
        deps: sessions.SessionDeps) -> None:
    phone, desk = (sessions.start(Principal("carol", "agent"), deps) for _ in range(2))
    other = sessions.start(Principal("dave", "agent"), deps)
    sessions.end(phone.id, deps)
    assert sessions.resume(phone.id, deps) is None
    assert sessions.resume(desk.id, deps) is not None
    assert sessions.revoke("carol", deps) == {"agent": "carol", "revoked": 1}
    assert sessions.resume(desk.id, deps) is None
    assert sessions.resume(other.id, deps) is not None


def test_the_csrf_token_belongs_to_one_session(deps: sessions.SessionDeps) -> None:
    mine, theirs = (sessions.start(Principal("carol", "agent"), deps) for _ in range(2))
    assert sessions.csrf_ok(mine, mine.csrf)
    assert not sessions.csrf_ok(mine, theirs.csrf)
    assert not sessions.csrf_ok(mine, None)
    assert not sessions.csrf_ok(mine, "")
    assert mine.id not in mine.csrf


@pytest.mark.parametrize("candidate", [
    None, "", "https://evil.example/console", "//evil.example", "/\\evil.example",
    "/console//evil.example", "/api/agents", "/console\r\nSet-Cookie: x=1", "console",
    "/ack", "/ackx/t.sig", "/ack//evil.example"])
def test_sign_in_never_sends_anyone_off_the_console(candidate: str | None) -> None:
    assert sessions.safe_next(candidate) == "/console"


@pytest.mark.parametrize("path", ["/console", "/console?status=resolved",
                                  "/console/conversations/x.t-123",
                                  "/ack/AbCd1234.sig_-x#answer"])  # back to the alert
def test_sign_in_returns_to_the_console_page_asked_for(path: str) -> None:
    assert sessions.safe_next(path) == path


def test_a_session_ends_when_the_credential_it_was_started_with_is_replaced() -> None:
    credential = {"carol": "first"}

    def current(agent: str, role: str) -> sessions.Current | None:
        return sessions.Current(("support",), credential[agent]) if agent in credential \
            else None

    deps = sessions.SessionDeps(store=MemorySessions(), now=Clock(), current=current)
    started = sessions.start(Principal("carol", "agent", ("support",)), deps)
    resumed = sessions.resume(started.id, deps)
    assert resumed is not None and resumed.principal.teams == ("support",)
    credential["carol"] = "second"  # a new token
    assert sessions.resume(started.id, deps) is None
    again = sessions.start(Principal("carol", "agent"), deps)
    assert sessions.resume(again.id, deps) is not None
    del credential["carol"]  # no longer an agent
    assert sessions.resume(again.id, deps) is None
