"""The environment, read once per container. Nothing else in chalicelib reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_POLICIES = Path(__file__).resolve().parent / "policies.yaml"


@dataclass(frozen=True)
class Settings:
    stage: str
    table: str
    inbound_queue: str
    alerts_queue: str
    alerts_topic: str
    alarm_clock: str
    secrets_name: str
    policies_path: Path
    public_url: str  # base of links in alerts (ack), e.g. the API Gateway stage URL
    x_api_url: str
    graph_api_url: str
    retention_days: int
    max_body_bytes: int
    meta_human_agent: bool  # the Page may use the HUMAN_AGENT tag (7-day window)
    digest_after: int  # alerts a minute an agent gets one by one before a digest
    platform_read_timeout: float  # seconds a platform has to answer a reply's post
    # A failed queue record's backoff (chalicelib/domain/retries.py); the template sizes each
    # queue's maxReceiveCount so that these defaults retry for over an hour.
    retry_base_seconds: float
    retry_cap_seconds: float
    sweep_minutes: float  # the sweeper's period: how far back it reads the alarm clock's buckets


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: check .chalice/config.json for this stage")
    return value


@cache
def settings() -> Settings:
    return Settings(
        stage=os.environ.get("REPLYWINDOW_STAGE", "dev"),
        table=_required("REPLYWINDOW_TABLE"),
        inbound_queue=_required("REPLYWINDOW_INBOUND_QUEUE"),
        alerts_queue=_required("REPLYWINDOW_ALERTS_QUEUE"),
        alerts_topic=_required("REPLYWINDOW_ALERTS_TOPIC"),
        alarm_clock=_required("REPLYWINDOW_ALARM_CLOCK"),
        secrets_name=_required("REPLYWINDOW_SECRETS"),
        policies_path=Path(os.environ.get("REPLYWINDOW_POLICIES") or DEFAULT_POLICIES),
        public_url=os.environ.get("REPLYWINDOW_PUBLIC_URL", "").rstrip("/"),
        x_api_url=os.environ.get("REPLYWINDOW_X_API_URL", "https://api.x.com").rstrip("/"),
        graph_api_url=os.environ.get(
            "REPLYWINDOW_GRAPH_API_URL", "https://graph.facebook.com/v23.0"
        ).rstrip("/"),
        retention_days=int(os.environ.get("REPLYWINDOW_RETENTION_DAYS", "400")),
        max_body_bytes=int(os.environ.get("REPLYWINDOW_MAX_BODY_BYTES", str(1024 * 1024))),
        meta_human_agent=os.environ.get("REPLYWINDOW_META_HUMAN_AGENT", "") == "true",
        digest_after=int(os.environ.get("REPLYWINDOW_DIGEST_AFTER", "5")),
        platform_read_timeout=float(os.environ.get("REPLYWINDOW_PLATFORM_READ_TIMEOUT", "10")),
        retry_base_seconds=float(os.environ.get("REPLYWINDOW_RETRY_BASE_SECONDS", "2")),
        retry_cap_seconds=float(os.environ.get("REPLYWINDOW_RETRY_CAP_SECONDS", "300")),
        sweep_minutes=float(os.environ.get("REPLYWINDOW_SWEEP_MINUTES", "5")),
    )


def validate_requests() -> bool:
    """Whether the AWS SDK checks every request's parameters against the API model before
    sending it. Off in the functions: the check only raises, it never changes what is sent, so
    a request that passes it is sent byte for byte the same, and skipping it saves about a
    sixth of the SDK's CPU per request (a worker message makes about six). On in the tests
    (tests/conftest.py), so a malformed request still fails there before the emulator, which
    checks less, would accept it. Read when a client is built: once per container."""
    return os.environ.get("REPLYWINDOW_VALIDATE_REQUESTS", "") == "1"
