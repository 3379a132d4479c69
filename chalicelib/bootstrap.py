"""Wiring: cached lazy getters that build adapters once per container, on first use.

Import stays cheap (no clients at import: cold start is a measured figure), and tests can swap
in fakes by calling `reset()` after changing the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings as settings  # tests reach the names through here

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.adapters.dead_letters import SqsDeadLetters
    from chalicelib.adapters.dynamodb.ack_links import DynamoAckLinks
    from chalicelib.adapters.dynamodb.alert_log import DynamoAlertLog
    from chalicelib.adapters.dynamodb.channels import DynamoChannels
    from chalicelib.adapters.dynamodb.conversations import DynamoConversations
    from chalicelib.adapters.dynamodb.customer_data import DynamoCustomerData
    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks
    from chalicelib.adapters.dynamodb.ingest_store import DynamoIngestStore
    from chalicelib.adapters.dynamodb.listening import DynamoListenCursors
    from chalicelib.adapters.dynamodb.oncall import DynamoOnCall
    from chalicelib.adapters.secrets import PlatformSecrets
    from chalicelib.adapters.sns_alerts import SnsNotifier
    from chalicelib.adapters.sqs_queue import SqsInboundQueue, SqsRedelivery
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock
    from chalicelib.adapters.watchtower import AwsWatchtower
    from chalicelib.domain.policies import Policies
    from chalicelib.domain.replies import ReplyRoute
    from chalicelib.services.acknowledge import AckDeps
    from chalicelib.services.agent_api import AgentDeps
    from chalicelib.services.alerting import AlertingDeps
    from chalicelib.services.auth import AuthDeps
    from chalicelib.services.channel_watch import ChannelDeps, WatchLog
    from chalicelib.services.inbound import InboundDeps
    from chalicelib.services.ingest import IngestDeps
    from chalicelib.services.listening import ListeningDeps
    from chalicelib.services.oncall_admin import AdminDeps
    from chalicelib.services.sweeper import SweepDeps
    from chalicelib.services.turns import TurnDeps
    from chalicelib.services.webhooks import WebhookDeps


# The AWS SDK logs whole requests (message text, tokens) at DEBUG: never let a DEBUG root logger
# (an operator chasing a bug) turn that on. Our own logs carry ids and counts only.
for _chatty in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)


def _client(service: str) -> Any:
    import boto3  # the endpoint comes from AWS_ENDPOINT_URL: local and cloud run the same code

    return boto3.session.Session().client(service)  # type: ignore[call-overload]


@cache
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@cache
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


@cache
def sns() -> SNSClient:
    client: SNSClient = _client("sns")
    return client


@cache
def stepfunctions() -> SFNClient:
    client: SFNClient = _client("stepfunctions")
    return client


@cache
def cloudwatch() -> Any:
    return _client("cloudwatch")


@cache
def watchtower() -> AwsWatchtower:
    from chalicelib.adapters.watchtower import AwsWatchtower

    return AwsWatchtower(dead_letters(), cloudwatch(), stepfunctions(),
                         f"replywindow-{settings().stage}-", alarm_clock_arn(), sns())


@cache
def account_id() -> str:
    account: str = _client("sts").get_caller_identity()["Account"]
    return account


def _arn(service: str, resource: str) -> str:
    region = dynamodb().meta.region_name
    return f"arn:aws:{service}:{region}:{account_id()}:{resource}"


@cache
def alarm_clock_arn() -> str:
    return _arn("states", f"stateMachine:{settings().alarm_clock}")


@cache
def alerts_topic_arn() -> str:
    return _arn("sns", settings().alerts_topic)


@cache
def due_checks() -> DynamoDueChecks:
    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks

    return DynamoDueChecks(dynamodb(), settings().table)


@cache
def alarm_clock() -> StepFunctionsAlarmClock:
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock

    return StepFunctionsAlarmClock(stepfunctions(), alarm_clock_arn())


@cache
def conversations() -> DynamoConversations:
    from chalicelib.adapters.dynamodb.conversations import DynamoConversations

    return DynamoConversations(dynamodb(), settings().table,
                               timedelta(days=settings().retention_days), now)


@cache
def oncall() -> DynamoOnCall:
    from chalicelib.adapters.dynamodb.oncall import DynamoOnCall

    return DynamoOnCall(dynamodb(), settings().table)


@cache
def notifier() -> SnsNotifier:
    from chalicelib.adapters.sns_alerts import SnsNotifier

    return SnsNotifier(sns(), alerts_topic_arn())


@cache
def alert_log() -> DynamoAlertLog:
    from chalicelib.adapters.dynamodb.alert_log import DynamoAlertLog

    return DynamoAlertLog(dynamodb(), settings().table)


@cache
def redelivery() -> SqsRedelivery:
    from chalicelib.adapters.sqs_queue import SqsRedelivery

    return SqsRedelivery(sqs())


@cache
def ack_links() -> DynamoAckLinks:
    from chalicelib.adapters.dynamodb.ack_links import DynamoAckLinks

    return DynamoAckLinks(dynamodb(), settings().table, lambda: secrets().signing_key())


@cache
def policies() -> Policies:
    from chalicelib.domain.policies import load_policies

    return load_policies(settings().policies_path)


def record_turn(conversation_id: str, turn: int, fields: dict[str, Any]) -> None:
    conversations().update_turn(conversation_id, turn, fields)


def turn_deps() -> TurnDeps:
    from chalicelib.services.turns import TurnDeps

    return TurnDeps(conversations=conversations(), due_checks=due_checks(),
                    clock=alarm_clock(), policies=policies, now=now)


def alerting_deps() -> AlertingDeps:
    from chalicelib.services.alerting import AlertingDeps

    return AlertingDeps(due_checks=due_checks(), conversations=conversations(),
                        rotas=oncall(), alert_log=alert_log(), notifier=notifier(),
                        ack_links=ack_links(), public_url=settings().public_url, now=now,
                        default_team=policies().default_team, on_turn=record_turn,
                        digest_after=settings().digest_after, clock=alarm_clock(),
                        resolution=policies().timer_resolution)


def sweep_deps() -> SweepDeps:
    from dataclasses import replace

    from chalicelib.services.sweeper import SweepDeps

    return SweepDeps(open_turns=conversations(), due_checks=due_checks(),
                     alert_log=alert_log(),
                     alerting=lambda: replace(alerting_deps(), next_level_best_effort=True),
                     policies=policies, now=now,
                     period=timedelta(minutes=settings().sweep_minutes))


@cache
def idempotency_config() -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    # A key already used for another text or route (public vs DM) is refused, never answered
    # with the first reply's result.
    return IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="[text, route]",
                             expires_after_seconds=86400)


def lambda_context(context: Any) -> None:
    """Idempotency needs the time left in this invocation to expire an in-progress record."""
    if context is not None:
        idempotency_config().register_lambda_context(context)


@cache
def reply_sender() -> Callable[[ReplyRoute, str, str], str]:
    """Platform senders behind powertools Idempotency: a retried request sends once."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    from chalicelib.adapters.platforms.calls import Budget
    from chalicelib.adapters.platforms.senders import PlatformSenders
    from chalicelib.domain.errors import IdempotencyKeyReused, ReplyMaybeSent, ReplyRefused
    from chalicelib.domain.events import Platform
    from chalicelib.domain.replies import ReplyRoute

    budget = Budget(read=min(settings().platform_read_timeout, Budget().total))
    senders = PlatformSenders(secrets, settings().x_api_url, settings().graph_api_url,
                              budget=budget)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().table, key_attr="PK", sort_key_attr="SK",
        expiry_attr="expires_at", boto3_client=dynamodb())
    config = idempotency_config()

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=persistence, config=config)
    def send_reply(request: dict[str, Any]) -> dict[str, str]:
        route = ReplyRoute(**{**request["route"], "platform": Platform(
            request["route"]["platform"])})
        try:
            return {"id": senders.send(route, request["text"])}
        except ReplyMaybeSent as unsure:
            # Kept as this key's result (powertools deletes the record of a call that
            # raised): a retry with the same key gets the same answer and never posts again.
            return {"maybe_sent": unsure.detail, "channel": unsure.channel,
                    "timed_out": "yes" if unsure.timed_out else ""}

    def send(route: ReplyRoute, text: str, key: str) -> str:
        request = {"key": key, "text": text, "route": {
            "platform": route.platform.value, "kind": route.kind,
            "recipient": route.recipient, "brand_id": route.brand_id, "tag": route.tag}}
        try:
            result = send_reply(request=request)
        except IdempotencyAlreadyInProgressError as error:
            raise ReplyRefused("this reply is already being sent") from error
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "Idempotency-Key: already used for a different reply on this conversation; "
                "use a new key for a new reply") from error
        if "maybe_sent" in result:
            raise ReplyMaybeSent(result["channel"], result["maybe_sent"],
                                 timed_out=bool(result["timed_out"]))
        return str(result["id"])

    return send


