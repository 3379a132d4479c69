"""`make run`: the whole of ReplyWindow on this machine, from the same declaration as AWS.

Starts moto's server (Step Functions executing for real), builds every resource of the
packaged template (build/sam.json, what `make package` deploys; rebuilt when its inputs
change), seeds secrets and a demo rota, serves the Chalice routes and the webhooks' function URL
(on its own port, as in AWS) and runs one poller per SQS handler. Each function's handler,
environment, timeout, memory, batch size and reserved concurrency come from that template; the
only additions are `local_additions()`.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrastructure.local.aws import (
    Built,
    EmbeddedAws,
    FunctionSpec,
    build_resources,
    packaged_functions,
)
from infrastructure.local.metering import Meter
from infrastructure.local.pollers import (
    Handler,
    LambdaContext,
    LogSubscriptionPoller,
    QueuePoller,
    ScheduleRunner,
    schedule_seconds,
)

ROOT = Path(__file__).resolve().parents[2]

# Secret key in the platform secret -> environment variable that seeds it.
def _account_secret_names() -> list[str]:
    from chalicelib.config import DEFAULT_POLICIES
    from chalicelib.domain.policies import load_policies

    policies = load_policies(Path(os.environ.get("REPLYWINDOW_POLICIES") or DEFAULT_POLICIES))
    return sorted({name for account in policies.accounts
                   for name in account.credentials.values()})


SEEDED_SECRETS = {
    "x_consumer_key": "REPLYWINDOW_X_CONSUMER_KEY",
    "x_consumer_secret": "REPLYWINDOW_X_CONSUMER_SECRET",
    "x_access_token": "REPLYWINDOW_X_ACCESS_TOKEN",
    "x_access_token_secret": "REPLYWINDOW_X_ACCESS_TOKEN_SECRET",
    "meta_app_secret": "REPLYWINDOW_META_APP_SECRET",
    "meta_verify_token": "REPLYWINDOW_META_VERIFY_TOKEN",
    "meta_page_token": "REPLYWINDOW_META_PAGE_TOKEN",
    "whatsapp_token": "REPLYWINDOW_WHATSAPP_TOKEN",
    "admin_token": "REPLYWINDOW_ADMIN_TOKEN",
    "x_bearer_token": "REPLYWINDOW_X_BEARER_TOKEN",
}


DEMO_AGENTS = (
    {"id": "alice", "name": "Alice", "phone": "+15550100001", "email": "alice@example.com"},
    {"id": "bob", "name": "Bob", "phone": "+15550100002", "email": "bob@example.com"},
    {"id": "dana", "name": "Dana (team lead, admin)", "phone": "+15550100003",
     "email": "dana@example.com", "role": "admin"},
)


@dataclass
class LocalSettings:
    host: str = "127.0.0.1"
    api_port: int = 8000
    webhook_port: int = 8001  # the webhooks' function URL (in AWS, its own host)
    aws_port: int = 5000
    region: str = "us-east-1"
    stage: str = "dev"
    state_dir: Path = field(default_factory=lambda: ROOT / ".replywindow")
    # Template parameters beyond their defaults (tests compress the retry ladder with them).
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> LocalSettings:
        return cls(
            api_port=int(os.environ.get("REPLYWINDOW_PORT", "8000")),
            webhook_port=int(os.environ.get("REPLYWINDOW_WEBHOOK_PORT", "8001")),
            aws_port=int(os.environ.get("REPLYWINDOW_AWS_PORT", "5000")),
            state_dir=Path(os.environ.get("REPLYWINDOW_STATE_DIR", str(ROOT / ".replywindow"))),
        )


def free_port() -> int:
    """A port nothing listens on now: for a second stack beside `make run` (tests, benches)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chalice_stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env: dict[str, str] = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


