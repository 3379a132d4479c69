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
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from chalicelib.function_url import WEBHOOK_PREFIX
from infrastructure.template import load_resources

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
# What build/sam.json is made of: a change to any of these rebuilds it (the Blueprints in
# chalicelib/routes/ and chalicelib/console/ declare the REST API's routes).
INPUTS = ("app.py", ".chalice/config.json", "requirements.txt", "infrastructure/*.py",
          "infrastructure/*.yaml", "infrastructure/*.json", "chalicelib/routes/*.py",
          "chalicelib/console/*.py")


_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;]+(\s*;[^-]+)?\s+--hash=sha256:")


def lock_problems(lock: Path) -> list[str]:
    """What keeps `lock` from being a lock: a requirement not pinned with `==`, one without
    its hashes, or an option line (another file, another index). `chalice package` installs
    requirements.txt into the zip; with hashes on every line, pip checks each download."""
    problems = []
    # A requirement and its hashes are one logical line, continued with backslashes.
    logical = re.sub(r"\\\n", " ", lock.read_text())
    for line in logical.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            problems.append(f"{line.split()[0]}: a lock lists packages, nothing else")
        elif not _PINNED.match(line):
            problems.append(f"{line.split()[0]}: not pinned with == and --hash")
    return problems


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


def chalice_setting(stage: str, function: str, key: str) -> Any:
    """A function's setting as Chalice resolves it from .chalice/config.json: its own under the
    stage's `lambda_functions`, the stage's, its own at the top, the top's; None if unset."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    for scope in (stage_config.get("lambda_functions", {}).get(function, {}), stage_config,
                  config.get("lambda_functions", {}).get(function, {}), config):
        if key in scope:
            return scope[key]
    return None


def _add_webhook_front(sam: dict[str, Any], memory_mb: int | None = None) -> None:
    """A function of its own (the API handler's code and settings, app.webhook_url as its
    handler) with a public function URL: the platforms sign every delivery, the code checks.
    Being public, it runs with a role of its own (WebhookRole in resources.yaml: only what the
    webhook path calls) and a reserved concurrency, so a flood cannot starve the other
    functions. Its memory is resolved for `webhook_url` as Chalice resolves a function's, so
    it can have its own under `lambda_functions` (Chalice does not package this function
    itself, so it would not apply it)."""
    resources = sam["Resources"]
    handler = json.loads(json.dumps(resources["APIHandler"]["Properties"]))
    handler["Handler"] = "app.webhook_url"
    if memory_mb is not None:
        handler["MemorySize"] = memory_mb
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


# Where each function finds the stack's resources: from the resources themselves, so a stack
# deployed with Stage=prod (or any name) points its code at what its roles cover, whatever
# stage .chalice/config.json was packaged for. The secret by its ARN (its Ref; it has no
# name attribute), which Secrets Manager takes as an id.
RESOURCE_VARIABLES: dict[str, Any] = {
    "REPLYWINDOW_STAGE": {"Ref": "Stage"},
    "REPLYWINDOW_TABLE": {"Ref": "Table"},
    "REPLYWINDOW_INBOUND_QUEUE": {"Fn::GetAtt": ["InboundQueue", "QueueName"]},
    "REPLYWINDOW_ALERTS_QUEUE": {"Fn::GetAtt": ["AlertsQueue", "QueueName"]},
    "REPLYWINDOW_ALERTS_TOPIC": {"Fn::GetAtt": ["AlertsTopic", "TopicName"]},
    "REPLYWINDOW_ALARM_CLOCK": {"Fn::GetAtt": ["AlarmClock", "Name"]},
    "REPLYWINDOW_SECRETS": {"Ref": "PlatformSecrets"},
}


def _resource_names_from_resources(sam: dict[str, Any]) -> None:
    for resource in sam["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = resource["Properties"].setdefault("Environment", {}).setdefault(
            "Variables", {})
        variables.update(RESOURCE_VARIABLES)


def _attach_log_groups(sam: dict[str, Any]) -> None:
    """Each function logs to the log group resources.yaml declares for it (<Function>LogGroup:
    retention, and a role granted that group's ARN, not a name pattern)."""
    resources = sam["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        group = f"{name}LogGroup"
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            raise SystemExit(f"{name} has no log group: declare {group} (AWS::Logs::LogGroup) "
                             "in infrastructure/resources.yaml and grant its role that group")
        resource["Properties"]["LoggingConfig"] = {"LogGroup": {"Ref": group}}


def _keep_webhooks_off_the_rest_api(sam: dict[str, Any]) -> None:
    """The webhooks are served only by their function URL: left on the REST API they would run
    under the API handler's whole-application role with no reserved concurrency, beside the
    webhook function's least privilege. API Gateway answers 403 for a path it does not
    declare (the local REST front does the same: infrastructure/local/rest_front.py)."""
    paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path in [p for p in paths if p.startswith(WEBHOOK_PREFIX)]:
        del paths[path]


def rest_api_paths(sam: dict[str, Any]) -> list[str]:
    """The paths the packaged REST API declares: all that API Gateway routes to the app."""
    return list(sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"])


def _webhook_memory(stage: str) -> int | None:
    """The webhooks' function's memory size, as Chalice would resolve it for a function named
    `webhook_url` (its own under `lambda_functions`, else the stage's, else the config's)."""
    size = chalice_setting(stage, "webhook_url", "lambda_memory_size")
    return None if size is None else int(size)


def _api_stage(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return str(config["stages"][stage].get("api_gateway_stage",
                                           config.get("api_gateway_stage", "api")))


def _add_public_url(sam: dict[str, Any], api_stage: str) -> None:
    """Every function gets the base of the links it sends (REPLYWINDOW_PUBLIC_URL): the
    PublicUrl parameter when set (a custom domain), else the REST API's own URL.

    The API handler itself cannot name RestAPI: RestAPI names the handler's ARN, a circular
    dependency. It gets PublicUrl when set and nothing otherwise; its routes send no links
    (alerts are rung by AlertWorker, channel incidents by ChannelWatch)."""
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
    problems = lock_problems(ROOT / "requirements.txt")
    if problems:
        raise SystemExit("requirements.txt is not a lock (`make lock` writes it): "
                         + "; ".join(problems))
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
    _add_webhook_front(sam, _webhook_memory(stage))
    _keep_webhooks_off_the_rest_api(sam)
    _attach_log_groups(sam)
    _resource_names_from_resources(sam)
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