def agent_deps() -> AgentDeps:
    from chalicelib.services.agent_api import AgentDeps

    return AgentDeps(conversations=conversations(), inbox=conversations(),
                     store=ingest_store(), send=reply_sender(), now=now,
                     default_team=policies().default_team, on_turn=record_turn,
                     cursor_key=lambda: secrets().signing_key(), agent_teams=agent_teams,
                     meta_human_agent=settings().meta_human_agent,
                     channel_problem=channel_log().problem, unsure=conversations())


@cache
def dead_letters() -> SqsDeadLetters:
    from chalicelib.adapters.dead_letters import SqsDeadLetters

    return SqsDeadLetters(sqs(), {"inbound": settings().inbound_queue,
                                  "alerts": settings().alerts_queue})


@cache
def customer_data() -> DynamoCustomerData:
    from chalicelib.adapters.dynamodb.customer_data import DynamoCustomerData

    return DynamoCustomerData(dynamodb(), settings().table, policies().timer_resolution, now)


def auth_deps() -> AuthDeps:
    from chalicelib.services.auth import AuthDeps

    return AuthDeps(admin_token=lambda: secrets().admin_token, find_token=oncall().by_token)


def agent_teams(agent_id: str) -> tuple[str, ...] | None:
    record = oncall().agent_record(agent_id)
    return tuple(record.get("teams") or ()) if record else None


