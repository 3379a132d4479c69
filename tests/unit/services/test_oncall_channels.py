"""The on-call views show each agent's alert channels and flag the agents none of whose
channels is confirmed (an unconfirmed email or a deleted subscription reaches nobody)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.oncall import Agent, Rota, rota_from_dict
from chalicelib.services.oncall_admin import (
    AdminDeps,
    overview,
    warn_unreachable,
    who_is_on_call,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Store:
    def __init__(self, rota: Rota, records: dict[str, dict[str, Any]]) -> None:
        self.rotas = {rota.team: rota}
        self.records = records

    def rota(self, team: str) -> Rota | None:
        return self.rotas.get(team)

    def put_rota(self, rota: Rota) -> None:
        self.rotas[rota.team] = rota

    def agent(self, agent_id: str) -> Agent | None:
        return Agent(id=agent_id, name=agent_id) if agent_id in self.records else None

    def agent_record(self, agent_id: str) -> dict[str, Any] | None:
        return self.records.get(agent_id)

    def put_agent(self, agent: Agent, *, role: str, token: str | None,
                  subscriptions: list[str], teams: tuple[str, ...]) -> None:
        self.records[agent.id] = {"subscriptions": subscriptions, "teams": list(teams)}

    def set_teams(self, agent_id: str, teams: tuple[str, ...]) -> bool:
        return agent_id in self.records

    def join_team(self, agent_id: str, team: str) -> None:
        pass


class Subscriptions:
    """SNS as the adapter reports it: each stored ARN's state."""

    def __init__(self, states: dict[str, tuple[str, str]]) -> None:
        self.states = states  # arn -> (protocol, state)
        self.asked: list[dict[str, list[str]]] = []

    def subscribe(self, agent: str, *, phone: str | None, email: str | None,
                  admin: bool = False) -> list[str]:
        return []

    def unsubscribe(self, arns: list[str]) -> None:
        pass

    def channels(self, stored: Mapping[str, list[str]]) -> dict[str, list[dict[str, str]]]:
        self.asked.append(dict(stored))
        return {agent: [{"protocol": self.states[arn][0], "state": self.states[arn][1]}
                        for arn in arns if arn in self.states]
                for agent, arns in stored.items()}


def _deps() -> tuple[AdminDeps, Subscriptions]:
    # A daily rota from 1 March: alice on 2 March, bob from 09:00 on 3 March.
    rota = rota_from_dict({"team": "support", "members": ["bob", "alice"], "lead": "erin",
                           "starts_on": "2026-03-01", "handoff": "09:00"})
    store = Store(rota, {"alice": {"subscriptions": ["a-sms", "a-mail"]},
                         "bob": {"subscriptions": ["b-mail"]},
                         "erin": {"subscriptions": []}})
    subscriptions = Subscriptions({"a-sms": ("sms", "confirmed"),
                                   "a-mail": ("email", "pending"),
                                   "b-mail": ("email", "pending")})
    return AdminDeps(store=store, subscriptions=subscriptions, now=lambda: NOW,
                     teams=lambda: ("support",), default_team="support"), subscriptions


def test_the_oncall_answer_lists_channels_and_flags_the_unreachable_now_and_next() -> None:
    deps, subscriptions = _deps()
    answer = who_is_on_call("support", deps)
    assert (answer["primary"], answer["lead"]) == ("alice", "erin")
    assert answer["then"]["primary"] == "bob"
    assert answer["changes_at"] == "2026-03-03T09:00:00+00:00"
    assert answer["channels"]["alice"] == [{"protocol": "sms", "state": "confirmed"},
                                           {"protocol": "email", "state": "pending"}]
    # bob (next shift) has only an unconfirmed email; erin (lead) has nothing at all.
    assert answer["unreachable"] == ["bob", "erin"]
    assert subscriptions.asked == [{"alice": ["a-sms", "a-mail"], "bob": ["b-mail"],
                                    "erin": []}]


def test_the_console_overview_carries_the_same_flags() -> None:
    deps, _ = _deps()
    [team] = overview(("support",), deps)
    assert team["unreachable"] == ["bob", "erin"]
    assert team["channels"]["bob"] == [{"protocol": "email", "state": "pending"}]


