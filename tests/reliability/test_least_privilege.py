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
