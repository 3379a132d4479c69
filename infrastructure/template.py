"""Read infrastructure/resources.yaml: CloudFormation short-form tags, the inlined state machine.

Both `make package` and the local runtime start from `load_resources()`, so what is deployed and
what runs locally come from one declaration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RESOURCES = HERE / "resources.yaml"
STATE_MACHINE_FILES = {"alarm_clock.asl.json": HERE / "alarm_clock.asl.json"}

_SCALAR_TAGS = {"!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!ImportValue":
                "Fn::ImportValue", "!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs"}
_SEQUENCE_TAGS = {"!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select",
                  "!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals",
                  "!And": "Fn::And", "!Or": "Fn::Or", "!Not": "Fn::Not",
                  "!FindInMap": "Fn::FindInMap", "!GetAtt": "Fn::GetAtt"}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic functions."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "!GetAtt":
                value = str(value).split(".", 1)
            return {_SCALAR_TAGS[tag]: value}
        if isinstance(node, yaml.SequenceNode):
            return {_SEQUENCE_TAGS[tag]: loader.construct_sequence(node, deep=True)}
        raise yaml.constructor.ConstructorError(None, None, f"{tag} on a mapping", node.start_mark)

    return construct


for _tag in {*_SCALAR_TAGS, *_SEQUENCE_TAGS}:
    _CfnLoader.add_constructor(_tag, _construct(_tag))


def load_resources(path: Path = RESOURCES) -> dict[str, Any]:
    """The template as a dict, with every state machine definition inlined from its file."""
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            props = resource["Properties"]
            definition_file = STATE_MACHINE_FILES[props["DefinitionString"]]
            # Minified JSON: DefinitionSubstitutions fills ${…} at deploy time.
            props["DefinitionString"] = json.dumps(json.loads(definition_file.read_text()))
    return template


def stateful_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The resources this file declares itself, without the overrides of Chalice's own (nor,
    in the packaged template, the functions and their permissions, which run locally as
    threads of one process)."""
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if not resource["Type"].startswith(("AWS::Serverless::", "AWS::Lambda::"))
        and name != "DefaultRole"
    }


def event_source_queues(template: dict[str, Any]) -> dict[str, str]:
    """Lambda function logical id -> logical id of the queue its SQS event source reads."""
    mapping: dict[str, str] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "SQS":
                mapping[name] = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    return mapping
