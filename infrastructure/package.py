"""`make package`: one deployable SAM template = Chalice's Lambdas and API + resources.yaml.

The platforms' webhooks get their own front, a Lambda function URL on a function of their own
(the same code, `app.webhook_url` as handler, chalicelib/function_url.py): nothing per request,
where API Gateway charges $1.00 (HTTP API) or $3.50 (REST) a million, and webhooks are most of
our requests (bench/cost/). The agent API stays on Chalice's REST API.

    python -m infrastructure.package build [--stage dev]

writes build/merge.json (resources.yaml with the state machine definition inlined) and runs
`chalice package --merge-template build/merge.json build/`, leaving build/sam.json and
build/deployment.zip for `aws cloudformation package/deploy`.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from chalicelib.function_url import WEBHOOK_PREFIX
from infrastructure.template import load_resources

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
# What build/sam.json is made of: a change to any of these rebuilds it.
INPUTS = ("app.py", ".chalice/config.json", "requirements.txt", "infrastructure/*.py",
          "infrastructure/*.yaml", "infrastructure/*.json")


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


def _add_webhook_front(sam: dict[str, Any]) -> None:
    """A function of its own (the API handler's code and settings, app.webhook_url as its
    handler) with a public function URL: the platforms sign every delivery, the code checks.
    Being public, it runs with a role of its own (WebhookRole in resources.yaml: only what the
    webhook path calls) and a reserved concurrency, so a flood cannot starve the other
    functions."""
    resources = sam["Resources"]
    handler = json.loads(json.dumps(resources["APIHandler"]["Properties"]))
    handler["Handler"] = "app.webhook_url"
    handler["Role"] = {"Fn::GetAtt": ["WebhookRole", "Arn"]}
    handler["ReservedConcurrentExecutions"] = {"Ref": "WebhookConcurrency"}
    resources["WebhookHandler"] = {"Type": "AWS::Serverless::Function", "Properties": handler}
    function = {"Ref": "WebhookHandler"}
    resources["WebhookUrl"] = {"Type": "AWS::Lambda::Url", "Properties": {
        "TargetFunctionArn": {"Fn::GetAtt": ["WebhookHandler", "Arn"]}, "AuthType": "NONE"}}
    # Since October 2025 a public function URL needs both statements; each is scoped to
    # requests that come through the URL.
    resources["WebhookUrlPermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunctionUrl", "FunctionName": function, "Principal": "*",
        "FunctionUrlAuthType": "NONE"}}
    resources["WebhookUrlInvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": function, "Principal": "*",
        "InvokedViaFunctionUrl": True}}
    sam.setdefault("Outputs", {})["WebhookEndpoint"] = {
        "Description": "Register {this}/x with X and {this}/meta with Meta",
        "Value": {"Fn::Join": ["", [{"Fn::GetAtt": ["WebhookUrl", "FunctionUrl"]},
                                    WEBHOOK_PREFIX.strip("/")]]}}


def _api_stage(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return str(config["stages"][stage].get("api_gateway_stage",
                                           config.get("api_gateway_stage", "api")))


def _add_public_url(sam: dict[str, Any], api_stage: str) -> None:
    """Every function gets the base of the links it sends (REPLYWINDOW_PUBLIC_URL): the
    PublicUrl parameter when set (a custom domain), else the REST API's own URL.

    The API handler itself cannot name RestAPI: RestAPI names the handler's ARN, a circular
    dependency. It gets PublicUrl when set and nothing otherwise; its routes send no links
    (alerts are rung by RingAlarm, channel incidents by ChannelWatch)."""
    own_url = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
               + api_stage}
    for name, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        fallback = {"Ref": "AWS::NoValue"} if name == "APIHandler" else own_url
        variables = resource["Properties"].setdefault("Environment", {}).setdefault(
            "Variables", {})
        variables["REPLYWINDOW_PUBLIC_URL"] = {
            "Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, fallback]}


def _add_function_alarms(sam: dict[str, Any]) -> None:
    """An Errors and a Throttles alarm for every function, to the admins like the others in
    resources.yaml ("ReplyWindow watches itself"): a function added to app.py is watched
    without anyone remembering to."""
    for name in [n for n, r in sam["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"]:
        for metric in ("Errors", "Throttles"):
            sam["Resources"][f"{name}{metric}Alarm"] = {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": {"Fn::Sub": f"replywindow-${{Stage}}-{name}-{metric.lower()}"},
                    "AlarmDescription": f"{name}: {metric.lower()} in the last 5 minutes",
                    "Namespace": "AWS/Lambda", "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": name}}],
                    "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1,
                    "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [{"Ref": "OpsAlarmsTopic"}],
                    "OKActions": [{"Ref": "OpsAlarmsTopic"}]}}


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
    _add_webhook_front(sam)
    _add_function_alarms(sam)
    _add_public_url(sam, _api_stage(stage))
    sam_path.write_text(json.dumps(sam, indent=2))
    return sam_path


def inputs_digest(stage: str) -> str:
    digest = hashlib.sha256(f"stage={stage}\n".encode())
    for pattern in INPUTS:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(f"{path.relative_to(ROOT)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def packaged(stage: str = "dev", out_dir: Path = BUILD, *, force: bool = False
             ) -> tuple[dict[str, Any], bool]:
    """The packaged template (build/sam.json) and whether it was rebuilt: only when its inputs
    changed since the last build (a stamp holds their digest), as `chalice package` takes
    seconds. Several local stacks may start at once (test sessions): one builds, under a lock,
    into a temporary directory renamed into place, and the others wait and read its result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sam_path, stamp = out_dir / "sam.json", out_dir / "sam.json.stamp"
    digest = inputs_digest(stage)
    with (out_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = sam_path.exists() and stamp.exists() and stamp.read_text() == digest
        if force or not fresh:
            with tempfile.TemporaryDirectory(dir=out_dir, prefix=".building-") as tmp:
                built = Path(tmp)
                package(built, stage)
                for name in ("merge.json", "deployment.zip", "sam.json"):
                    if (built / name).exists():
                        os.replace(built / name, out_dir / name)
                (built / "stamp").write_text(digest)
                os.replace(built / "stamp", stamp)  # last: a build cut short leaves it stale
        template: dict[str, Any] = json.loads(sam_path.read_text())
    return template, force or not fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args()
    # Through the lock and the stamp, so a running local start never reads a half-written
    # template, and the next one knows which stage this is.
    packaged(args.stage, args.out_dir, force=True)
    print(f"wrote {args.out_dir / 'sam.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
