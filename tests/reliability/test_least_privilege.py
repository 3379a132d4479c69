"""The deployable template, read as an auditor would: least privilege, encryption at rest, no
secret in plain text."""

from __future__ import annotations

import json
import threading
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from chalicelib.webhooks.signatures import meta_signature, x_signature
from infrastructure.local.aws import Built
from infrastructure.package import package
from tests.integration.conftest import SECRETS, run_inbound_worker
from tests.integration.test_webhook_routes import function_url_event
from tests.unit.webhooks.conftest import fixture


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sam = package(tmp_path_factory.mktemp("build"), stage="prod")
    loaded: dict[str, Any] = json.loads(Path(sam).read_text())
    return loaded


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for policy in props.get("Policies", []):
            if isinstance(policy, dict) and "PolicyDocument" in policy:
                found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Account-wide reads IAM cannot scope to a resource (they have no resource type): the
# doctor's SMS sandbox, spend limit and month's spend. Nothing else may name "*".
ACCOUNT_WIDE = {"sns:GetSMSSandboxAccountStatus", "sns:GetSMSAttributes",
                "cloudwatch:GetMetricStatistics"}


def test_no_statement_grants_every_action_or_every_resource(template) -> None:
    statements = _statements(template)
    assert len(statements) >= 6
    for role, statement in statements:
        actions = _as_list(statement.get("Action", []))
        for action in actions:
            assert action != "*" and not str(action).endswith(":*"), (role, action)
        for resource in _as_list(statement.get("Resource", [])):
            assert resource != "*" or set(actions) <= ACCOUNT_WIDE, (role, statement)


def test_only_the_webhook_url_is_public_and_only_through_the_url(template) -> None:
    public = {name: r["Properties"] for name, r in template["Resources"].items()
              if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "*"}
    assert {p["FunctionName"]["Ref"] for p in public.values()} == {"WebhookHandler"}
    for permission in public.values():
        # Each statement holds only for requests that come through the function URL.
        assert permission.get("FunctionUrlAuthType") == "NONE" or (
            permission.get("InvokedViaFunctionUrl") is True), permission
    urls = [r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Url"]
    assert [u["TargetFunctionArn"] for u in urls] == [{"Fn::GetAtt": ["WebhookHandler", "Arn"]}]


def test_data_is_encrypted_at_rest(template) -> None:
    resources = template["Resources"]
    kinds: dict[str, int] = {}
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == "AWS::DynamoDB::Table":
            assert props["SSESpecification"]["SSEEnabled"] is True, name
            assert props["PointInTimeRecoverySpecification"][
                "PointInTimeRecoveryEnabled"] is True
        elif kind == "AWS::SQS::Queue":
            assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), name
        elif kind == "AWS::SNS::Topic":
            assert props.get("KmsMasterKeyId"), name
    # The alerts topic, and the ops-alarms topic CloudWatch publishes to (its own key).
    assert kinds["AWS::SQS::Queue"] == 4 and kinds["AWS::SNS::Topic"] == 2


def test_no_secret_is_written_in_the_template(template) -> None:
    secret = template["Resources"]["PlatformSecrets"]["Properties"]
    assert "SecretString" not in secret
    assert "GenerateSecretString" in secret
    text = json.dumps(template)
    for marker in ("dev-admin-token", "dev-meta-app-secret", "BEGIN PRIVATE KEY"):
        assert marker not in text


# The public webhook function's role, statement by statement: (actions, resources). Anything
# more is what a forged delivery could reach if the code had a hole.
WEBHOOK_ROLE = [
    ({"logs:CreateLogStream", "logs:PutLogEvents"},
     [{"Fn::GetAtt": ["WebhookHandlerLogGroup", "Arn"]}]),
    ({"dynamodb:UpdateItem"}, [{"Fn::GetAtt": ["Table", "Arn"]}]),
    ({"sqs:GetQueueUrl", "sqs:SendMessage"}, [{"Fn::GetAtt": ["InboundQueue", "Arn"]}]),
    ({"secretsmanager:GetSecretValue"}, [{"Ref": "PlatformSecrets"}]),
]


def leading_keys(template: dict[str, Any]) -> list[tuple[set[str], list[str]]]:
    """The webhook role's table statements: (actions, the partition key patterns allowed)."""
    found = []
    for role, s in _statements(template):
        if role == "WebhookRole" and str(_as_list(s["Action"])[0]).startswith("dynamodb:"):
            assert set(s["Condition"]) == {"ForAllValues:StringLike"}, s
            found.append(({str(a) for a in _as_list(s["Action"])},
                          s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]))
    return found


