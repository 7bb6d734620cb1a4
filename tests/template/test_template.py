#!/usr/bin/env python3
"""What template.yaml promises a deployer, read from the template itself (issue 12).

Run from the project root with the project's venv (``make test`` does)::

    .venv/bin/python tests/template/test_template.py

The template is decoded with cfn-lint's own YAML loader (intrinsic functions as ``Ref``/
``Fn::*`` dictionaries), so these checks see what CloudFormation sees. cfn-lint and
``sam validate --lint`` check the syntax (``make template-lint``); these check the decisions:
no secret in plain text, no anonymous endpoint by accident, the alarms and what they watch,
the scaling and batching parameters and the queue's visibility timeout.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict[str, Any]:
    template, problems = decode(str(ROOT / "template.yaml"))
    if problems or template is None:
        raise SystemExit(f"template.yaml does not decode: {problems}")
    return template


T = load()
PARAMS: dict[str, Any] = T["Parameters"]
RES: dict[str, Any] = T["Resources"]
FN: dict[str, Any] = RES["SyncFunction"]["Properties"]
ENV: dict[str, Any] = FN["Environment"]["Variables"]

SECRET_WORDS = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|EXTERNAL", re.I)


def refs(node: Any) -> set[str]:
    """Every name a node refers to: Ref, Fn::GetAtt's resource, and ${Name} in Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else str(v).split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                found.update(n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", str(text)))
                found |= refs(v[1] if isinstance(v, list) and len(v) > 1 else {})
            else:
                found |= refs(v)
    elif isinstance(node, list):
        for item in node:
            found |= refs(item)
    return found


def statements() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in FN["Policies"]:
        for st in policy.get("Statement", []):
            if isinstance(st, dict) and "Fn::If" in st:
                out.extend(s for s in st["Fn::If"][1:] if isinstance(s, dict) and "Ref" not in s)
            else:
                out.append(st)
    return out


def t_no_secret_is_a_parameter_an_environment_variable_or_an_output() -> None:
    secret_params = {n for n, p in PARAMS.items() if str(p.get("NoEcho")).lower() == "true"}
    # The write keys and the External ID are no template parameters at all any more.
    assert not {"WriteKeys", "ExternalId"} & set(PARAMS), sorted(PARAMS)
    for name, value in ENV.items():
        assert name not in ("WRITE_KEYS", "IAM_EXTERNAL_ID"), name
        if SECRET_WORDS.search(name):
            # Only names of where secrets live, never the secrets.
            assert name.endswith("_PARAMETER"), f"{name} looks like a secret in plain text"
        assert not refs(value) & secret_params, f"{name} carries a NoEcho parameter"
    for name, out in T.get("Outputs", {}).items():
        assert not refs(out) & secret_params, f"output {name} carries a NoEcho parameter"


def t_the_secrets_parameter_is_read_with_decryption_and_least_privilege() -> None:
    assert ENV["SYNC_SECRETS_PARAMETER"] == {"Ref": "SecretsParameterName"}
    assert PARAMS["SecretsParameterName"]["Default"] == "/sync-to-s3/secrets"
    reads = [s for s in statements() if s.get("Action") == "ssm:GetParameter"]
    assert len(reads) == 1, reads
    resources = reads[0]["Resource"]
    assert isinstance(resources, list) and len(resources) == 2, resources
    assert {r for res in resources for r in refs(res)} >= {"ConfigParameterName", "SecretsParameterName"}
    for res in resources:
        assert "parameter${" in str(res["Fn::Sub"]), f"one parameter each, no wildcard: {res}"
    decrypt = [s for s in statements() if s.get("Action") == "kms:Decrypt" and "Condition" in s]
    assert decrypt and "kms:ViaService" in str(decrypt[0]["Condition"]), decrypt
    # No write right on SSM for the function: storing secrets is the deployer's act.
    assert not [s for s in statements() if "ssm:Put" in str(s.get("Action"))]


def t_an_empty_write_key_list_does_not_open_the_endpoint_unless_asked() -> None:
    assert PARAMS["AllowAnonymous"]["Default"] == "false"
    assert sorted(PARAMS["AllowAnonymous"]["AllowedValues"]) == ["false", "true"]
    assert ENV["ALLOW_ANONYMOUS"] == {"Ref": "AllowAnonymous"}


def alarm(logical_id: str) -> dict[str, Any]:
    res = RES[logical_id]
    assert res["Type"] == "AWS::CloudWatch::Alarm", logical_id
    props = res["Properties"]
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0
    assert props["TreatMissingData"] == "notBreaching", logical_id
    assert props["EvaluationPeriods"] == 1, "the first occurrence notifies"
    return props


