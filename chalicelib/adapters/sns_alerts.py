"""Alerts through the SNS topic: every agent's SMS and email subscriptions filter on `agent`,
so one publish per agent reaches exactly that agent's phone and inbox."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
