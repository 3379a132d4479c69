"""The inbound FIFO queue: one message group per conversation keeps its events in order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import QueueUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsInboundQueue:
    def __init__(self, client: SQSClient, queue_name: str) -> None:
        self.client, self.queue_name = client, queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self.client.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        return self._url

    def send(self, body: Mapping[str, Any], *, group: str, dedupe_id: str) -> None:
        try:
            # FIFO deduplication (5 minutes) absorbs the second send of a retried delivery.
            self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps(body),
                                     MessageGroupId=group,
                                     MessageDeduplicationId=_dedupe(dedupe_id))
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(f"send to {self.queue_name}: {type(error).__name__}") from error

    def waiting(self) -> int:
        """Messages no worker has picked up yet (SQS's approximate count of visible ones; those
        in flight are being applied now). The alerts hold while there are any."""
        try:
            attributes = self.client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        except (ClientError, BotoCoreError) as error:
            raise QueueUnavailable(
                f"count {self.queue_name}: {type(error).__name__}") from error
        return int(attributes.get("ApproximateNumberOfMessages", "0"))


def _dedupe(value: str) -> str:
    """SQS allows 128 characters of [A-Za-z0-9!-/:-@[-`{-~]: hash anything longer or odd."""
    if len(value) <= 128 and value.isascii() and value.isprintable() and " " not in value:
        return value
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


class SqsRedelivery:
    """Bring a failed record back soon instead of after the queue's visibility timeout (sized
    for the function's timeout): an alert retried in seconds can still be on time."""

    def __init__(self, client: SQSClient) -> None:
        self.client = client
        self._urls: dict[str, str] = {}

    def _url(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            name = queue_arn.rsplit(":", 1)[-1]
            self._urls[queue_arn] = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        return self._urls[queue_arn]

    def retry_in(self, queue_arn: str, receipt_handle: str, seconds: int) -> bool:
        try:
            self.client.change_message_visibility(
                QueueUrl=self._url(queue_arn), ReceiptHandle=receipt_handle,
                VisibilityTimeout=seconds)
        except (ClientError, BotoCoreError):
            return False  # the visibility timeout still brings it back, only later
        return True