class LocalRuntime:
    def __init__(self, settings: LocalSettings, say: Callable[[str], None] = print) -> None:
        self.settings, self.say = settings, say
        self.aws = EmbeddedAws(settings.host, settings.aws_port, settings.region)
        self.built = Built()
        self.pollers: list[QueuePoller | ScheduleRunner | LogSubscriptionPoller] = []
        self.seeded: dict[str, str] = {}
        self._api_server: Any = None
        self._api_thread: threading.Thread | None = None
        self._webhook_server: Any = None
        self.functions: dict[str, FunctionSpec] = {}
        self.rest_paths: list[str] = []  # what the packaged RestAPI routes to the app
        self.meter = Meter()  # each function's invocations and handler CPU seconds

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.api_port}"

    @property
    def webhook_url(self) -> str:
        """Where the platforms post: the function URL's stand-in (`/webhooks/x`, `/meta`)."""
        return f"http://{self.settings.host}:{self.settings.webhook_port}"

    @property
    def outbox(self) -> Path:
        return self.settings.state_dir / "outbox.jsonl"

    @property
    def public_url(self) -> str:
        """The template's PublicUrl parameter locally: links in alerts open the local API."""
        return os.environ.get("REPLYWINDOW_PUBLIC_URL") or self.api_url

    def _apply_environment(self, functions: dict[str, FunctionSpec]) -> None:
        """The functions' environment from the template, then the local additions.

        Locally every function is a thread of one process that imports the app once, and
        chalicelib/config.py reads the environment once: a per-invocation environment could not
        take effect. So the functions must agree on every variable; if one day they do not,
        the start fails here, naming them, rather than running something AWS would not."""
        environment: dict[str, str] = {}
        for spec in functions.values():
            environment.update(spec.environment)
        differing = sorted(
            f"{spec.logical}.{name}" for spec in functions.values() for name in environment
            if spec.environment.get(name) != environment[name])
        if differing:
            raise RuntimeError("the local runtime runs every function in one process, but "
                               f"their environments differ: {', '.join(differing)}")
        os.environ.update(environment)
        os.environ.update(local_additions(self.settings, self.aws.endpoint))

    def _seed_secrets(self) -> None:
        values: dict[str, str] = {}
        for key, env in SEEDED_SECRETS.items():
            value = os.environ.get(env)
            if not value:
                value = f"dev-{key.replace('_', '-')}"
                self.say(f"  {env} not set: using dev default {value!r}")
            values[key] = value
        values["ack_signing_key"] = os.environ.get("REPLYWINDOW_ACK_SIGNING_KEY") or (
            secrets.token_urlsafe(32))
        # Each declared brand account's own keys (the policies' `credentials`), the same way:
        # a several-accounts setup runs locally too.
        for key in _account_secret_names():
            env = f"REPLYWINDOW_{key.upper()}"
            values[key] = os.environ.get(env) or f"dev-{key.replace('_', '-')}"
        self.seeded = values
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REPLYWINDOW_SECRETS"], SecretString=json.dumps(values))

    def _start_api(self) -> Any:
        import app as application  # imported late: after the environment is set
        from infrastructure.local.rest_front import rest_front

        server = rest_front(application.app, self.rest_paths, self.settings.host,
                            self.settings.api_port)
        self._api_server = server
        self._api_thread = threading.Thread(target=server.serve_forever, name="api",
                                            daemon=True)
        self._api_thread.start()
        from infrastructure.local.function_url import FunctionUrlServer

        webhooks = self.functions["WebhookHandler"]
        self._webhook_server = FunctionUrlServer(
            reserved(webhooks, getattr(application, webhooks.entry_point)), self.settings.host,
            self.settings.webhook_port, name=webhooks.entry_point, meter=self.meter)
        self._webhook_server.start()
        return application

    def _start_pollers(self, application: Any) -> None:
        """One poller per SQS event source, one runner per schedule and one per log
        subscription filter of the template."""
        self._start_log_subscriptions(application)
        for spec in self.functions.values():
            handler = getattr(application, spec.entry_point)
            runner: QueuePoller | ScheduleRunner
            if spec.schedule is not None:
                runner = ScheduleRunner(name=spec.entry_point, handler=handler,
                                        every=schedule_seconds(spec.schedule),
                                        memory_mb=spec.memory, timeout_seconds=spec.timeout,
                                        meter=self.meter)
            elif spec.queue is not None:
                if concurrency(spec) == 0:
                    self.say(f"  {spec.logical}: reserved concurrency 0, its queue waits")
                    continue
                # Its own client: the receiving thread and every worker share its connections.
                sqs = self.aws.client("sqs", connections=concurrency(spec) + 1)
                runner = QueuePoller(
                    name=spec.entry_point, sqs=sqs, queue_url=self.built.refs[spec.queue],
                    queue_arn=self.built.attrs[spec.queue]["Arn"], region=self.settings.region,
                    handler=handler, batch_size=spec.batch_size, memory_mb=spec.memory,
                    timeout_seconds=spec.timeout, concurrency=concurrency(spec),
                    meter=self.meter)
            else:
                continue  # invoked over HTTP: the API and the function URL
            runner.start()
            self.pollers.append(runner)

    def _start_log_subscriptions(self, application: Any) -> None:
        by_arn = {self.built.attrs[spec.logical]["Arn"]: spec for spec in self.functions.values()}
        for logical, kind in self.built.types.items():
            if kind != "AWS::Logs::SubscriptionFilter":
                continue
            found = self.built.attrs[logical]
            spec = by_arn.get(found["DestinationArn"])
            if spec is None:
                raise RuntimeError(f"{logical}: the local runtime delivers log subscriptions "
                                   f"to the template's functions only, not "
                                   f"{found['DestinationArn']}")
            runner = LogSubscriptionPoller(
                name=spec.entry_point, logs=self.aws.client("logs"),
                log_group=found["LogGroupName"], filter_name=logical,
                pattern=found["FilterPattern"], handler=getattr(application, spec.entry_point),
                memory_mb=spec.memory, timeout_seconds=spec.timeout, meter=self.meter)
            runner.start()
            self.pollers.append(runner)

    def start(self) -> None:
        from infrastructure.local import outbox
        from infrastructure.package import packaged, rest_api_paths

        s = self.settings
        began = time.monotonic()
        template, rebuilt = packaged(s.stage)
        self.say(f"  build/sam.json {'packaged' if rebuilt else 'unchanged, reused'} "
                 f"({time.monotonic() - began:.1f}s)")
        os.environ.update(local_additions(s, self.aws.endpoint))
        self.aws.start()
        parameters = {"PublicUrl": self.public_url, **s.parameters}
        self.built = build_resources(self.aws, template, s.stage, parameters)
        self.functions = packaged_functions(template, self.built, s.stage, parameters,
                                            s.region)
        self.rest_paths = rest_api_paths(template)
        self._apply_environment(self.functions)
        self._seed_secrets()
        self.outbox.unlink(missing_ok=True)
        outbox.install(self.outbox, echo=self._echo_delivery)
        self._seed_demo_team()  # before the API answers: a ready stack has its rota
        application = self._start_api()
        self._start_pollers(application)

    def _seed_demo_team(self) -> None:
        """Two agents on call in turns and a team lead, for every team in the policies, through
        the same service the admin API uses (their SNS subscriptions included)."""
        from chalicelib import bootstrap
        from chalicelib.services import oncall_admin

        deps = bootstrap.admin_deps()
        for agent in DEMO_AGENTS:
            oncall_admin.create_agent(agent, deps)
        policies = bootstrap.policies()
        teams = [policies.default_team, *(t for t in policies.teams if
                                          t != policies.default_team)]
        today = bootstrap.now().date().isoformat()
        for team in teams:
            oncall_admin.put_rota(team, {
                "members": ["alice", "bob"], "shift": 86400, "handoff": "09:00",
                "timezone": "UTC", "starts_on": today, "lead": "dana"}, deps)
        self.say(f"  demo on-call: alice (primary), bob (secondary), dana (lead) "
                 f"for {', '.join(teams)}")

    def _echo_delivery(self, delivery: dict[str, Any]) -> None:
        shown = delivery["text"] if delivery["protocol"] == "sms" else delivery["subject"]
        self.say(f"  >> {delivery['protocol']} to {delivery['to']}: {shown}")

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self._api_server is not None:
            self._api_server.shutdown()
        if self._webhook_server is not None:
            self._webhook_server.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        self.aws.stop()


