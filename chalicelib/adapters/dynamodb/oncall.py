"""Teams' rotas and agents in DynamoDB (`TEAM#<team>`/`ROTA`, `AGENT#<id>`/`PROFILE`).

An agent's teams are a string set on the profile, so joining a team is one atomic ADD that
two rotas saved at once cannot undo."""

from __future__ import annotations

import hashlib
import hmac
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.dynamodb.codec import aws_errors, from_item, key, to_item, value
from chalicelib.domain.oncall import (
    Agent,
    Rota,
    agent_from_dict,
    agent_to_dict,
    rota_from_dict,
    rota_to_dict,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def token_hash(token: str) -> str:
    """Bearer tokens are stored hashed: a leaked table does not leak working tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


class DynamoOnCall:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client, self.table = client, table

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with aws_errors("read on-call"):
            item = self.client.get_item(TableName=self.table, Key=key(pk, sk),
                                        ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def rota(self, team: str) -> Rota | None:
        item = self._get(f"TEAM#{team}", "ROTA")
        return rota_from_dict(item["rota"]) if item else None

    def put_rota(self, rota: Rota) -> None:
        with aws_errors("save rota"):
            self.client.put_item(TableName=self.table, Item=to_item(
                {"PK": f"TEAM#{rota.team}", "SK": "ROTA", "rota": rota_to_dict(rota)}))

    def agent(self, agent_id: str) -> Agent | None:
        item = self._get(f"AGENT#{agent_id}", "PROFILE")
        return agent_from_dict(item["agent"]) if item else None

    def agent_record(self, agent_id: str) -> dict[str, Any] | None:
        return self._get(f"AGENT#{agent_id}", "PROFILE")

    def agent_teams(self, agent_id: str) -> tuple[str, ...] | None:
        """The agent's teams, or None when there is no such agent."""
        record = self.agent_record(agent_id)
        return tuple(record.get("teams") or ()) if record else None

    def put_agent(self, agent: Agent, *, role: str, token: str | None,
                  subscriptions: list[str], teams: tuple[str, ...] = ()) -> None:
        item: dict[str, Any] = {"PK": f"AGENT#{agent.id}", "SK": "PROFILE",
                                "agent": agent_to_dict(agent), "role": role,
                                "subscriptions": subscriptions}
        if teams:  # DynamoDB has no empty set: no teams is no attribute
            item["teams"] = set(teams)
        if token:
            item["GSI1PK"] = "TOKEN"
            item["GSI1SK"] = token_hash(token)
        with aws_errors("save agent"):
            self.client.put_item(TableName=self.table, Item=to_item(item))

    def set_teams(self, agent_id: str, teams: tuple[str, ...]) -> bool:
        """Replace an agent's teams; False when there is no such agent."""
        change: dict[str, Any] = ({"UpdateExpression": "SET teams = :t",
                                   "ExpressionAttributeValues": {":t": value(set(teams))}}
                                  if teams else {"UpdateExpression": "REMOVE teams"})
        with aws_errors("save agent teams"):
            try:
                self.client.update_item(TableName=self.table,
                                        Key=key(f"AGENT#{agent_id}", "PROFILE"),
                                        ConditionExpression="attribute_exists(PK)", **change)
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def join_team(self, agent_id: str, team: str) -> None:
        with aws_errors("save agent teams"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):  # no such agent
            self.client.update_item(
                TableName=self.table, Key=key(f"AGENT#{agent_id}", "PROFILE"),
                UpdateExpression="ADD teams :t", ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":t": value({team})})

    def by_token(self, token: str) -> dict[str, Any] | None:
        with aws_errors("find token"):
            items = self.client.query(
                TableName=self.table, IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :t AND GSI1SK = :h",
                ExpressionAttributeValues={":t": {"S": "TOKEN"},
                                           ":h": {"S": token_hash(token)}})["Items"]
        if not items:
            return None
        # The index names the agent; their teams are read from the profile itself, consistently,
        # so a team taken away is taken away on the next request.
        found = from_item(items[0])
        profile = self.agent_record(str(found["agent"]["id"]))
        if profile is None or not hmac.compare_digest(str(profile.get("GSI1SK", "")),
                                                      token_hash(token)):
            return None  # replaced (new token) since the index was read
        return profile

    def claim_shift_warning(self, team: str, agent: str, start: datetime,
                            end: datetime) -> bool:
        """Once per slot: the admins hear that `agent` is unreachable for the slot
        [start, end) of `team` once, whichever sweep or container sees it first."""
        with aws_errors("claim shift warning"):
            try:
                self.client.update_item(
                    TableName=self.table, Key=key(f"TEAM#{team}", f"UNREACHABLE#{agent}"),
                    UpdateExpression="SET warned_until = :end, expires_at = :exp",
                    ConditionExpression="attribute_not_exists(warned_until) OR "
                                        "warned_until <= :start",
                    ExpressionAttributeValues={
                        ":end": value(end.isoformat()), ":start": value(start.isoformat()),
                        ":exp": value(int(end.timestamp()) + 86400)})
            except self.client.exceptions.ConditionalCheckFailedException:
                return False
        return True

    def release_shift_warning(self, team: str, agent: str, end: datetime) -> None:
        """The warning's publish failed: the next sweep tries again."""
        with aws_errors("release shift warning"), suppress(
                self.client.exceptions.ConditionalCheckFailedException):
            self.client.delete_item(
                TableName=self.table, Key=key(f"TEAM#{team}", f"UNREACHABLE#{agent}"),
                ConditionExpression="warned_until = :end",
                ExpressionAttributeValues={":end": value(end.isoformat())})
