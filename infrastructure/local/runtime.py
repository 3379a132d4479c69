"""`make run`: the whole of ReplyWindow on this machine, from the same declaration as AWS.

Starts moto's server (Step Functions executing for real), builds every resource of
infrastructure/resources.yaml, seeds secrets and a demo rota, serves the Chalice routes and the
webhooks' function URL (on its own port, as in AWS) and runs one poller per SQS handler. The
code under chalicelib/ only sees AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrastructure.local.aws import Built, EmbeddedAws, build_resources, function_environment
from infrastructure.local.pollers import QueuePoller, ScheduleRunner, schedule_seconds
from infrastructure.template import event_source_queues, load_resources

ROOT = Path(__file__).resolve().parents[2]

# Secret key in the platform secret -> environment variable that seeds it.
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
        self.pollers: list[QueuePoller | ScheduleRunner] = []
        self.seeded: dict[str, str] = {}
        self._api_server: Any = None
        self._api_thread: threading.Thread | None = None
        self._webhook_server: Any = None

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

    def _environment(self) -> None:
        """Point the process (boto3 and the app) at the embedded AWS: only the endpoint differs."""
        s = self.settings
        os.environ.update(_chalice_stage_environment(s.stage))
        for name, value in function_environment(load_resources(), s.stage).items():
            os.environ.setdefault(name, value)  # an operator's own setting wins locally
        os.environ.update({
            "AWS_ENDPOINT_URL": self.aws.endpoint,
            "AWS_DEFAULT_REGION": s.region,
            "AWS_REGION": s.region,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
            "MOTO_PORT": str(s.aws_port),
            "REPLYWINDOW_PUBLIC_URL": os.environ.get("REPLYWINDOW_PUBLIC_URL", self.api_url),
            "POWERTOOLS_METRICS_NAMESPACE": "ReplyWindow",
            "POWERTOOLS_TRACE_DISABLED": "true",
        })
        os.environ.setdefault("POWERTOOLS_DEV", "false")

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
        self.seeded = values
        self.aws.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REPLYWINDOW_SECRETS"], SecretString=json.dumps(values))

    def _start_api(self) -> Any:
        # Chalice's LocalDevServer wants a Config; it reads only the API-related settings.
        from chalice.config import Config
        from chalice.local import LocalDevServer  # imported late: after the environment is set

        import app as application

        server = LocalDevServer(application.app, Config.create(), self.settings.host,
                                self.settings.api_port)
        self._api_server = server
        self._api_thread = threading.Thread(target=server.serve_forever, name="api",
                                            daemon=True)
        self._api_thread.start()
        from infrastructure.local.function_url import FunctionUrlServer

        self._webhook_server = FunctionUrlServer(application.webhook_url, self.settings.host,
                                                 self.settings.webhook_port)
        self._webhook_server.start()
        return application

    def _start_pollers(self, application: Any, template: dict[str, Any]) -> None:
        queues = event_source_queues(template)
        sqs = self.aws.client("sqs")
        for source in application.app.event_sources:
            if hasattr(source, "schedule_expression"):
                runner = ScheduleRunner(
                    name=source.name, every=schedule_seconds(source.schedule_expression),
                    handler=getattr(application, source.handler_string.split(".")[-1]))
                runner.start()
                self.pollers.append(runner)
                continue
            if not hasattr(source, "batch_size"):
                continue
            logical = _function_logical_id(source.name)
            queue = queues.get(logical)
            if queue is None:
                raise RuntimeError(
                    f"handler {source.name}: no SQS event source for {logical} in resources.yaml")
            poller = QueuePoller(
                name=source.name, sqs=sqs, queue_url=self.built.refs[queue],
                queue_arn=self.built.attrs[queue]["Arn"], region=self.settings.region,
                handler=getattr(application, source.handler_string.split(".")[-1]),
                batch_size=source.batch_size,
            )
            poller.start()
            self.pollers.append(poller)

    def start(self) -> None:
        from infrastructure.local import outbox

        s = self.settings
        self._environment()
        self.aws.start()
        template = load_resources()
        self.built = build_resources(self.aws, template, s.stage)
        self._seed_secrets()
        self.outbox.unlink(missing_ok=True)
        outbox.install(self.outbox, echo=self._echo_delivery)
        self._seed_demo_team()  # before the API answers: a ready stack has its rota
        application = self._start_api()
        self._start_pollers(application, template)

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


def _function_logical_id(handler_name: str) -> str:
    """Chalice names an event handler's Lambda resource by CamelCasing the function name."""
    return "".join(part.capitalize() for part in handler_name.split("_"))
