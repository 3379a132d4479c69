"""The deployable template, read as an auditor would: least privilege, encryption at rest, no
secret in plain text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infrastructure.package import package


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


def test_no_statement_grants_every_action_or_every_resource(template) -> None:
    statements = _statements(template)
    assert len(statements) >= 6
    for role, statement in statements:
        for action in _as_list(statement.get("Action", [])):
            assert action != "*" and not str(action).endswith(":*"), (role, action)
        for resource in _as_list(statement.get("Resource", [])):
            assert resource != "*", (role, statement)


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
    assert kinds["AWS::SQS::Queue"] == 4 and kinds["AWS::SNS::Topic"] == 1


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
    ({"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
     [{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                  "/aws/lambda/${AWS::StackName}-WebhookHandler-*"}]),
    ({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
     [{"Fn::GetAtt": ["Table", "Arn"]}]),
    ({"sqs:GetQueueUrl", "sqs:SendMessage"}, [{"Fn::GetAtt": ["InboundQueue", "Arn"]}]),
    ({"secretsmanager:GetSecretValue"}, [{"Ref": "PlatformSecrets"}]),
]


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


def test_functions_write_only_to_this_stacks_log_groups(template: dict[str, Any]) -> None:
    logs = [(role, s) for role, s in _statements(template)
            if any(str(a).startswith("logs:") for a in _as_list(s["Action"]))]
    assert {role for role, _ in logs} == {"DefaultRole", "WebhookRole"}
    prefix = ("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
              "/aws/lambda/${AWS::StackName}-")
    for role, statement in logs:
        for resource in _as_list(statement["Resource"]):
            assert resource["Fn::Sub"].startswith(prefix), (role, resource)
