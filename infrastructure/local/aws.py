"""Embedded AWS: moto's server with Step Functions execution on, and every resource of
infrastructure/resources.yaml built through the service APIs from that one declaration.

moto's CloudFormation cannot be used here: it lacks AWS::SNS::Subscription, and a state machine it
creates is invisible to the executing backend (docs/architecture.md#the-local-stack).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from infrastructure.local import moto_fixes
from infrastructure.template import stateful_resources

ACCOUNT = "123456789012"


class EmbeddedAws:
    def __init__(self, host: str, port: int, region: str) -> None:
        self.host, self.port, self.region = host, port, region
        self.endpoint = f"http://{host}:{port}"
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self) -> None:
        moto_fixes.apply()
        self._server.start()
        # The executor's service calls go to localhost:$MOTO_PORT (the caller sets MOTO_PORT).
        response = requests.post(
            f"{self.endpoint}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        )
        response.raise_for_status()

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str, connections: int = 10) -> Any:
        """A client of the emulator; `connections`: the threads that will share it (beyond
        its pool, connections are opened and dropped on every request)."""
        return boto3.client(service, endpoint_url=self.endpoint,  # type: ignore[call-overload]
                            region_name=self.region,
                            config=Config(max_pool_connections=connections))


@dataclass
class Built:
    """What was built: logical id -> physical id (Ref) and attributes (GetAtt)."""

    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)


_NO_VALUE = object()  # AWS::NoValue: the property is left out


class _Resolver:
    def __init__(self, parameters: dict[str, str], built: Built, region: str,
                 conditions: dict[str, Any] | None = None) -> None:
        self.parameters, self.built, self.region = parameters, built, region
        self.conditions: dict[str, bool] = {}
        self.conditions = {name: bool(self(expr)) for name, expr in (conditions or {}).items()}

    def _pseudo(self, name: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT,
                  "AWS::Partition": "aws", "AWS::StackName": "replywindow-local",
                  "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.built.refs:
            return self.built.refs[name]
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.built.attrs[logical][attr]
        raise KeyError(f"cannot resolve {name!r}: not built yet (order in resources.yaml)")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in map(self, value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self._pseudo(arg)
            if key == "Fn::If":
                return self(arg[1] if self.conditions[arg[0]] else arg[2])
            if key == "Fn::Equals":
                return self(arg[0]) == self(arg[1])
            if key == "Fn::Not":
                return not self(arg[0])
            if key == "Fn::GetAtt":
                return self.built.attrs[arg[0]][arg[1]]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: str(extra[m.group(1)] if m.group(1) in extra
                                  else self._pseudo(m.group(1))),
                    text,
                )
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self(arg[1]))
        resolved = {k: self(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


class Clients(Protocol):
    """Where resources are built: the embedded server, or moto in-process (`mock_aws`)."""

    region: str

    def client(self, service: str) -> Any: ...


class InProcessAws:
    """boto3's default endpoint, for tests running under moto's `mock_aws`."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]


Builder = Callable[[Clients, str, dict[str, Any], Built], None]