def admin_deps() -> AdminDeps:
    from chalicelib.adapters.dynamodb.sessions import DynamoSessions
    from chalicelib.services.oncall_admin import AdminDeps

    return AdminDeps(store=oncall(), subscriptions=notifier(), now=now,
                     teams=lambda: policies().teams, default_team=policies().default_team,
                     end_sessions=DynamoSessions(dynamodb(), settings().table).delete_for)


def ack_deps() -> AckDeps:
    from chalicelib.services.acknowledge import AckDeps

    return AckDeps(links=ack_links(), conversations=conversations(), now=now,
                   on_turn=record_turn, human_agent=settings().meta_human_agent)


def now() -> datetime:
    return datetime.now(UTC)


def secrets() -> PlatformSecrets:
    from chalicelib.adapters.secrets import load_secrets

    return load_secrets(settings().secrets_name)  # cached by powertools for CACHE_SECONDS


@cache
def ingest_store() -> DynamoIngestStore:
    from chalicelib.adapters.dynamodb.ingest_store import DynamoIngestStore

    return DynamoIngestStore(dynamodb(), settings().table,
                             timedelta(days=settings().retention_days), now)


@cache
def inbound_queue() -> SqsInboundQueue:
    from chalicelib.adapters.sqs_queue import SqsInboundQueue

    return SqsInboundQueue(sqs(), settings().inbound_queue)


def inbound_deps() -> InboundDeps:
    from chalicelib.services.inbound import InboundDeps

    return InboundDeps(store=ingest_store(), policies=policies, turns=turn_deps)


def ingest_deps() -> IngestDeps:
    from chalicelib.services.ingest import IngestDeps

    return IngestDeps(store=ingest_store(), queue=inbound_queue(), now=now,
                      channels=channel_log())


@cache
def webhook_deps() -> WebhookDeps:
    from chalicelib.services.webhooks import WebhookDeps

    return WebhookDeps(ingest=ingest_deps, secrets=secrets,
                       max_body_bytes=settings().max_body_bytes, now=now,
                       channels=channel_log())


@cache
def channels() -> DynamoChannels:
    from chalicelib.adapters.dynamodb.channels import DynamoChannels

    return DynamoChannels(dynamodb(), settings().table)


def channel_deps() -> ChannelDeps:
    from chalicelib.services.channel_watch import ChannelDeps

    return ChannelDeps(store=channels(), notify_admins=notifier().notify_admins,
                       policies=policies, public_url=settings().public_url, now=now)


@cache
def channel_log() -> WatchLog:
    from chalicelib.services.channel_watch import WatchLog

    return WatchLog(store=channels(), policies=policies, now=now)


@cache
def listen_cursors() -> DynamoListenCursors:
    from chalicelib.adapters.dynamodb.listening import DynamoListenCursors

    return DynamoListenCursors(dynamodb(), settings().table)


def listening_deps() -> ListeningDeps:
    from chalicelib.adapters.platforms.x_search import XRecentSearch
    from chalicelib.services.listening import ListeningDeps

    return ListeningDeps(
        search=lambda: XRecentSearch(lambda: secrets().x_bearer_token, settings().x_api_url,
                                     now=now),
        cursors=listen_cursors(), ingest=ingest_deps, policies=policies, now=now)


def health(*, admin: bool) -> dict[str, Any]:
    """Resource names and the channels' platform errors help an attacker map the deployment:
    only the admin sees them; anyone else learns the API is up."""
    if not admin:
        return {"status": "ok"}
    from chalicelib.services.self_watch import sms_rows

    s = settings()
    watched = self_watch()
    return {
        "status": "ok",
        "stage": s.stage,
        "table": s.table,
        "queues": {"inbound": s.inbound_queue, "alerts": s.alerts_queue},
        "topic": s.alerts_topic,
        "state_machine": s.alarm_clock,
        "channels": _channels_or_unknown(),
        **watched,
        # Rows as `replywindow doctor` prints them, worded here once.
        "sms_checks": sms_rows(watched.get("sms")),
    }


def self_watch() -> dict[str, Any]:
    from chalicelib.services import self_watch

    return self_watch.overview(watchtower())


def _channels_or_unknown() -> dict[str, Any]:
    from chalicelib.domain.errors import StoreUnavailable
    from chalicelib.services import channel_watch

    try:
        return channel_watch.overview(channel_deps())
    except StoreUnavailable:
        return {"error": "channel health unavailable"}


def reset() -> None:
    """Forget every cached client and setting (tests change the environment between runs)."""
    for getter in (settings, dynamodb, sqs, sns, stepfunctions, account_id, alarm_clock_arn,
                   alerts_topic_arn, due_checks, alarm_clock, ingest_store, inbound_queue,
                   webhook_deps, conversations, oncall, notifier, alert_log, ack_links,
                   policies, reply_sender, idempotency_config, channels, channel_log,
                   dead_letters, customer_data, redelivery, cloudwatch, watchtower,
                   listen_cursors):
        getter.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
