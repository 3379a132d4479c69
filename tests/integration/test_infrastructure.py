"""resources.yaml is the one declaration: it packages into a template cfn-lint accepts, the
Chalice config names what it declares, and the local runtime builds every resource in it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infrastructure import package as packaging
from infrastructure.local.aws import (
    BUILDERS,
    Built,
    EmbeddedAws,
    build_resources,
    packaged_functions,
)
from infrastructure.local.runtime import (
    UNRESERVED_CONCURRENCY,
    LocalRuntime,
    LocalSettings,
    concurrency,
    free_port,
)
from infrastructure.package import inputs_digest, package
from infrastructure.template import event_source_queues, load_resources, stateful_resources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sam = package(tmp_path_factory.mktemp("build"), stage="prod")
    template: dict[str, Any] = json.loads(sam.read_text())
    template["_path"] = str(sam)
    return template


def test_packaged_template_passes_cfn_lint_with_zero_errors(packaged: dict[str, Any]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable",
         packaged["_path"]], capture_output=True, text=True, check=False)
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], result.stdout


def test_packaged_template_merges_our_resources_into_chalices(packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    for logical in stateful_resources(load_resources()):
        assert logical in resources
    for function, queue in event_source_queues(load_resources()).items():
        events = resources[function]["Properties"]["Events"]
        sqs = next(e for e in events.values() if e["Type"] == "SQS")["Properties"]
        assert sqs["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
        assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Retention is the deployer's parameter, in every function's environment.
    variables = packaged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["REPLYWINDOW_RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    schedules = [e for f in resources.values() if f["Type"] == "AWS::Serverless::Function"
                 for e in f["Properties"].get("Events", {}).values() if e["Type"] == "Schedule"]
    assert [s["Properties"]["Schedule"] for s in schedules] == [
        "rate(5 minutes)", {"Fn::Sub": "rate(${SweepMinutes} minutes)"},
        {"Fn::Sub": "rate(${ListenMinutes} minutes)"}]
    # The state machine definition is inlined from its own file, placeholders left for CFN.
    machine = resources["AlarmClock"]["Properties"]
    assert "${AlertsQueueUrl}" in machine["DefinitionString"]
    assert json.loads(machine["DefinitionString"])["StartAt"] == "WaitForBucket"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_chalice_config_names_exactly_what_resources_yaml_declares(stage: str) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = config["stages"][stage]["environment_variables"]
    resources = load_resources()["Resources"]

    def name(logical: str, prop: str) -> str:
        value = resources[logical]["Properties"][prop]
        return str(value["Fn::Sub"]).replace("${Stage}", stage)

    assert env["REPLYWINDOW_TABLE"] == name("Table", "TableName")
    assert env["REPLYWINDOW_INBOUND_QUEUE"] == name("InboundQueue", "QueueName")
    assert env["REPLYWINDOW_ALERTS_QUEUE"] == name("AlertsQueue", "QueueName")
    assert env["REPLYWINDOW_ALERTS_TOPIC"] == name("AlertsTopic", "TopicName")
    assert env["REPLYWINDOW_ALARM_CLOCK"] == name("AlarmClock", "StateMachineName")
    assert env["REPLYWINDOW_SECRETS"] == name("PlatformSecrets", "Name")


def test_every_resource_type_in_the_template_is_built_locally(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    _, built = embedded_aws
    declared = stateful_resources(load_resources())
    # At the parameters' defaults (on-demand), only the auto scaling is left out.
    assert set(built.types) == {name for name, r in declared.items()
                                if r.get("Condition") != "Provisioned"}
    assert {r["Type"] for r in declared.values()} <= set(BUILDERS)
    assert built.types["Table"] == "AWS::DynamoDB::Table"


def test_provisioned_capacity_builds_a_scaled_table_from_the_same_declaration(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    template = load_resources()
    # The table and what scales it, under stages of their own beside the session's stack.
    template["Resources"] = {name: r for name, r in template["Resources"].items()
                             if name == "Table" or r.get("Condition") == "Provisioned"}
    built = build_resources(aws, template, "cap", {
        "TableCapacity": "provisioned", "TableMinCapacity": "7", "TableMaxCapacity": "900"})
    table = aws.client("dynamodb").describe_table(TableName="replywindow-cap")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    for throughput in (table["ProvisionedThroughput"],
                       table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]):
        assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (7, 7)
    scaling = aws.client("application-autoscaling")

    def scaled(stage: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        mine = f"table/replywindow-{stage}"
        return ([t for t in scaling.describe_scalable_targets(ServiceNamespace="dynamodb")[
                    "ScalableTargets"] if t["ResourceId"].startswith(mine)],
                [p for p in scaling.describe_scaling_policies(ServiceNamespace="dynamodb")[
                    "ScalingPolicies"] if p["ResourceId"].startswith(mine)])

    targets, policies = scaled("cap")
    assert {(t["ResourceId"], t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"])
            for t in targets} == {
        (resource, f"dynamodb:{kind}:{unit}CapacityUnits", 7, 900)
        for resource, kind in (("table/replywindow-cap", "table"),
                               ("table/replywindow-cap/index/GSI1", "index"))
        for unit in ("Read", "Write")}
    assert {(p["ResourceId"], p["ScalableDimension"]) for p in policies} == {
        (t["ResourceId"], t["ScalableDimension"]) for t in targets}
    assert {p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
            for p in policies} == {70.0}
    assert built.refs["TableWriteScaling"] in {p["PolicyARN"] for p in policies}

    # At the defaults: on demand, nothing to scale.
    build_resources(aws, template, "flex")
    flex = aws.client("dynamodb").describe_table(TableName="replywindow-flex")["Table"]
    assert flex["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert scaled("flex") == ([], [])


def test_local_resources_carry_the_declared_settings(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, built = embedded_aws
    ddb = aws.client("dynamodb")
    table = ddb.describe_table(TableName=built.refs["Table"])["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["GSI1"]
    ttl = ddb.describe_time_to_live(TableName=built.refs["Table"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    sqs = aws.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=built.refs["InboundQueue"],
                                     AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == built.attrs["InboundDeadLetterQueue"]["Arn"]
    assert int(redrive["maxReceiveCount"]) == 24
    assert attrs["VisibilityTimeout"] == "360"
    groups = aws.client("logs").describe_log_groups(
        logGroupNamePrefix=built.refs["WebhookHandlerLogGroup"])["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [30]


def test_an_unknown_resource_type_stops_the_local_build(
        embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    aws, _ = embedded_aws
    template = {"Resources": {"Bus": {"Type": "AWS::Events::EventBus",
                                      "Properties": {"Name": "x"}}}}
    with pytest.raises(NotImplementedError, match="AWS::Events::EventBus"):
        build_resources(aws, template, "dev")


def test_webhooks_are_fronted_by_a_function_url_on_a_function_of_their_own(
        packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    webhooks, api = (resources[name]["Properties"] for name in ("WebhookHandler", "APIHandler"))
    assert webhooks["Handler"] == "app.webhook_url" and api["Handler"] == "app.app"
    # The same code and settings as the API handler; its own entry point, role (public, so
    # least privilege) and reserved concurrency (tests/reliability/test_least_privilege.py),
    # and its own memory size (.chalice/config.json's `webhook_url`; checked with the others').
    own = {"Handler", "Role", "ReservedConcurrentExecutions", "Environment", "LoggingConfig",
           "MemorySize"}
    assert {k: v for k, v in webhooks.items() if k not in own} == {
        k: v for k, v in api.items() if k not in own}
    assert webhooks["Role"] == {"Fn::GetAtt": ["WebhookRole", "Arn"]}
    url = resources["WebhookUrl"]["Properties"]
    assert url == {"TargetFunctionArn": {"Fn::GetAtt": ["WebhookHandler", "Arn"]},
                   "AuthType": "NONE"}
    statements = {r["Properties"]["Action"]: r["Properties"] for r in resources.values()
                  if r["Type"] == "AWS::Lambda::Permission"
                  and r["Properties"]["FunctionName"] == {"Ref": "WebhookHandler"}}
    # Both are needed for a public URL; each holds only for calls through the URL.
    assert statements["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert statements["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    assert not any(r["Type"].startswith("AWS::ApiGatewayV2::") for r in resources.values())
    output = packaged["Outputs"]["WebhookEndpoint"]["Value"]["Fn::Join"][1]
    assert output == [{"Fn::GetAtt": ["WebhookUrl", "FunctionUrl"]}, "webhooks"]


def test_the_rest_api_serves_no_webhook_and_the_local_rest_front_matches_it(
        packaged: dict[str, Any]) -> None:
    """Only the function URL takes webhooks: on the REST API they would run under the whole
    application's role, with no reserved concurrency. Locally the API port routes exactly the
    RestAPI's paths, so an undeclared one is API Gateway's 403 there too."""
    import threading

    import requests

    import app
    from infrastructure.local.rest_front import rest_front

    paths = packaging.rest_api_paths(packaged)
    assert [p for p in paths if "webhook" in p] == []
    assert {"/health", "/api/conversations", "/ack/{token}"} <= set(paths)
    port = free_port()
    server = rest_front(app.app, paths, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{port}"
        for method, path in (("GET", "/webhooks/x?crc_token=abcdefgh"), ("POST", "/webhooks/x"),
                             ("GET", "/webhooks/meta"), ("POST", "/webhooks/meta")):
            answer = requests.request(method, base + path, data=b"{}", timeout=10)
            assert answer.status_code == 403, (method, path)
            assert answer.json() == {"message": "Missing Authentication Token"}
        assert requests.get(f"{base}/health", timeout=10).status_code == 200
    finally:
        server.shutdown()


# Variables chalicelib/config.py reads that a deployed function may leave unset: the default is
# right in AWS. Anything else the code reads must come from the template.
SAFE_DEFAULTS = {
    "REPLYWINDOW_POLICIES": "the SLA policy file bundled with the code (chalicelib/policies.yaml)",
    "REPLYWINDOW_X_API_URL": "X's real API; only tests and emulators point elsewhere",
    "REPLYWINDOW_GRAPH_API_URL": "Meta's real Graph API at the pinned version",
    "REPLYWINDOW_MAX_BODY_BYTES": "1 MiB, above any delivery the platforms send",
    "REPLYWINDOW_META_HUMAN_AGENT": "off: only a Page approved for the HUMAN_AGENT tag turns it on",
    "REPLYWINDOW_DIGEST_AFTER": "5 alerts a minute per agent before a digest",
    "REPLYWINDOW_PLATFORM_READ_TIMEOUT": "10 s for a platform to answer a reply's post, inside "
                                         "the 20 s budget that keeps a reply under 29 s",
    "REPLYWINDOW_VALIDATE_REQUESTS": "off: the AWS SDK's parameter check only raises, it "
                                     "never changes a request; the tests turn it on",
}
# (function, variable) pairs left unset on purpose.
FUNCTION_EXCEPTIONS = {
    ("APIHandler", "REPLYWINDOW_PUBLIC_URL"): (
        "RestAPI names the API handler's ARN, so the handler cannot name RestAPI (a circular "
        "dependency); it gets PublicUrl when one is set, and its routes send no links"),
}


def variables_the_code_reads() -> set[str]:
    """Every `os.environ.get("…")`, `os.environ["…"]` and `_required("…")` in config.py."""
    tree = ast.parse((ROOT / "chalicelib" / "config.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "_required"):
                names.add(str(node.args[0].value))
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            names.add(str(ast.literal_eval(node.slice)))
    return names


def always_set(value: Any) -> bool:
    """Set whatever the parameters: not AWS::NoValue on any branch of a condition."""
    if value == {"Ref": "AWS::NoValue"}:
        return False
    if isinstance(value, dict) and "Fn::If" in value:
        return always_set(value["Fn::If"][1]) and always_set(value["Fn::If"][2])
    return True


def test_every_variable_the_code_reads_is_set_for_every_deployed_function(
        packaged: dict[str, Any]) -> None:
    read = variables_the_code_reads()
    assert {"REPLYWINDOW_TABLE", "REPLYWINDOW_PUBLIC_URL", "REPLYWINDOW_RETENTION_DAYS"} <= read
    assert set(SAFE_DEFAULTS) <= read, "an allow-listed variable the code no longer reads"
    common = packaged["Globals"]["Function"]["Environment"]["Variables"]
    functions = {name: r["Properties"] for name, r in packaged["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert {"APIHandler", "WebhookHandler", "InboundWorker", "AlertWorker", "ChannelWatch"} <= set(
        functions)
    missing = sorted(
        (name, variable) for name, props in functions.items() for variable in read
        if variable not in SAFE_DEFAULTS and (name, variable) not in FUNCTION_EXCEPTIONS
        and not always_set({**common, **props.get("Environment", {}).get("Variables", {})}
                           .get(variable, {"Ref": "AWS::NoValue"})))
    assert missing == [], f"deployed functions would run without these: {missing}"


def test_links_in_alerts_use_the_public_url_parameter_or_the_rest_apis_own_url(
        packaged: dict[str, Any]) -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    api_stage = config["stages"]["prod"]["api_gateway_stage"]
    assert packaged["Parameters"]["PublicUrl"]["Default"] == ""
    assert packaged["Conditions"]["HasPublicUrl"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PublicUrl"}, ""]}]}
    resources = packaged["Resources"]
    assert resources["RestAPI"]["Properties"]["StageName"] == api_stage
    for name in ("AlertWorker", "ChannelWatch", "InboundWorker", "WebhookHandler"):
        url = resources[name]["Properties"]["Environment"]["Variables"]["REPLYWINDOW_PUBLIC_URL"]
        assert url == {"Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, {"Fn::Sub": (
            "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + api_stage)}]}
    api = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["REPLYWINDOW_PUBLIC_URL"] == {
        "Fn::If": ["HasPublicUrl", {"Ref": "PublicUrl"}, {"Ref": "AWS::NoValue"}]}


def test_the_local_runtime_runs_each_function_as_the_packaged_template_declares_it(
        packaged: dict[str, Any], embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    _, built = embedded_aws
    functions = packaged_functions(packaged, built, "prod", {"PublicUrl": "http://127.0.0.1:9"})
    assert {name: (f.handler, f.timeout, f.memory, f.queue, f.batch_size, f.schedule,
                   f.reserved_concurrency) for name, f in functions.items()} == {
        "APIHandler": ("app.app", 30, 512, None, 10, None, None),
        "WebhookHandler": ("app.webhook_url", 30, 256, None, 10, None, 50),
        "InboundWorker": ("app.inbound_worker", 60, 256, "InboundQueue", 10, None, None),
        "AlertWorker": ("app.alert_worker", 60, 256, "AlertsQueue", 10, None, None),
        "ChannelWatch": ("app.channel_watch", 30, 512, None, 10, "rate(5 minutes)", None),
        "Sweeper": ("app.sweeper", 30, 512, None, 10, "rate(5 minutes)", None),
        "OpsAlarmRelay": ("app.ops_alarm_relay", 30, 512, None, 10, None, None),
        "SmsFailures": ("app.sms_failures", 30, 512, None, 10, None, None),
        "Listen": ("app.listen", 30, 512, None, 10, "rate(5 minutes)", None),
    }
    for function in functions.values():
        # The template's own values, the public URL parameter resolved, nothing added.
        assert function.environment["REPLYWINDOW_TABLE"] == built.refs["Table"]
        assert function.environment["REPLYWINDOW_RETENTION_DAYS"] == "400"
        assert function.environment["REPLYWINDOW_PUBLIC_URL"] == "http://127.0.0.1:9"
        assert "AWS_ENDPOINT_URL" not in function.environment


def test_the_cost_bench_prices_each_function_at_the_memory_the_template_gives_it(
        packaged: dict[str, Any]) -> None:
    """bench/cost/ reads memory sizes from .chalice/config.json the way Chalice does; the
    packaged template (and so the local runtime) must say the same, the webhooks' function
    included, which the packager derives from the API handler's."""
    from bench.cost.prices import memory_mb

    chalice_names = {"APIHandler": "api_handler", "WebhookHandler": "webhook_url"}
    functions = {name: r["Properties"] for name, r in packaged["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert functions
    for name, props in functions.items():
        function = chalice_names.get(name) or props["Handler"].rsplit(".", 1)[-1]
        assert props["MemorySize"] == memory_mb(function, "prod"), name


def test_every_functions_resource_names_follow_the_stage_it_is_deployed_as() -> None:
    """Packaged from the dev stage's config, deployed with Stage=prod: each function's
    environment names the prod resources (what its role covers), resolved from the template as
    CloudFormation would, by the local resolver."""
    from moto import mock_aws

    from infrastructure.local.aws import InProcessAws

    template, _ = packaging.packaged("dev")
    with mock_aws():
        aws = InProcessAws()
        built = build_resources(aws, template, "prod")
        functions = packaged_functions(template, built, "prod",
                                       {"PublicUrl": "https://care.example.com"})
        sqs, sns = aws.client("sqs"), aws.client("sns")
        topics = {t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]}
        machines = {m["name"] for m in aws.client("stepfunctions").list_state_machines()[
            "stateMachines"]}
        secret = aws.client("secretsmanager").describe_secret(
            SecretId=functions["InboundWorker"].environment["REPLYWINDOW_SECRETS"])["Name"]
        assert len(functions) >= 5
        for name, function in functions.items():
            env = function.environment
            assert env["REPLYWINDOW_STAGE"] == "prod", name
            assert env["REPLYWINDOW_TABLE"] == "replywindow-prod", name
            aws.client("dynamodb").describe_table(TableName=env["REPLYWINDOW_TABLE"])
            for queue in ("REPLYWINDOW_INBOUND_QUEUE", "REPLYWINDOW_ALERTS_QUEUE"):
                assert env[queue].startswith("replywindow-prod-"), (name, queue)
                sqs.get_queue_url(QueueName=env[queue])
            assert env["REPLYWINDOW_ALERTS_TOPIC"] in topics, name
            assert env["REPLYWINDOW_ALARM_CLOCK"] in machines, name
            assert env["REPLYWINDOW_SECRETS"] == built.refs["PlatformSecrets"], name
            assert "dev" not in json.dumps(env), name
        assert secret == "replywindow-prod/platform-secrets"


def test_functions_that_disagree_on_their_environment_stop_the_local_start(
        packaged: dict[str, Any], embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    _, built = embedded_aws
    template = json.loads(json.dumps(packaged))
    # One function loses a variable: in one process, no single environment fits them all.
    del template["Resources"]["AlertWorker"]["Properties"]["Environment"]["Variables"][
        "REPLYWINDOW_PUBLIC_URL"]
    functions = packaged_functions(template, built, "prod", {"PublicUrl": "http://127.0.0.1:9"})
    runtime = LocalRuntime(LocalSettings(aws_port=free_port()))
    with pytest.raises(RuntimeError, match=r"AlertWorker\.REPLYWINDOW_PUBLIC_URL"):
        runtime._apply_environment(functions)


def test_the_template_is_packaged_once_for_concurrent_starts_and_again_when_inputs_change(
        tmp_path: Path) -> None:
    script = ("import sys; from pathlib import Path; from infrastructure.package import packaged;"
              "t, rebuilt = packaged('dev', Path(sys.argv[1])); "
              "print(rebuilt, sorted(t['Resources'])[:3])")
    starts = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0].strip().splitlines()[-1] for p in starts]
    assert [p.returncode for p in starts] == [0, 0]
    assert sorted(o.split(" ", 1)[0] for o in outputs) == ["False", "True"], outputs
    assert outputs[0].split(" ", 1)[1] == outputs[1].split(" ", 1)[1]
    assert not list(tmp_path.glob(".building-*"))  # nothing half-built left behind
    template, rebuilt = packaging.packaged("dev", tmp_path)
    assert rebuilt is False and "WebhookHandler" in template["Resources"]
    # An input changed since (the stamp holds their digest): packaged again.
    (tmp_path / "sam.json.stamp").write_text("an older digest")
    assert packaging.packaged("dev", tmp_path)[1] is True
    assert (tmp_path / "sam.json.stamp").read_text() == inputs_digest("dev")


