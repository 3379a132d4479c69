"""Wiring only: every client, adapter and setting the Lambdas use, built once per container
on first use and kept in one memo, `_built`; `reset()` drops it.

Import stays cheap (no clients at import: cold start is a measured figure), and tests can swap
in fakes by calling `reset()` after changing the environment. No behaviour lives here: the
idempotent reply sender is an adapter (chalicelib/adapters/platforms/reply_sender.py), the
health report a service (chalicelib/services/health.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.config import settings as settings  # tests reach the names through here
from chalicelib.config import validate_requests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

    from chalicelib.adapters.dead_letters import SqsDeadLetters
    from chalicelib.adapters.dynamodb.ack_links import DynamoAckLinks
    from chalicelib.adapters.dynamodb.alert_log import DynamoAlertLog
    from chalicelib.adapters.dynamodb.channels import DynamoChannels
    from chalicelib.adapters.dynamodb.conversation_log import DynamoConversationLog
    from chalicelib.adapters.dynamodb.conversations import DynamoConversations
    from chalicelib.adapters.dynamodb.customer_data import DynamoCustomerData
    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks
    from chalicelib.adapters.dynamodb.listening import DynamoListenCursors
    from chalicelib.adapters.dynamodb.messages import Messages
    from chalicelib.adapters.dynamodb.oncall import DynamoOnCall
    from chalicelib.adapters.dynamodb.reply_log import DynamoReplyLog
    from chalicelib.adapters.dynamodb.sent_texts import DynamoSentTexts
    from chalicelib.adapters.dynamodb.sessions import DynamoSessions
    from chalicelib.adapters.platforms.reply_sender import IdempotentReplySender
    from chalicelib.adapters.secrets import PlatformSecrets
    from chalicelib.adapters.sns_alerts import SnsNotifier
    from chalicelib.adapters.sqs_queue import SqsInboundQueue, SqsRedelivery
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock
    from chalicelib.adapters.watchtower import AwsWatchtower
    from chalicelib.domain.policies import Policies
    from chalicelib.services.acknowledge import AckDeps
    from chalicelib.services.agent_api import AgentDeps
    from chalicelib.services.alerting import AlertingDeps
    from chalicelib.services.auth import AuthDeps
    from chalicelib.services.channel_watch import ChannelDeps, WatchLog
    from chalicelib.services.dead_letters import DeadLetterDeps
    from chalicelib.services.health import HealthDeps
    from chalicelib.services.inbound import InboundDeps
    from chalicelib.services.ingest import IngestDeps
    from chalicelib.services.listening import ListeningDeps
    from chalicelib.services.oncall_admin import AdminDeps
    from chalicelib.services.sms_failures import SmsFailureDeps
    from chalicelib.services.sweeper import SweepDeps
    from chalicelib.services.turns import TurnDeps
    from chalicelib.services.webhooks import WebhookDeps

T = TypeVar("T")

# What this container has built, by getter name: the one cache `reset()` clears.
_built: dict[str, Any] = {}
GETTERS: dict[str, Callable[[], Any]] = {}  # every memoized getter, by name


def _once(build: Callable[[], T]) -> Callable[[], T]:
    """The getter builds on its first call and hands out the same object until `reset()`."""
    name = build.__name__

    @wraps(build)
    def get() -> T:
        if name not in _built:
            _built[name] = build()
        built: T = _built[name]
        return built

    GETTERS[name] = get
    return get


# The AWS SDK logs whole requests (message text, tokens) at DEBUG: never let a DEBUG root logger
# (an operator chasing a bug) turn that on. Our own logs carry ids and counts only.
for _chatty in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)


@_once
def _session() -> Any:
    """One SDK session for every client: a session loads the SDK's endpoint and service data
    once (a new one per client read it all again: most of each later client's build), and
    `reset()` drops it with the clients (tests change the environment)."""
    import boto3

    return boto3.session.Session()


# A session is not safe to build clients from on several threads at once (the local runtime
# runs handlers as threads); the clients it builds are.
_client_lock = threading.Lock()


def _client(service: str) -> Any:
    from botocore.config import Config

    # The endpoint comes from AWS_ENDPOINT_URL: local and cloud run the same code.
    # One Lambda instance runs one request at a time, but the local runtime runs every
    # function's handlers as threads of one process sharing these clients: a pool smaller
    # than those threads opens and drops a connection on every request.
    # Parameter validation costs CPU on every request and changes nothing sent (config.py).
    session = _session()
    with _client_lock:
        return session.client(service, config=Config(
            max_pool_connections=64, parameter_validation=validate_requests()))


@_once
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@_once
def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


@_once
def sns() -> SNSClient:
    client: SNSClient = _client("sns")
    return client


@_once
def stepfunctions() -> SFNClient:
    client: SFNClient = _client("stepfunctions")
    return client


@_once
def cloudwatch() -> Any:
    return _client("cloudwatch")


@_once
def watchtower() -> AwsWatchtower:
    from chalicelib.adapters.watchtower import AwsWatchtower

    return AwsWatchtower(dead_letters(), cloudwatch(), stepfunctions(),
                         f"replywindow-{settings().stage}-", alarm_clock_arn(), sns())


@_once
def account_id() -> str:
    account: str = _client("sts").get_caller_identity()["Account"]
    return account


def _arn(service: str, resource: str) -> str:
    region = dynamodb().meta.region_name
    return f"arn:aws:{service}:{region}:{account_id()}:{resource}"


@_once
def alarm_clock_arn() -> str:
    return _arn("states", f"stateMachine:{settings().alarm_clock}")


@_once
def alerts_topic_arn() -> str:
    return _arn("sns", settings().alerts_topic)


@_once
def due_checks() -> DynamoDueChecks:
    from chalicelib.adapters.dynamodb.due_checks import DynamoDueChecks

    return DynamoDueChecks(dynamodb(), settings().table)


@_once
def alarm_clock() -> StepFunctionsAlarmClock:
    from chalicelib.adapters.stepfunctions_clock import StepFunctionsAlarmClock

    return StepFunctionsAlarmClock(stepfunctions(), alarm_clock_arn())


@_once
def conversations() -> DynamoConversations:
    from chalicelib.adapters.dynamodb.conversations import DynamoConversations

    return DynamoConversations(dynamodb(), settings().table,
                               timedelta(days=settings().retention_days), now)


@_once
def oncall() -> DynamoOnCall:
    from chalicelib.adapters.dynamodb.oncall import DynamoOnCall

    return DynamoOnCall(dynamodb(), settings().table)


@_once
def notifier() -> SnsNotifier:
    from chalicelib.adapters.sns_alerts import SnsNotifier

    texts = sent_texts()
    # Each publish's MessageId and what it covered: a failed text is traced back by it.
    return SnsNotifier(sns(), alerts_topic_arn(),
                       published=lambda message_id, covered: texts.published(
                           message_id, covered, now()))


@_once
def sms_filters_checked() -> dict[str, int]:
    """Once a container: SMS subscriptions made before failed texts had follow-ups get the
    filter that keeps a follow-up email off the phone (a failure raises, and is not cached:
    the next call tries again)."""
    return {"updated": notifier().refuse_resends_by_sms()}


@_once
def sent_texts() -> DynamoSentTexts:
    from chalicelib.adapters.dynamodb.sent_texts import DynamoSentTexts

    return DynamoSentTexts(dynamodb(), settings().table)


def sms_failure_deps() -> SmsFailureDeps:
    from chalicelib.services.sms_failures import SmsFailureDeps

    return SmsFailureDeps(texts=sent_texts(), agents=oncall(), notifier=notifier(),
                          public_url=settings().public_url, now=now)


@_once
def alert_log() -> DynamoAlertLog:
    from chalicelib.adapters.dynamodb.alert_log import DynamoAlertLog

    return DynamoAlertLog(dynamodb(), settings().table)


@_once
def redelivery() -> SqsRedelivery:
    from chalicelib.adapters.sqs_queue import SqsRedelivery

    return SqsRedelivery(sqs())


@_once
def ack_links() -> DynamoAckLinks:
    from chalicelib.adapters.dynamodb.ack_links import DynamoAckLinks

    return DynamoAckLinks(dynamodb(), settings().table, lambda: secrets().signing_key())


@_once
def policies() -> Policies:
    from chalicelib.domain.policies import load_policies

    loaded = load_policies(settings().policies_path)
    if not loaded.accounts:
        from aws_lambda_powertools import Logger

        # Fine locally; in production every account's deliveries would be taken as the brand's.
        Logger(child=True).warning("no brand accounts declared in the policies: deliveries "
                                   "for every account are accepted")
    return loaded


def turn_deps() -> TurnDeps:
    from chalicelib.services.turns import TurnDeps

    return TurnDeps(conversations=conversations(), due_checks=due_checks(),
                    clock=alarm_clock(), policies=policies, now=now)


def alerting_deps() -> AlertingDeps:
    from chalicelib.services.alerting import AlertingDeps

    return AlertingDeps(due_checks=due_checks(), conversations=conversations(),
                        rotas=oncall(), alert_log=alert_log(), notifier=notifier(),
                        ack_links=ack_links(), public_url=settings().public_url, now=now,
                        default_team=policies().default_team, on_turn=conversations().update_turn,
                        digest_after=settings().digest_after, clock=alarm_clock(),
                        resolution=policies().timer_resolution,
                        inbound_backlog=inbound_queue(), alert_hold=policies().alert_hold)


def sweep_deps() -> SweepDeps:
    from dataclasses import replace

    from chalicelib.services.sweeper import SweepDeps

    return SweepDeps(open_turns=conversations(), due_checks=due_checks(),
                     alert_log=alert_log(),
                     alerting=lambda: replace(alerting_deps(), next_level_best_effort=True),
                     policies=policies, now=now,
                     period=timedelta(minutes=settings().sweep_minutes))


def lambda_context(context: Any) -> None:
    reply_sender().lambda_context(context)


@_once
def reply_sender() -> IdempotentReplySender:
    from chalicelib.adapters.platforms.calls import Budget
    from chalicelib.adapters.platforms.reply_sender import (
        IdempotentReplySender,
        idempotency_config,
    )
    from chalicelib.adapters.platforms.senders import PlatformSenders

    budget = Budget(read=min(settings().platform_read_timeout, Budget().total))
    senders = PlatformSenders(secrets, settings().x_api_url, settings().graph_api_url,
                              budget=budget, policies=policies)
    return IdempotentReplySender(senders.send, dynamodb(), settings().table,
                                 idempotency_config())


def agent_deps() -> AgentDeps:
    from chalicelib.services.agent_api import AgentDeps

    return AgentDeps(conversations=conversations(), inbox=conversations(),
                     replies=reply_log(), send=reply_sender().send, now=now,
                     default_team=policies().default_team, on_turn=conversations().update_turn,
                     cursor_key=lambda: secrets().signing_key(),
                     agent_teams=oncall().agent_teams,
                     meta_human_agent=settings().meta_human_agent,
                     channels=channel_log(), unsure=conversations(),
                     health_channel=policies().health_channel)


@_once
def dead_letters() -> SqsDeadLetters:
    from chalicelib.adapters.dead_letters import SqsDeadLetters

    return SqsDeadLetters(sqs(), {"inbound": settings().inbound_queue,
                                  "alerts": settings().alerts_queue})


def dead_letter_deps() -> DeadLetterDeps:
    from chalicelib.services.dead_letters import DeadLetterDeps

    return DeadLetterDeps(queues=dead_letters())


@_once
def customer_data() -> DynamoCustomerData:
    from chalicelib.adapters.dynamodb.customer_data import DynamoCustomerData

    return DynamoCustomerData(dynamodb(), settings().table, policies().timer_resolution, now)


def auth_deps() -> AuthDeps:
    from chalicelib.services.auth import AuthDeps

    return AuthDeps(admin_token=lambda: secrets().admin_token, find_token=oncall().by_token)


@_once
def sessions() -> DynamoSessions:
    from chalicelib.adapters.dynamodb.sessions import DynamoSessions

    return DynamoSessions(dynamodb(), settings().table)


def admin_deps() -> AdminDeps:
    from chalicelib.services.oncall_admin import AdminDeps

    return AdminDeps(store=oncall(), subscriptions=notifier(), now=now,
                     teams=lambda: policies().teams, default_team=policies().default_team,
                     end_sessions=sessions().delete_for)


def ack_deps() -> AckDeps:
    from chalicelib.services.acknowledge import AckDeps

    return AckDeps(links=ack_links(), conversations=conversations(), now=now,
                   on_turn=conversations().update_turn, human_agent=settings().meta_human_agent)


def now() -> datetime:
    return datetime.now(UTC)


@_once
def _secrets_provider() -> Any:
    """powertools' Secrets Manager reader on a client of the shared session: its default one
    builds a session of its own (the SDK's data loaded again at a cold start)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=_client("secretsmanager"))


def secrets() -> PlatformSecrets:
    from chalicelib.adapters.secrets import load_secrets

    # Cached by the provider for CACHE_SECONDS; `reset()` drops it and its cache.
    return load_secrets(settings().secrets_name, _secrets_provider())


@_once
def messages() -> Messages:
    from chalicelib.adapters.dynamodb.messages import Messages

    return Messages(dynamodb(), settings().table, timedelta(days=settings().retention_days), now)


@_once
def conversation_log() -> DynamoConversationLog:
    from chalicelib.adapters.dynamodb.conversation_log import DynamoConversationLog

    return DynamoConversationLog(messages())


@_once
def reply_log() -> DynamoReplyLog:
    from chalicelib.adapters.dynamodb.reply_log import DynamoReplyLog

    return DynamoReplyLog(messages())


@_once
def inbound_queue() -> SqsInboundQueue:
    from chalicelib.adapters.sqs_queue import SqsInboundQueue

    return SqsInboundQueue(sqs(), settings().inbound_queue)


def inbound_deps() -> InboundDeps:
    from chalicelib.services.inbound import InboundDeps

    return InboundDeps(log=conversation_log(), policies=policies, turns=turn_deps)


def ingest_deps() -> IngestDeps:
    from chalicelib.services.ingest import IngestDeps

    return IngestDeps(queue=inbound_queue(), now=now,
                      channels=channel_log(), accepts=policies().accepts,
                      health_channel=policies().health_channel)


@_once
def webhook_deps() -> WebhookDeps:
    from chalicelib.services.webhooks import WebhookDeps

    return WebhookDeps(ingest=ingest_deps, secrets=secrets,
                       max_body_bytes=settings().max_body_bytes, now=now,
                       channels=channel_log())


@_once
def channels() -> DynamoChannels:
    from chalicelib.adapters.dynamodb.channels import DynamoChannels

    return DynamoChannels(dynamodb(), settings().table)


def channel_deps() -> ChannelDeps:
    from chalicelib.services.channel_watch import ChannelDeps

    return ChannelDeps(store=channels(), notify_admins=notifier().notify_admins,
                       policies=policies, public_url=settings().public_url, now=now)


@_once
def channel_log() -> WatchLog:
    from chalicelib.services.channel_watch import WatchLog

    return WatchLog(store=channels(), policies=policies, now=now)


@_once
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


def health_deps() -> HealthDeps:
    from chalicelib.services.health import HealthDeps

    return HealthDeps(resources=_resource_names, watchtower=watchtower, channels=channel_deps,
                      texts_failed=lambda: sent_texts().failed_in_month(now()))


def _resource_names() -> dict[str, Any]:
    s = settings()
    return {"stage": s.stage, "table": s.table,
            "queues": {"inbound": s.inbound_queue, "alerts": s.alerts_queue},
            "topic": s.alerts_topic, "state_machine": s.alarm_clock}


def reset() -> None:
    """Forget everything built and every setting read (tests change the environment between
    runs): the next call of any getter builds anew."""
    _built.clear()
    settings.cache_clear()  # chalicelib/config.py's: the environment, read once
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
