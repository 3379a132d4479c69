"""A local stack for a benchmark: the same runtime as `make run`, on free ports."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infrastructure.local.runtime import LocalRuntime, LocalSettings, free_port

SECRETS = {"REPLYWINDOW_X_CONSUMER_SECRET": "bench-x", "REPLYWINDOW_META_APP_SECRET": "bench-m",
           "REPLYWINDOW_ADMIN_TOKEN": "bench-admin"}


@contextmanager
def local_stack(policies: Path | None = None,
                parameters: dict[str, str] | None = None) -> Iterator[LocalRuntime]:
    """The stack in this process (so its AWS calls can be counted or faulted); the environment
    is put back afterwards, so a test session can run one between moto-backed tests.
    `parameters`: the template's, beyond their defaults."""
    saved = dict(os.environ)
    os.environ.update(SECRETS)
    os.environ["REPLYWINDOW_DIGEST_AFTER"] = "1000000"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # figures, not log lines
    if policies:
        os.environ["REPLYWINDOW_POLICIES"] = str(policies)
    state = Path(tempfile.mkdtemp(prefix="replywindow-bench-"))
    settings = LocalSettings(api_port=free_port(), webhook_port=free_port(), aws_port=free_port(),
                             state_dir=state, parameters=dict(parameters or {}))
    runtime = LocalRuntime(settings, say=lambda _: None)
    _forget_emulated_state()
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        _forget_emulated_state()  # and leaves nothing for a later moto-backed test
        os.environ.clear()
        os.environ.update(saved)
        from chalicelib import bootstrap

        bootstrap.reset()


def _forget_emulated_state() -> None:
    """The emulator's state lives in this process: a stack started after another one (or after
    a moto-backed test) starts empty, as a fresh `make run` does."""
    from moto import mock_aws

    fresh = mock_aws()
    fresh.start()  # resets every in-process backend
    fresh.stop()


def alerts_once_due(runtime: LocalRuntime, expected: set[tuple[str, str]], timeout: float,
                    settle: float) -> list[dict[str, Any]]:
    """The outbox's deliveries once every expected (conversation, level) has one (or at the
    timeout), read again `settle` seconds later so that a late duplicate shows itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = runtime.outbox.read_text().splitlines() if runtime.outbox.exists() else []
        if {(d["conversation"], d["level"]) for d in map(json.loads, lines)} >= expected:
            break
        time.sleep(1)
    time.sleep(settle)
    return [json.loads(line) for line in runtime.outbox.read_text().splitlines()]


def dead_letters(runtime: LocalRuntime) -> int:
    """Messages parked in the stack's two dead-letter queues."""
    sqs = runtime.aws.client("sqs")
    return sum(int(sqs.get_queue_attributes(
        QueueUrl=runtime.built.refs[queue], AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"])
        for queue in ("InboundDeadLetterQueue", "AlertsDeadLetterQueue"))