def test_a_queue_worker_runs_as_many_batches_at_once_as_its_reserved_concurrency(
        packaged: dict[str, Any], embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    _, built = embedded_aws
    template = json.loads(json.dumps(packaged))
    template["Resources"]["InboundWorker"]["Properties"]["ReservedConcurrentExecutions"] = 3
    functions = packaged_functions(template, built, "prod", {"PublicUrl": "http://127.0.0.1:9"})
    assert concurrency(functions["InboundWorker"]) == 3
    # None reserved: bounded by the account on AWS, by a fixed pool of threads locally.
    assert functions["AlertWorker"].reserved_concurrency is None
    assert concurrency(functions["AlertWorker"]) == UNRESERVED_CONCURRENCY


def test_retries_outlast_an_hour_and_visibility_covers_six_function_timeouts(
        packaged: dict[str, Any]) -> None:
    """Each queue a function reads: visibility >= 6x that function's timeout (Lambda's
    guidance), and the backoff ladder at the template's defaults lasts over an hour before
    maxReceiveCount dead-letters a record, well within the retention."""
    from chalicelib.domain.retries import longest_ladder, shortest_ladder

    resources, parameters = packaged["Resources"], packaged["Parameters"]
    base = float(parameters["RetryBaseSeconds"]["Default"])
    cap = float(parameters["RetryCapSeconds"]["Default"])
    variables = packaged["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["REPLYWINDOW_RETRY_BASE_SECONDS"] == {"Ref": "RetryBaseSeconds"}
    assert variables["REPLYWINDOW_RETRY_CAP_SECONDS"] == {"Ref": "RetryCapSeconds"}
    readers = event_source_queues(packaged)
    assert set(readers.values()) == {"InboundQueue", "AlertsQueue"}
    for function, queue in readers.items():
        props = resources[queue]["Properties"]
        assert props["VisibilityTimeout"] >= 6 * resources[function]["Properties"]["Timeout"]
        receives = props["RedrivePolicy"]["maxReceiveCount"]
        assert shortest_ladder(receives, base, cap) >= 3600, queue
        assert longest_ladder(receives, base, cap) < 2 * 3600, queue  # not parked for ever
        assert props["MessageRetentionPeriod"] > 10 * longest_ladder(receives, base, cap)


def test_alarms_watch_what_would_lose_an_alert_and_notify_the_admins(
        packaged: dict[str, Any]) -> None:
    resources = packaged["Resources"]
    alarms = {name: r["Properties"] for name, r in resources.items()
              if r["Type"] == "AWS::CloudWatch::Alarm"}

    def watching(namespace: str, metric: str, dimension: str, value: Any) -> list[str]:
        return [name for name, a in alarms.items() if a.get("Namespace") == namespace
                and a.get("MetricName") == metric
                and a["Dimensions"] == [{"Name": dimension, "Value": value}]]

    for dlq in ("InboundDeadLetterQueue", "AlertsDeadLetterQueue"):
        [name] = watching("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                          {"Fn::GetAtt": [dlq, "QueueName"]})
        assert (alarms[name]["Threshold"], alarms[name]["ComparisonOperator"]) == (
            0, "GreaterThanThreshold")  # a single dead letter is one too many
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        assert watching("AWS/States", metric, "StateMachineArn", {"Ref": "AlarmClock"})
    assert watching("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName",
                    {"Fn::GetAtt": ["InboundQueue", "QueueName"]})
    # An alert SNS failed to deliver (texts refused by the sandbox, past the spend limit).
    [failed] = watching("AWS/SNS", "NumberOfNotificationsFailed", "TopicName",
                        {"Fn::GetAtt": ["AlertsTopic", "TopicName"]})
    assert (alarms[failed]["Threshold"], alarms[failed]["ComparisonOperator"]) == (
        0, "GreaterThanThreshold")
    # The month's SMS spend at 80% of the limit the deployer declares (SNS's default $1).
    assert packaged["Parameters"]["SmsSpendLimitUSD"]["Default"] == 1
    [spend] = [a for a in alarms.values() if any(
        q.get("MetricStat", {}).get("Metric") == {"Namespace": "AWS/SNS",
                                                  "MetricName": "SMSMonthToDateSpentUSD"}
        for q in a.get("Metrics", []))]
    [share] = [q for q in spend["Metrics"] if q.get("ReturnData")]
    assert share["Expression"] == {"Fn::Sub": "100 * spent / ${SmsSpendLimitUSD}"}
    assert (spend["Threshold"], spend["ComparisonOperator"]) == (
        80, "GreaterThanOrEqualToThreshold")
    functions = {n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {"InboundWorker", "AlertWorker", "Sweeper", "OpsAlarmRelay",
            "WebhookHandler"} <= functions
    for function in functions:
        for metric in ("Errors", "Throttles"):
            assert watching("AWS/Lambda", metric, "FunctionName", {"Ref": function}), (
                function, metric)
    # Every alarm, in and out of ALARM, goes to the ops topic, which the relay reads…
    for name, a in alarms.items():
        assert a["AlarmActions"] == a["OKActions"] == [{"Ref": "OpsAlarmsTopic"}], name
        assert a["TreatMissingData"] == "notBreaching", name
    events = resources["OpsAlarmRelay"]["Properties"]["Events"]
    assert [e["Properties"]["Topic"] for e in events.values() if e["Type"] == "SNS"] == [
        {"Ref": "OpsAlarmsTopic"}]
    # …encrypted with a key CloudWatch may use (the AWS managed key would refuse it).
    assert resources["OpsAlarmsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "OpsAlarmsKey"}
    grants = resources["OpsAlarmsKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(g["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
               and set(g["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"} for g in grants)


def test_the_local_stack_builds_the_alarms(aws: Built) -> None:
    # Its own emulator (the `aws` fixture): a session-wide one is emptied by every in-process
    # moto test that runs before this one.
    from infrastructure.local.aws import InProcessAws

    clients = InProcessAws()
    found = clients.client("cloudwatch").describe_alarms(AlarmNamePrefix="replywindow-dev-")[
        "MetricAlarms"]
    names = {a["AlarmName"] for a in found}
    assert {"replywindow-dev-inbound-dead-letters", "replywindow-dev-alerts-dead-letters",
            "replywindow-dev-alarm-clock-failed", "replywindow-dev-alarm-clock-timed-out",
            "replywindow-dev-inbound-oldest-message", "replywindow-dev-alerts-delivery-failed",
            "replywindow-dev-sms-spend-near-limit"} <= names
    [spend] = [a for a in found if a["AlarmName"] == "replywindow-dev-sms-spend-near-limit"]
    assert [m.get("Expression") for m in spend["Metrics"]] == [None, "100 * spent / 1"]
    topic = clients.client("sns").list_topics()["Topics"]
    assert all(a["AlarmActions"] and a["AlarmActions"][0].endswith(":replywindow-dev-ops-alarms")
               for a in found)
    assert any(t["TopicArn"].endswith(":replywindow-dev-ops-alarms") for t in topic)


def test_failed_texts_reach_their_function_through_a_filter_on_snss_log_group(
        packaged: dict[str, Any], embedded_aws: tuple[EmbeddedAws, Built]) -> None:
    resources = packaged["Resources"]
    [(name, group)] = [(n, r["Properties"]) for n, r in resources.items()
                       if r["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in r["Properties"]]
    assert group["LogGroupName"] == {
        "Fn::Sub": "sns/${AWS::Region}/${AWS::AccountId}/DirectPublishToPhoneNumber/Failure"}
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    [subscription] = [r for r in resources.values()
                      if r["Type"] == "AWS::Logs::SubscriptionFilter"]
    assert subscription["Properties"] == {
        "LogGroupName": {"Ref": name}, "FilterPattern": '{ $.status = "FAILURE" }',
        "DestinationArn": {"Fn::GetAtt": ["SmsFailures", "Arn"]}}
    # CloudWatch Logs may invoke it for that group only, and the filter waits for the grant.
    permission = resources[subscription["DependsOn"]]["Properties"]
    assert permission == {"Action": "lambda:InvokeFunction",
                          "FunctionName": {"Fn::GetAtt": ["SmsFailures", "Arn"]},
                          "Principal": "logs.amazonaws.com",
                          "SourceAccount": {"Ref": "AWS::AccountId"},
                          "SourceArn": {"Fn::GetAtt": [name, "Arn"]}}
    function = resources["SmsFailures"]["Properties"]
    assert function["Handler"] == "app.sms_failures"
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "SmsFailuresLogGroup"}}
    statements = resources["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"]
    [logs] = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert {"Fn::GetAtt": ["SmsFailuresLogGroup", "Arn"]} in logs["Resource"]
    # The role SNS assumes to write the delivery status: trusted by SNS of this account,
    # writing only SNS's own log groups; its ARN is the one command's argument (README).
    role = resources["SmsDeliveryStatusRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sns.amazonaws.com"}
    [write] = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert all("log-group:sns/" in r["Fn::Sub"] for r in write["Resource"])
    assert packaged["Outputs"]["SmsDeliveryStatusRoleArn"]["Value"] == {
        "Fn::GetAtt": ["SmsDeliveryStatusRole", "Arn"]}
    # Locally: the group exists under SNS's name, and the filter is kept for the poller.
    _, built = embedded_aws
    assert built.refs[name] == "sns/us-east-1/123456789012/DirectPublishToPhoneNumber/Failure"
    assert built.attrs["SmsFailedTextsFilter"]["DestinationArn"] == built.attrs[
        "SmsFailures"]["Arn"]