def webhook_statements(template: dict[str, Any]) -> list[tuple[set[str], list[Any]]]:
    function = template["Resources"]["WebhookHandler"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["WebhookRole", "Arn"]}
    return [({str(a) for a in _as_list(s["Action"])}, _as_list(s["Resource"]))
            for role, s in _statements(template) if role == "WebhookRole"
            and s["Effect"] == "Allow"]


def test_the_public_webhook_function_runs_with_a_role_of_its_own_and_only_what_it_calls(
        template: dict[str, Any]) -> None:
    assert webhook_statements(template) == WEBHOOK_ROLE
    role = template["Resources"]["WebhookRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]
    assert "ManagedPolicyArns" not in role


def test_a_flood_of_webhooks_cannot_take_the_accounts_concurrency(
        template: dict[str, Any]) -> None:
    function = template["Resources"]["WebhookHandler"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {"Ref": "WebhookConcurrency"}
    parameter = template["Parameters"]["WebhookConcurrency"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 50, 1)
    others = [name for name, r in template["Resources"].items()
              if r["Type"] == "AWS::Serverless::Function" and name != "WebhookHandler"]
    # The rest share the account's unreserved pool, which the webhooks can no longer drain.
    assert others and all("ReservedConcurrentExecutions" not in
                          template["Resources"][name]["Properties"] for name in others)


def test_each_function_writes_only_to_its_own_log_group_which_expires(
        template: dict[str, Any]) -> None:
    """Log groups of the stack's own, attached by ARN (no function-name pattern, which
    CloudFormation truncates for a long stack name), kept LogRetentionDays."""
    resources = template["Resources"]
    functions = {name: r["Properties"] for name, r in resources.items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert {"APIHandler", "WebhookHandler", "InboundWorker", "AlertWorker", "ChannelWatch"} <= set(
        functions)
    granted: dict[str, set[str]] = {}
    for role, statement in _statements(template):
        actions = {str(a) for a in _as_list(statement["Action"])}
        if role == "SmsDeliveryStatusRole":
            # SNS's, not a function's: it writes the texts' delivery status to SNS's own
            # sns/<region>/<account>/… groups, and nothing else.
            assert all("log-group:sns/${AWS::Region}/${AWS::AccountId}/" in r["Fn::Sub"]
                       for r in _as_list(statement["Resource"]))
            continue
        if any(a.startswith("logs:") for a in actions):
            assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}, (role, actions)
            granted.setdefault(role, set()).update(
                r["Fn::GetAtt"][0] for r in _as_list(statement["Resource"]))
    for name, props in functions.items():
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert group == f"{name}LogGroup"
        assert resources[group] == {"Type": "AWS::Logs::LogGroup", "Properties": {
            "RetentionInDays": {"Ref": "LogRetentionDays"}}}
        role = props["Role"]["Fn::GetAtt"][0]
        assert group in granted[role], (name, role)
    # A role reaches the log groups of its own functions, and no other.
    for role, groups in granted.items():
        assert groups == {f"{name}LogGroup" for name, props in functions.items()
                          if props["Role"]["Fn::GetAtt"][0] == role}, role
    parameter = template["Parameters"]["LogRetentionDays"]
    assert (parameter["Type"], parameter["Default"]) == ("Number", 30)


class AwsCalls:
    """Every AWS call the process makes while `recording`: a botocore hook on each
    client created, so the calls are the SDK's own (powertools' secret read included)."""

    def __init__(self) -> None:
        self.recording = False
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # Only the test's own thread: the emulated alarm clock's executions run on threads of
        # their own and ring the alerts queue whenever their wait ends, which is not a call of
        # the webhook's path.
        self.thread = threading.get_ident()

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self.recording and threading.get_ident() == self.thread:
            self.calls.append((f"{model.service_model.signing_name}:{model.name}", params))


@pytest.fixture
def aws_calls(aws: Built, monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    calls = AwsCalls()
    create_client = botocore.session.Session.create_client

    def recorded(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(session, *args, **kwargs)
        client.meta.events.register("before-parameter-build", calls.hook)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recorded)
    return calls


# IAM checks no permission for these ("No permissions are required to perform this operation").
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # bootstrap learns the account id for ARNs


def _target(params: dict[str, Any], built: Built) -> str:
    """The logical id of the resource a call names (table, queue or secret)."""
    names: dict[str, str] = {}
    for logical in built.types:
        names[built.refs[logical]] = logical
        for value in built.attrs.get(logical, {}).values():
            names[value] = logical
            if ":secret:" in value:  # a secret's name is its ARN less a 7-character suffix
                names[value.split(":secret:", 1)[1][:-7]] = logical
    for key in ("TableName", "QueueUrl", "QueueName", "SecretId"):
        if key in params:
            return names[params[key]]
    raise AssertionError(f"a call naming no known resource: {sorted(params)}")


def _logical(resource: Any) -> str | None:
    if "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    return str(resource["Ref"]) if "Ref" in resource else None


def test_the_webhook_path_calls_nothing_its_role_does_not_allow_and_uses_all_of_it(
        template: dict[str, Any], aws: Built, aws_calls: AwsCalls) -> None:
    import app

    def deliver(platform: str, payload: Any, *, forged: bool = False) -> int:
        raw = json.dumps(payload).encode()
        header, signature = (
            ("x-twitter-webhooks-signature", x_signature(SECRETS["x_consumer_secret"], raw))
            if platform == "x" else
            ("X-Hub-Signature-256", meta_signature(SECRETS["meta_app_secret"], raw)))
        event = function_url_event("POST", f"/webhooks/{platform}", raw + (b" " if forged
                                                                           else b""), {
            "Content-Type": "application/json", header: signature})
        aws_calls.recording = True  # only the webhook function's own calls
        try:
            return int(app.webhook_url(event, None)["statusCode"])
        finally:
            aws_calls.recording = False

    aws_calls.recording = True
    handshake = app.webhook_url(function_url_event(
        "GET", "/webhooks/meta", query="hub.mode=subscribe&hub.verify_token=verify-me"
        "&hub.challenge=1"), None)
    aws_calls.recording = False
    mention = fixture("twitter/xaa_post_mention_create.json")
    delete = {"for_user_id": "1111111111111111111", "tweet_delete_events": [
        {"status": {"id": "2080765813578191303", "user_id": "2222222222222222222"},
         "timestamp_ms": "1784928300000"}]}
    answers = [handshake["statusCode"],
               deliver("x", mention),  # queued
               deliver("x", mention),  # a redelivery: queued again, deduplicated
               deliver("meta", fixture("whatsapp/pywa_text.json")),
               deliver("meta", fixture("whatsapp/pywa_text.json"), forged=True),  # counted
               deliver("x", fixture("twitter/aaa_docs_user_event.json"))]  # access revoked
    run_inbound_worker()  # the worker's own calls are not recorded
    answers.append(deliver("x", delete))  # the customer withdrew the post: queued
    assert answers == [200, 200, 200, 200, 401, 200, 200]

    allowed = webhook_statements(template)
    made = {(action, _target(params, aws)) for action, params in aws_calls.calls
            if action not in NEEDS_NO_PERMISSION}
    refused = {(action, target) for action, target in made
               if not any(action in actions and target in {_logical(r) for r in resources}
                          for actions, resources in allowed)}
    assert refused == set(), f"the webhook function would get AccessDenied for {refused}"
    # Each item the path reads or writes is in a partition its statement allows (IAM's
    # dynamodb:LeadingKeys, matched as StringLike), and each pattern is used.
    patterns = leading_keys(template)
    assert patterns == [({"dynamodb:UpdateItem"}, ["CHANNELS"])]
    used: set[tuple[str, str]] = set()
    for action, params in aws_calls.calls:
        if not action.startswith("dynamodb:"):
            continue
        key = params.get("Key") or params.get("Item")
        assert key is not None, f"{action} without a key"
        pk = str(key["PK"]["S"])
        matched = [(a, p) for actions, allowed in patterns if action in actions
                   for p in allowed for a in (action,) if fnmatchcase(pk, p)]
        assert matched, f"{action} on partition {pk!r} would be AccessDenied"
        used.update(matched)
    assert {p for _, p in used} == {p for _, allowed in patterns for p in allowed}
    # And nothing granted goes unused (logs are written by Lambda's runtime, not our code).
    granted = {(action, _logical(r)) for actions, resources in allowed for action in actions
               for r in resources if not action.startswith("logs:")}
    assert granted == made


def test_the_functions_that_ring_may_count_the_inbound_backlog(template) -> None:
    """An alert is held while the inbound queue has a backlog (services/alerting.py): the alert
    worker and the sweeper find the queue by name and may read its count. Without it every
    ring would log that the backlog was not read, and never hold."""
    inbound = {"Fn::GetAtt": ["InboundQueue", "Arn"]}
    for function in ("AlertWorker", "Sweeper"):
        props = template["Resources"][function]["Properties"]
        assert props["Environment"]["Variables"]["REPLYWINDOW_INBOUND_QUEUE"] == {
            "Fn::GetAtt": ["InboundQueue", "QueueName"]}
        role = props["Role"]["Fn::GetAtt"][0]
        allowed = set().union(*[{str(a) for a in _as_list(s["Action"])}
                                for r, s in _statements(template) if r == role
                                and s["Effect"] == "Allow" and inbound in _as_list(s["Resource"])])
        assert {"sqs:GetQueueUrl", "sqs:GetQueueAttributes"} <= allowed, function
