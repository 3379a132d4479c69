"""The alarm clock on Step Functions: one execution per bucket, named after it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import StoreUnavailable
from chalicelib.domain.timers import bucket_time

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


class StepFunctionsAlarmClock:
    def __init__(self, client: SFNClient, state_machine_arn: str, prefix: str = "bucket") -> None:
        self.client, self.arn, self.prefix = client, state_machine_arn, prefix
        self._set: set[int] = set()  # buckets this container already set: skip the API call

    def set(self, bucket: int) -> None:
        if bucket in self._set:
            return
        at = bucket_time(bucket).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            # Same name and same input: StartExecution is idempotent, so racing writers are fine.
            self.client.start_execution(
                stateMachineArn=self.arn, name=f"{self.prefix}-{bucket}",
                input=json.dumps({"bucket": bucket, "at": at}),
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code != "ExecutionAlreadyExists":  # same name, already rung and finished
                raise StoreUnavailable(f"set alarm clock: {code}") from error
        except BotoCoreError as error:
            raise StoreUnavailable(f"set alarm clock: {type(error).__name__}") from error
        self._set.add(bucket)
        if len(self._set) > 10_000:
            self._set.clear()
