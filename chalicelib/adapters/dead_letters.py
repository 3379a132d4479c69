"""The dead-letter queues: what failed maxReceiveCount times, listed and sent back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import QueueUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsDeadLetters:
    """Each source queue's DLQ is found from its own RedrivePolicy: one source of truth."""

    def __init__(self, client: SQSClient, source_queues: dict[str, str]) -> None:
        self.client, self.sources = client, source_queues  # name in the API -> queue name

    def _urls(self, source: str) -> tuple[str, str]:
        url = self.client.get_queue_url(QueueName=self.sources[source])["QueueUrl"]
        policy = json.loads(self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
        dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
        return url, self.client.get_queue_url(QueueName=dlq_name)["QueueUrl"]

    def _receive(self, dlq: str, visibility: int) -> list[Any]:
        return list(self.client.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
            AttributeNames=["All"]).get("Messages", []))

    def peek(self, source: str, limit: int = 50) -> list[dict[str, Any]]:
        try:
            _, dlq = self._urls(source)
            seen: dict[str, dict[str, Any]] = {}
            # Looked at, not taken: each message is hidden 2 s, then back for the redrive.
            while len(seen) < limit and (batch := self._receive(dlq, 2)):
                for m in batch:
                    seen[m["MessageId"]] = {
                        "id": m["MessageId"], "body": m["Body"],
                        "received": int(m["Attributes"].get("ApproximateReceiveCount", 0)),
                        "group": m["Attributes"].get("MessageGroupId")}
            return list(seen.values())[:limit]
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"read dead letters: {type(error).__name__}") from error

    def depth(self, source: str) -> int:
        """Dead letters waiting (visible or being looked at)."""
        try:
            _, dlq = self._urls(source)
            attrs = self.client.get_queue_attributes(QueueUrl=dlq, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])[
                "Attributes"]
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"read dead letters: {type(error).__name__}") from error
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0))

    def redrive(self, source: str) -> int:
        """Send every dead letter back to its source queue (FIFO group kept); the count."""
        moved = 0
        try:
            url, dlq = self._urls(source)
            fifo = url.endswith(".fifo")
            while batch := self._receive(dlq, 30):
                for m in batch:
                    extra: dict[str, Any] = {}
                    if fifo:
                        extra = {"MessageGroupId": m["Attributes"]["MessageGroupId"],
                                 "MessageDeduplicationId": "redrive-" + m["MessageId"]}
                    self.client.send_message(QueueUrl=url, MessageBody=m["Body"], **extra)
                    self.client.delete_message(QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"])
                    moved += 1
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"redrive: {type(error).__name__}") from error
        return moved