def test_an_agent_with_one_confirmed_channel_is_reachable() -> None:
    deps, subscriptions = _deps()
    subscriptions.states["b-mail"] = ("email", "confirmed")
    assert who_is_on_call("support", deps)["unreachable"] == ["erin"]


class Claims:
    """The DynamoDB claim's rule: a slot is warned about once (warned_until <= start)."""

    def __init__(self) -> None:
        self.until: dict[tuple[str, str], datetime] = {}

    def claim_shift_warning(self, team: str, agent: str, start: datetime,
                            end: datetime) -> bool:
        if (previous := self.until.get((team, agent))) is not None and previous > start:
            return False
        self.until[(team, agent)] = end
        return True

    def release_shift_warning(self, team: str, agent: str, end: datetime) -> None:
        if self.until.get((team, agent)) == end:
            del self.until[(team, agent)]


def test_admins_hear_once_per_slot_of_the_unreachable_on_call_now() -> None:
    deps, _ = _deps()
    claims, sent = Claims(), list[tuple[str, str]]()
    # At noon the next shift (09:00 tomorrow) is too far ahead; bob (secondary, an unconfirmed
    # email) and erin (lead, no subscription) are on call now.
    assert warn_unreachable(deps, claims, lambda s, m: sent.append((s, m))) == [
        "support/bob", "support/erin"]
    assert "erin is on call for support now" in sent[1][1]
    assert "alice" not in " ".join(m for _, m in sent)
    assert warn_unreachable(deps, claims, lambda s, m: sent.append((s, m))) == []
    assert len(sent) == 2


def test_the_next_shift_is_warned_before_it_starts_and_not_again_when_it_does() -> None:
    deps, _ = _deps()
    claims, sent = Claims(), list[tuple[str, str]]()
    at = {"now": datetime(2026, 3, 3, 7, 30, tzinfo=UTC)}
    deps = replace(deps, now=lambda: at["now"])
    warned = warn_unreachable(deps, claims, lambda s, m: sent.append((s, m)))
    # bob and erin now, and again for the slot from 09:00 (bob its primary): each slot once.
    assert warned == ["support/bob", "support/erin", "support/bob", "support/erin"]
    assert any("bob is on call for support from 2026-03-03 09:00 UTC" in m for _, m in sent)
    at["now"] = datetime(2026, 3, 3, 9, 5, tzinfo=UTC)  # bob's shift has started
    assert warn_unreachable(deps, claims, lambda s, m: sent.append((s, m))) == []
    assert len(sent) == 4


def test_a_failed_warning_is_released_and_tried_again() -> None:
    deps, _ = _deps()
    claims = Claims()

    def down(subject: str, message: str) -> None:
        raise StoreUnavailable("publish alert: EndpointConnectionError")

    with pytest.raises(StoreUnavailable):
        warn_unreachable(deps, claims, down)
    sent: list[tuple[str, str]] = []
    assert warn_unreachable(deps, claims, lambda s, m: sent.append((s, m))) == [
        "support/bob", "support/erin"]


def test_a_confirmed_team_is_never_warned_about() -> None:
    deps, subscriptions = _deps()
    subscriptions.states.update({"b-mail": ("email", "confirmed"), "e-sms": ("sms", "confirmed")})
    deps.store.agent_record("erin")["subscriptions"] = ["e-sms"]  # type: ignore[index]
    assert warn_unreachable(deps, Claims(), lambda s, m: None) == []


def test_the_console_overview_survives_sns_being_unreadable() -> None:
    deps, subscriptions = _deps()

    def down(stored: Mapping[str, list[str]]) -> dict[str, list[dict[str, str]]]:
        raise StoreUnavailable("list subscriptions: EndpointConnectionError")

    subscriptions.channels = down  # type: ignore[method-assign]
    [team] = overview(("support",), deps)
    assert team["now"]["primary"] == "alice"
    assert (team["channels"], team["unreachable"]) == (None, [])
    with pytest.raises(StoreUnavailable):  # the admin API answers 503: the client retries
        who_is_on_call("support", deps)
