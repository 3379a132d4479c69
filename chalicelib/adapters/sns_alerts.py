"""Alerts through the SNS topic: every agent's SMS and email subscriptions filter on `agent`,
so one publish per agent reaches exactly that agent's phone and inbox.

A follow-up after a failed text carries a `resend` attribute that every SMS subscription's
filter refuses (`"resend": [{"exists": false}]`): it reaches the agent's inbox only."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.redaction import conversation_label

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


logger = Logger(child=True)

ADMINS = "admins"  # the `agent` attribute of alerts meant for every admin
RESEND = "resend"  # the attribute of an email-only follow-up; SMS subscriptions refuse it
NO_RESEND = {RESEND: [{"exists": False}]}

# (MessageId, the publish's attributes): where a publish is recorded, to trace a failed text.
Published = Callable[[str, dict[str, str]], None]


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str,
                 published: Published | None = None) -> None:
        self.client, self.topic_arn, self.published = client, topic_arn, published

    def notify(self, *, agent: str, team: str, level: str, conversation: str | None,
               subject: str, sms: str, email: str) -> None:
        attributes = {"agent": agent, "team": team, "level": level}
        if conversation:
            # Attributes are metadata SNS keeps and logs (delivery status): a WhatsApp
            # conversation's id holds the customer's phone number.
            attributes["conversation"] = conversation_label(conversation)
        message_id = self._publish(subject, {"default": sms, "sms": sms, "email": email},
                                   attributes)
        if self.published is not None:
            try:
                self.published(message_id, attributes)
            except Exception as error:  # sent: a retry would page twice; only the trace is lost
                logger.warning("publish not recorded", extra={"error": type(error).__name__})

    def resend(self, *, agent: str, team: str, level: str, subject: str, email: str) -> None:
        """An email-only follow-up to `agent` (or to every admin): no SMS subscription
        matches it."""
        self._publish(subject, {"default": email, "email": email},
                      {"agent": agent, "team": team, "level": level, RESEND: "sms-failed"})

    def _publish(self, subject: str, message: dict[str, str],
                 attributes: dict[str, str]) -> str:
        try:
            return self.client.publish(
                TopicArn=self.topic_arn, Subject=subject[:100], MessageStructure="json",
                Message=json.dumps(message),
                MessageAttributes={k: {"DataType": "String", "StringValue": v}
                                   for k, v in attributes.items()})["MessageId"]
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
        policy: dict[str, Any] = {"agent": [agent, ADMINS] if admin else [agent]}
        for protocol, endpoint in (("sms", phone), ("email", email)):
            if not endpoint:
                continue
            wanted = {**policy, **NO_RESEND} if protocol == "sms" else policy
            try:
                arns.append(self.client.subscribe(
                    TopicArn=self.topic_arn, Protocol=protocol, Endpoint=endpoint,
                    Attributes={"FilterPolicy": json.dumps(wanted)}, ReturnSubscriptionArn=True,
                )["SubscriptionArn"])
            except (ClientError, BotoCoreError) as error:
                raise StoreUnavailable(f"subscribe {protocol}: {type(error).__name__}") from error
        return arns

    def refuse_resends_by_sms(self) -> int:
        """Give every SMS subscription of the topic the filter that keeps a follow-up email
        off the phone (subscriptions made before it existed); how many were changed."""
        changed = 0
        try:
            for page in self.client.get_paginator("list_subscriptions_by_topic").paginate(
                    TopicArn=self.topic_arn):
                for listed in page.get("Subscriptions", []):
                    arn = listed.get("SubscriptionArn", "")
                    if listed.get("Protocol") != "sms" or not arn.startswith("arn:"):
                        continue
                    attributes = self._attributes(arn) or {}
                    policy = json.loads(attributes.get("FilterPolicy") or "{}")
                    if not isinstance(policy, dict) or policy.get(RESEND) == NO_RESEND[RESEND]:
                        continue
                    self.client.set_subscription_attributes(
                        SubscriptionArn=arn, AttributeName="FilterPolicy",
                        AttributeValue=json.dumps({**policy, **NO_RESEND}))
                    changed += 1
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"update filter policies: {type(error).__name__}") from error
        return changed

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
