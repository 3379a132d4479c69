"""`make package`: one deployable SAM template = Chalice's Lambdas and API + resources.yaml.

The platforms' webhooks get their own front, an HTTP API (API Gateway v2) in front of the same
API handler: $1.00 per million requests instead of REST's $3.50, and webhooks are most of our
requests (bench/cost.py). Its payload format 1.0 is the REST proxy event Chalice routes, so the
code is the same; its routes are app.py's webhook routes, read from the app, not restated.

    python -m infrastructure.package build [--stage dev]

writes build/merge.json (resources.yaml with the state machine definition inlined) and runs
`chalice package --merge-template build/merge.json build/`, leaving build/sam.json and
build/deployment.zip for `aws cloudformation package/deploy`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from infrastructure.template import load_resources

ROOT = Path(__file__).resolve().parents[1]


def _split_function_overrides(template: dict[str, Any]) -> dict[str, Any]:
    """Take the Lambda overrides out of the merge template: Chalice deep-merges dicts, so an
    event source's `Queue: !GetAtt …` would be mixed into its own `Fn::Sub` instead of
    replacing it. They are applied to the packaged template afterwards, key by key."""
    resources = template["Resources"]
    overrides = {name: resources.pop(name) for name in list(resources)
                 if resources[name]["Type"] == "AWS::Serverless::Function"}
    return overrides


def _apply_function_overrides(sam: dict[str, Any], overrides: dict[str, Any]) -> None:
    for name, override in overrides.items():
        function = sam["Resources"].get(name)
        if function is None:
            raise SystemExit(f"resources.yaml overrides {name}, but app.py defines no such "
                             "Lambda function")
        for event_name, event in override["Properties"].get("Events", {}).items():
            generated = function["Properties"]["Events"][event_name]["Properties"]
            generated.update(event["Properties"])


WEBHOOK_PREFIX = "/webhooks/"


def webhook_routes() -> list[tuple[str, str]]:
    """(method, path) of every webhook route app.py declares."""
    from app import app

    return sorted((method, path) for path, methods in app.routes.items()
                  if path.startswith(WEBHOOK_PREFIX) for method in methods)


def _add_webhook_front(sam: dict[str, Any], routes: list[tuple[str, str]]) -> None:
    resources = sam["Resources"]
    api = {"Ref": "WebhookApi"}
    resources["WebhookApi"] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
        "Name": {"Fn::Sub": "replywindow-${Stage}-webhooks"}, "ProtocolType": "HTTP",
        "Description": "Platform webhooks (X, Meta): signed, answered by the API handler"}}
    resources["WebhookIntegration"] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": api, "IntegrationType": "AWS_PROXY",
        "IntegrationUri": {"Fn::GetAtt": ["APIHandler", "Arn"]},
        # 1.0 is the REST proxy event (requestContext.resourcePath, multiValue*): Chalice's.
        "PayloadFormatVersion": "1.0", "TimeoutInMillis": 29000}}
    for method, path in routes:
        name = "WebhookRoute" + method.title() + "".join(
            part.title() for part in path.strip("/").split("/"))
        resources[name] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": api, "RouteKey": f"{method} {path}",
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": "WebhookIntegration"}]]}}}
    resources["WebhookStage"] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
        "ApiId": api, "StageName": "$default", "AutoDeploy": True}}
    resources["WebhookInvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "APIHandler"},
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
                      "${AWS::AccountId}:${WebhookApi}/*/*" + WEBHOOK_PREFIX + "*"}}}
    sam.setdefault("Outputs", {})["WebhookEndpoint"] = {
        "Description": "Register {this}/x with X and {this}/meta with Meta",
        "Value": {"Fn::Sub": "${WebhookApi.ApiEndpoint}" + WEBHOOK_PREFIX.rstrip("/")}}


def package(out_dir: Path, stage: str = "dev") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    merge = out_dir / "merge.json"
    template = load_resources()
    template["Parameters"]["Stage"]["Default"] = stage
    overrides = _split_function_overrides(template)
    merge.write_text(json.dumps(template, indent=2))
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--merge-template", str(merge),
         str(out_dir)],
        cwd=ROOT, env=env, check=True,
    )
    sam_path = out_dir / "sam.json"
    sam = json.loads(sam_path.read_text())
    _apply_function_overrides(sam, overrides)
    _add_webhook_front(sam, webhook_routes())
    sam_path.write_text(json.dumps(sam, indent=2))
    return sam_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args()
    sam = package(args.out_dir, args.stage)
    print(f"wrote {sam}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
