"""Alerts through the SNS topic: every agent's SMS and email subscriptions filter on `agent`,
so one publish per agent reaches exactly that agent's phone and inbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.redaction import conversation_label

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


ADMINS = "admins"  # the `agent` attribute of alerts meant for every admin


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self.client, self.topic_arn = client, topic_arn

    def notify(self, *, agent: str, team: str, level: str, conversation: str | None,
               subject: str, sms: str, email: str) -> None:
        attributes = {"agent": agent, "team": team, "level": level}
        if conversation:
            # Attributes are metadata SNS keeps and logs (delivery status): a WhatsApp
            # conversation's id holds the customer's phone number.
            attributes["conversation"] = conversation_label(conversation)
        try:
            self.client.publish(
                TopicArn=self.topic_arn, Subject=subject[:100], MessageStructure="json",
                Message=json.dumps({"default": sms, "sms": sms, "email": email}),
                MessageAttributes={k: {"DataType": "String", "StringValue": v}
                                   for k, v in attributes.items()})
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"publish alert: {type(error).__name__}") from error

    def notify_admins(self, subject: str, sms: str) -> None:
        """Operational alerts (a channel down or back): every admin's subscriptions match."""
        self.notify(agent=ADMINS, team=ADMINS, level="channel", conversation=None,
                    subject=subject, sms=sms,
                    email=f"{sms}\n\nEvery channel's state is on the health page.")

    def subscribe(self, agent: str, *, phone: str | None, email: str | None,
                  admin: bool = False) -> list[str]:
        """SMS and email subscriptions for one agent, each filtered to that agent's alerts
        (and, for an admin, to the admins' operational alerts)."""
        arns = []
        policy = json.dumps({"agent": [agent, ADMINS] if admin else [agent]})
        for protocol, endpoint in (("sms", phone), ("email", email)):
            if not endpoint:
                continue
            try:
                arns.append(self.client.subscribe(
                    TopicArn=self.topic_arn, Protocol=protocol, Endpoint=endpoint,
                    Attributes={"FilterPolicy": policy}, ReturnSubscriptionArn=True,
                )["SubscriptionArn"])
            except (ClientError, BotoCoreError) as error:
                raise StoreUnavailable(f"subscribe {protocol}: {type(error).__name__}") from error
        return arns

    def unsubscribe(self, arns: list[str]) -> None:
        for arn in arns:
            try:
                self.client.unsubscribe(SubscriptionArn=arn)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NotFound":
                    raise StoreUnavailable("unsubscribe") from error

    def channels(self, stored: Mapping[str, list[str]]) -> dict[str, list[dict[str, str]]]:
        """Each agent's subscriptions and their state: `confirmed`, `pending` (an email
        nobody has confirmed yet receives nothing) or `missing` (the ARN we stored is gone,
        e.g. deleted in the SNS console). An agent's are those whose FilterPolicy names them:
        the topic's list plus the ARNs stored with the agent, because the list shows a
        pending subscription as `PendingConfirmation`, without an ARN to read."""
        arns = dict.fromkeys(arn for arns in stored.values() for arn in arns)
        try:
            for page in self.client.get_paginator("list_subscriptions_by_topic").paginate(
                    TopicArn=self.topic_arn):
                for listed in page.get("Subscriptions", []):
                    if listed.get("SubscriptionArn", "").startswith("arn:"):
                        arns.setdefault(listed["SubscriptionArn"])
            shown: dict[str, list[dict[str, str]]] = {agent: [] for agent in stored}
            for arn in arns:
                attributes = self._attributes(arn)
                if attributes is None:
                    for agent, theirs in stored.items():
                        if arn in theirs:
                            shown[agent].append({"protocol": "unknown", "state": "missing"})
                    continue
                state = ("pending" if attributes.get("PendingConfirmation") == "true"
                         else "confirmed")
                for agent in _filtered_agents(attributes.get("FilterPolicy")):
                    if agent in shown:
                        shown[agent].append({"protocol": attributes.get("Protocol", "?"),
                                             "state": state,
                                             "endpoint": _masked(attributes.get("Endpoint"))})
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"list subscriptions: {type(error).__name__}") from error
        return shown

    def _attributes(self, arn: str) -> dict[str, str] | None:
        try:
            return self.client.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFound":
                return None
            raise


def _filtered_agents(policy: str | None) -> list[str]:
    """The agents a FilterPolicy lets through (`admins` addresses a role, not an agent)."""
    try:
        parsed: Any = json.loads(policy or "{}")
    except ValueError:
        return []
    agents = parsed.get("agent", []) if isinstance(parsed, dict) else []
    return [a for a in agents if isinstance(a, str) and a != ADMINS]


def _masked(endpoint: str | None) -> str:
    """Enough of the endpoint to tell two apart; a phone number or an address is personal."""
    if not endpoint:
        return ""
    if "@" in endpoint:
        name, _, domain = endpoint.partition("@")
        return f"{name[:1]}…@{domain}"
    return f"…{endpoint[-3:]}"