def local_additions(settings: LocalSettings, endpoint: str) -> dict[str, str]:
    """Everything the local stack adds to the template's environment, and only this: where the
    emulator listens, fake credentials, tracing off (there is no X-Ray daemon), and the
    sweeper's period when the schedules are sped up. The public URL is not here: it is the
    template's PublicUrl parameter, set to the local API."""
    additions = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "MOTO_PORT": str(settings.aws_port),  # the Step Functions executor calls back here
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
    }
    every = os.environ.get("REPLYWINDOW_LOCAL_SCHEDULE_SECONDS")
    if every:
        # The schedules run faster here (pollers.schedule_seconds): the sweeper's period, which
        # sizes the window of buckets each sweep reads, follows.
        additions["REPLYWINDOW_SWEEP_MINUTES"] = str(float(every) / 60)
    return additions


# Lambda runs an SQS event source's batches side by side up to the function's reserved
# concurrency; a function without one is bounded only by the account's pool (1,000 by default).
# Locally every invocation is a thread of one process sharing a laptop's cores: such a function
# gets this many, enough to keep an answer from queueing behind a burst's other conversations.
UNRESERVED_CONCURRENCY = 8


def concurrency(spec: FunctionSpec) -> int:
    """How many of the function's invocations run at once locally (0: none, as on AWS, where
    a reserved concurrency of 0 throttles every invocation and the messages wait)."""
    if spec.reserved_concurrency is None:
        return UNRESERVED_CONCURRENCY
    return spec.reserved_concurrency


THROTTLED = {"statusCode": 429, "headers": {"Content-Type": "application/json"},
             "body": json.dumps({"Message": "Rate Exceeded."})}


def reserved(spec: FunctionSpec, handler: Handler) -> Handler:
    """The function's reserved concurrency, as Lambda applies it behind a function URL: calls
    beyond it are throttled (429, the platform retries), not queued."""
    if spec.reserved_concurrency is None:
        return handler
    slots = threading.BoundedSemaphore(spec.reserved_concurrency)

    def limited(event: dict[str, Any], _context: Any) -> Any:
        if not slots.acquire(blocking=False):
            return THROTTLED
        try:
            return handler(event, LambdaContext(spec.logical, spec.memory, spec.timeout))
        finally:
            slots.release()

    return limited