def _table(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    ddb = aws.client("dynamodb")
    wanted = ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode",
              "GlobalSecondaryIndexes")
    kwargs: dict[str, Any] = {k: props[k] for k in wanted if k in props}
    # Parameters resolve to strings; the API wants numbers.
    if "ProvisionedThroughput" in props:
        kwargs["ProvisionedThroughput"] = _capacity(props["ProvisionedThroughput"])
    for index in kwargs.get("GlobalSecondaryIndexes", ()):
        if "ProvisionedThroughput" in index:
            index["ProvisionedThroughput"] = _capacity(index["ProvisionedThroughput"])
    if "SSESpecification" in props:
        kwargs["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
    table = ddb.create_table(**kwargs)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        ddb.update_continuous_backups(TableName=props["TableName"],
                                      PointInTimeRecoverySpecification=pitr)
    built.refs[logical] = props["TableName"]
    built.attrs[logical] = {"Arn": table["TableArn"]}


def _capacity(throughput: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in throughput.items()}


def _scalable_target(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    aws.client("application-autoscaling").register_scalable_target(
        ServiceNamespace=props["ServiceNamespace"], ResourceId=props["ResourceId"],
        ScalableDimension=props["ScalableDimension"], MinCapacity=int(props["MinCapacity"]),
        MaxCapacity=int(props["MaxCapacity"]))
    # CloudFormation's Ref of a scalable target: resource|dimension|namespace.
    built.refs[logical] = "|".join(
        (props["ResourceId"], props["ScalableDimension"], props["ServiceNamespace"]))


def _scaling_policy(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    resource, dimension, namespace = props["ScalingTargetId"].split("|")
    tracking = dict(props["TargetTrackingScalingPolicyConfiguration"])
    tracking["TargetValue"] = float(tracking["TargetValue"])
    arn = aws.client("application-autoscaling").put_scaling_policy(
        PolicyName=props["PolicyName"], ServiceNamespace=namespace, ResourceId=resource,
        ScalableDimension=dimension, PolicyType=props["PolicyType"],
        TargetTrackingScalingPolicyConfiguration=tracking)["PolicyARN"]
    built.refs[logical] = arn


_QUEUE_ATTRIBUTES = ("FifoQueue", "VisibilityTimeout", "MessageRetentionPeriod",
                     "SqsManagedSseEnabled", "DeduplicationScope", "FifoThroughputLimit",
                     "ContentBasedDeduplication", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


def _queue(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    sqs = aws.client("sqs")
    attributes = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
                  for k in _QUEUE_ATTRIBUTES if k in props}
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    built.refs[logical] = url
    built.attrs[logical] = {"Arn": arn["QueueArn"], "QueueName": props["QueueName"],
                            "QueueUrl": url}


def _topic(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = aws.client("sns").create_topic(Name=props["TopicName"], Attributes=attributes)
    built.refs[logical] = arn["TopicArn"]
    built.attrs[logical] = {"TopicName": props["TopicName"], "TopicArn": arn["TopicArn"]}


def _secret(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    # The secret is created empty of real values; the runtime seeds them.
    generate = props.get("GenerateSecretString", {})
    value = json.loads(generate.get("SecretStringTemplate", "{}"))
    if "GenerateStringKey" in generate:
        value[generate["GenerateStringKey"]] = ""
    arn = aws.client("secretsmanager").create_secret(Name=props["Name"],
                                                     SecretString=json.dumps(value))["ARN"]
    built.refs[logical] = arn
    built.attrs[logical] = {"Id": arn}


def _role(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    iam = aws.client("iam")
    name = props.get("RoleName", f"replywindow-{logical}")
    role = iam.create_role(RoleName=name,
                           AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
    for policy in props.get("Policies", []):
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                            PolicyDocument=json.dumps(policy["PolicyDocument"]))
    built.refs[logical] = name
    built.attrs[logical] = {"Arn": role["Role"]["Arn"]}


def _state_machine(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    definition: str = props["DefinitionString"]
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    arn = aws.client("stepfunctions").create_state_machine(
        name=props["StateMachineName"], definition=definition, roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    built.refs[logical] = arn
    built.attrs[logical] = {"Arn": arn, "Name": props["StateMachineName"]}


def _log_group(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    # CloudFormation names an unnamed group after the stack and the logical id.
    name = props.get("LogGroupName", f"replywindow-local-{logical}")
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = f"arn:aws:logs:{aws.region}:{ACCOUNT}:log-group:{name}"
    built.refs[logical] = name
    built.attrs[logical] = {"Arn": f"{arn}:*"}  # GetAtt Arn: the group's streams included


def _kms_key(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    key = aws.client("kms").create_key(Description=props.get("Description", logical),
                                       Policy=json.dumps(props["KeyPolicy"]))["KeyMetadata"]
    built.refs[logical] = key["KeyId"]
    built.attrs[logical] = {"Arn": key["Arn"], "KeyId": key["KeyId"]}


def _alarm(aws: Clients, logical: str, props: dict[str, Any], built: Built) -> None:
    # Nothing evaluates it locally; it is built so that a mistake in it fails here too, and
    # the health view lists it.
    keys = ("AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions",
            "Statistic", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator",
            "TreatMissingData", "AlarmActions", "OKActions", "Metrics")
    args = {k: props[k] for k in keys if k in props}
    for number in ("Period", "EvaluationPeriods"):
        if number in args:  # a metric-math alarm has its periods in Metrics
            args[number] = int(args[number])
    for query in args.get("Metrics", []):
        if "MetricStat" in query:
            query["MetricStat"]["Period"] = int(query["MetricStat"]["Period"])
    args["Threshold"] = float(args["Threshold"])
    aws.client("cloudwatch").put_metric_alarm(**args)
    built.refs[logical] = props["AlarmName"]


def _subscription_filter(aws: Clients, logical: str, props: dict[str, Any],
                         built: Built) -> None:
    # moto would refuse a Lambda destination it does not host: the filter is kept here, and
    # the runtime's log poller (infrastructure/local/pollers.py) delivers what it matches.
    aws.client("logs").describe_log_groups(logGroupNamePrefix=props["LogGroupName"])
    built.refs[logical] = logical
    built.attrs[logical] = {k: str(props.get(k, "")) for k in
                            ("LogGroupName", "FilterPattern", "DestinationArn")}


BUILDERS: dict[str, Builder] = {
    "AWS::Logs::SubscriptionFilter": _subscription_filter,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::KMS::Key": _kms_key,
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::IAM::Role": _role,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::ApplicationAutoScaling::ScalableTarget": _scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy,
    "AWS::Logs::LogGroup": _log_group,
}


def function_environment(template: dict[str, Any], stage: str) -> dict[str, str]:
    """The Lambdas' environment from the template's Globals, parameters at their defaults."""
    parameters = {name: str(spec.get("Default", "")) for name, spec in
                  template.get("Parameters", {}).items()}
    parameters["Stage"] = stage
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get(
        "Variables", {})
    resolve = _Resolver(parameters, Built(), "us-east-1")
    return {name: str(resolve(value)) for name, value in variables.items()}


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of the packaged template, resolved to the local resources."""

    logical: str
    handler: str  # module.attribute, e.g. "app.inbound_worker"
    environment: dict[str, str]
    timeout: int
    memory: int
    reserved_concurrency: int | None = None
    queue: str | None = None  # logical id of the queue its SQS event source reads
    batch_size: int = 10
    schedule: str | None = None  # an EventBridge schedule expression

    @property
    def entry_point(self) -> str:
        return self.handler.rsplit(".", 1)[-1]


def packaged_functions(template: dict[str, Any], built: Built, stage: str,
                       parameters: dict[str, str] | None = None,
                       region: str = "us-east-1") -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of a packaged template: handler, environment (Globals
    merged in, as SAM does), timeout, memory, reserved concurrency and event source."""
    values = {name: str(spec.get("Default", "")) for name, spec in
              template.get("Parameters", {}).items()}
    values.update(parameters or {})
    values["Stage"] = stage
    resolve = _Resolver(values, built, region, template.get("Conditions"))
    globals_ = template.get("Globals", {}).get("Function", {})
    functions: dict[str, FunctionSpec] = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        variables = {**globals_.get("Environment", {}).get("Variables", {}),
                     **props.get("Environment", {}).get("Variables", {})}
        environment = {k: str(v) for k, v in resolve(variables).items()}
        queue, batch_size, schedule = None, 10, None
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                batch_size = int(resolve(event["Properties"].get("BatchSize", 10)))
            elif event["Type"] == "Schedule":
                schedule = str(resolve(event["Properties"]["Schedule"]))
        reserved = props.get("ReservedConcurrentExecutions")
        functions[logical] = FunctionSpec(
            logical=logical, handler=props["Handler"], environment=environment,
            timeout=int(resolve(props.get("Timeout", globals_.get("Timeout", 3)))),
            memory=int(resolve(props.get("MemorySize", globals_.get("MemorySize", 128)))),
            reserved_concurrency=None if reserved is None else int(resolve(reserved)),
            queue=queue, batch_size=batch_size, schedule=schedule)
    return functions


def build_resources(aws: Clients, template: dict[str, Any], stage: str,
                    parameters: dict[str, str] | None = None) -> Built:
    """Create every stateful resource of the template, in declaration order (parameters at
    their defaults unless given; a resource whose condition is false is left out)."""
    built = Built()
    values = {name: str(spec.get("Default", "")) for name, spec in
              template.get("Parameters", {}).items()}
    values.update(parameters or {})
    values["Stage"] = stage
    resolve = _Resolver(values, built, aws.region, template.get("Conditions"))
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            # Threads of the local process, named as CloudFormation would (for the alarms).
            built.refs[logical] = f"replywindow-{stage}-{logical}"
            built.attrs[logical] = {"Arn": f"arn:aws:lambda:{aws.region}:{ACCOUNT}:function:"
                                           f"replywindow-{stage}-{logical}"}
    for logical, resource in stateful_resources(template).items():
        if "Condition" in resource and not resolve.conditions[resource["Condition"]]:
            continue
        builder = BUILDERS.get(resource["Type"])
        if builder is None:
            raise NotImplementedError(
                f"{logical}: the local runtime cannot build {resource['Type']} yet")
        builder(aws, logical, resolve(resource.get("Properties", {})), built)
        built.types[logical] = resource["Type"]
    return built