def t_the_dead_letter_queue_alarm_watches_the_dlq() -> None:
    props = alarm("DeadLetterQueueAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ], props["Dimensions"]
    redrive = RES["EventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def t_the_failed_messages_alarm_reads_the_functions_emf_metric() -> None:
    props = alarm("FailedMessagesAlarm")
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        "SyncToS3", "FailedMessages", "Sum")
    assert props["Dimensions"] == [{"Name": "Source", "Value": "sqs"}]
    # The same namespace, dimension and metric as the function's EMF line (src/lambda.rs).
    emf = (ROOT / "src" / "lambda.rs").read_text()
    assert '\\"Namespace\\":\\"SyncToS3\\",\\"Dimensions\\":[[\\"Source\\"]]' in emf
    assert '("FailedMessages", "Count"' in emf


def t_function_errors_alarm_and_the_topic() -> None:
    props = alarm("FunctionErrorsAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "SyncFunction"}}]
    assert RES["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    # CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key.
    assert RES["AlarmTopic"]["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"
    sub = RES["AlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail" and sub["Properties"]["Protocol"] == "email"
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert PARAMS["AlarmEmail"]["Default"] == ""
    assert T["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert "AlarmTopicArn" in T["Outputs"]


def t_scaling_parameters() -> None:
    queue = FN["Events"]["Queue"]["Properties"]
    assert queue["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaximumConcurrency"}}
    mc = PARAMS["MaximumConcurrency"]
    assert (mc["MinValue"], mc["MaxValue"]) == (2, 1000) and 2 <= mc["Default"] <= 1000
    assert FN["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]}
    # A fresh account has 10 concurrent executions and cannot reserve any: none by default.
    assert PARAMS["ReservedConcurrency"]["Default"] == ""
    # 0 would stop the function altogether.
    pattern = re.compile(PARAMS["ReservedConcurrency"]["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("25") and not pattern.fullmatch("0")


def t_batching_makes_large_objects_and_the_visibility_timeout_covers_it() -> None:
    queue = FN["Events"]["Queue"]["Properties"]
    assert queue["BatchSize"] == {"Ref": "BatchSize"}
    assert queue["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchingWindowSeconds"}
    assert queue["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert PARAMS["BatchSize"]["Default"] == 10000 and PARAMS["BatchSize"]["MaxValue"] == 10000
    window = PARAMS["BatchingWindowSeconds"]
    assert 60 <= window["Default"] <= window["MaxValue"] == 300
    # Lambda refuses BatchSize > 10 without a window: the parameter cannot be 0.
    assert window["MinValue"] >= 1
    visibility = RES["EventsQueue"]["Properties"]["VisibilityTimeout"]
    # Lambda's guidance: six times the function timeout, plus the batching window.
    assert visibility >= 6 * FN["Timeout"] + window["MaxValue"], visibility


def t_log_level_comes_from_the_platform() -> None:
    logging = FN["LoggingConfig"]
    assert logging["LogFormat"] == "JSON" and logging["ApplicationLogLevel"] == "INFO"
    assert "RUST_LOG" not in ENV


def t_classic_replay_is_granted_only_when_a_classic_bucket_is_named() -> None:
    assert PARAMS["ClassicBucket"]["Default"] == ""
    reads = [s for s in statements() if s.get("Sid") == "ReadClassicLogs"]
    assert len(reads) == 1 and reads[0]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"], reads
    assert "${ClassicBucket}/*" in str(reads[0]["Resource"]), reads
    # The statement sits behind the condition: nothing extra without the parameter.
    guarded = [st for policy in FN["Policies"] for st in policy.get("Statement", [])
               if isinstance(st, dict) and "Fn::If" in st and st["Fn::If"][0] == "HasClassicBucket"]
    assert len(guarded) == 3, "the Classic reads and listing and the notification queue, nothing else"
    listing = [s for s in statements() if s.get("Sid") == "ListClassicLogs"]
    assert listing and listing[0]["Action"] == "s3:ListBucket", listing
    receive = [s for s in statements() if s.get("Sid") == "ReceiveClassicNotifications"]
    assert receive and receive[0]["Resource"] == {"Fn::GetAtt": ["ClassicQueue", "Arn"]}, receive
    role = RES["BatchOperationsRole"]
    assert role["Condition"] == "HasClassicBucket"
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    actions = [st["Action"] for p in role["Properties"]["Policies"] for st in p["PolicyDocument"]["Statement"]]
    assert "lambda:InvokeFunction" in actions and "s3:PutObject" in actions, actions
    invoke = [st for p in role["Properties"]["Policies"] for st in p["PolicyDocument"]["Statement"]
              if st["Action"] == "lambda:InvokeFunction"][0]
    assert invoke["Resource"] == {"Fn::GetAtt": ["SyncFunction", "Arn"]}, "this function only"
    assert T["Outputs"]["BatchOperationsRoleArn"]["Condition"] == "HasClassicBucket"
    # New Classic objects through S3 notifications: a queue only S3, from that bucket and this
    # account, may send to; one object per invocation; failures reported per message.
    for name in ("ClassicQueue", "ClassicQueuePolicy", "ClassicNotifications"):
        assert RES[name]["Condition"] == "HasClassicBucket", name
    stmt = RES["ClassicQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"} and stmt["Action"] == "sqs:SendMessage"
    assert "${ClassicBucket}" in str(stmt["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "aws:SourceAccount" in stmt["Condition"]["StringEquals"]
    esm = RES["ClassicNotifications"]["Properties"]
    assert esm["BatchSize"] == 1 and esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["EventSourceArn"] == {"Fn::GetAtt": ["ClassicQueue", "Arn"]}
    assert RES["ClassicQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]}, "the DLQ alarm covers it"
    assert RES["ClassicQueue"]["Properties"]["VisibilityTimeout"] >= 6 * FN["Timeout"]


TESTS: list[tuple[str, Callable[[], None]]] = [
    (name, fn) for name, fn in sorted(globals().items()) if name.startswith("t_") and callable(fn)
]


def main() -> int:
    failed = 0
    for name, fn in TESTS:
        try:
            fn()
            print(f"ok   {name}")
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}: {e}")
    print(f"{len(TESTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
