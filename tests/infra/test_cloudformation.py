"""The CloudFormation templates: cfn-lint clean, and infra/aws/chartcoder.yaml deployed to moto.

moto's CloudFormation creates the buckets (with their encryption and tags), the queues (with the
redrive policy and SSE attributes), the role with its inline and conditional policies, and the
instance profile. It skips AWS::S3::BucketPolicy and AWS::SQS::QueuePolicy, and of
AWS::S3::Bucket applies neither the notification, the public access block, versioning,
ownership controls nor lifecycle: those are read from the template itself (parsed with cfn-lint's
decoder, tags as Fn:: mappings), and the notification is then put through the S3 API to show
that what the template declares delivers landed charts, and only those, to the queue.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from cfnlint.api import lint, lint_file
from cfnlint.decode.cfn_yaml import loads

from tests.servers import moto_server

ROOT = Path(__file__).resolve().parents[2]
STACK_TEMPLATE = ROOT / "infra" / "aws" / "chartcoder.yaml"
EVENTBRIDGE_TEMPLATE = ROOT / "infra" / "prefect-cloud" / "eventbridge.yaml"

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Two deployments: the defaults (SSE-S3, SQS-managed SSE), and a customer-managed KMS key with
# every optional branch switched on.
STACKS: dict[str, dict[str, str]] = {
    "chartcoder-sse": {},
    "chartcoder-kms": {
        "KmsKeyArn": KMS_KEY,
        "EnableEventBridge": "true",
        "ResultsExpirationDays": "365",
        "WorkerServicePrincipal": "ecs-tasks.amazonaws.com",
    },
}


def load_template(path: Path) -> dict[str, Any]:
    """A template as CloudFormation reads it: short tags (!Sub, !Ref...) become Fn:: mappings."""
    return loads(path.read_text(encoding="utf-8"), str(path))


def resolve(node: Any, refs: dict[str, str]) -> Any:
    """Resolve Ref, Fn::GetAtt and Fn::Sub in a template fragment, from `refs` only.

    `refs` maps parameter and pseudo-parameter names, and "Resource.Attribute" for GetAtt.
    """
    if isinstance(node, list):
        return [resolve(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return refs[node["Ref"]]
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        return refs[target if isinstance(target, str) else ".".join(target)]
    if set(node) == {"Fn::Sub"}:
        text, extra = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        names = {**refs, **{key: resolve(value, refs) for key, value in extra.items()}}
        for name, value in names.items():
            text = text.replace("${" + name + "}", str(value))
        assert "${" not in text, f"unresolved name in {text!r}"
        return text
    return {key: resolve(value, refs) for key, value in node.items()}


def references(node: Any) -> set[str]:
    """Names a fragment refers to through Ref, Fn::GetAtt or ${...} in Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(references(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = set().union(*(references(value) for value in node.values()))
    if "Ref" in node:
        found.add(node["Ref"])
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        found.add(target.split(".")[0] if isinstance(target, str) else target[0])
    if "Fn::Sub" in node:
        text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
        found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
    return found


# --- cfn-lint


@pytest.mark.parametrize(
    "template", [STACK_TEMPLATE, EVENTBRIDGE_TEMPLATE], ids=["chartcoder", "eventbridge"]
)
def test_template_has_no_cfn_lint_errors_or_warnings(template: Path) -> None:
    matches = lint_file(template)  # cfn-lint's defaults: errors and warnings, us-east-1
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_cfn_lint_catches_a_broken_template() -> None:
    text = STACK_TEMPLATE.read_text(encoding="utf-8")
    broken = text.replace('SSEAlgorithm: !If [UseKms, "aws:kms", AES256]', "SSEAlgorithm: AES512")
    assert broken != text
    assert "E3030" in {match.rule.id for match in lint(broken)}  # not an allowed value


# --- the template itself: what moto does not apply


def test_buckets_block_public_access_and_refuse_plain_http() -> None:
    resources = load_template(STACK_TEMPLATE)["Resources"]
    for bucket, policy in (
        ("LandingBucket", "LandingBucketPolicy"),
        ("ResultsBucket", "ResultsBucketPolicy"),
    ):
        props = resources[bucket]["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert resources[bucket]["DeletionPolicy"] == "Retain"
        statement = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert statement == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [
                    {"Fn::GetAtt": [bucket, "Arn"]},
                    {"Fn::Sub": "${" + bucket + ".Arn}/*"},
                ],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]


def test_lifecycle_rules_are_parameterised() -> None:
    resources = load_template(STACK_TEMPLATE)["Resources"]
    landing = resources["LandingBucket"]["Properties"]
    assert landing["VersioningConfiguration"] == {"Status": "Enabled"}
    expire, tidy = landing["LifecycleConfiguration"]["Rules"]
    assert expire == {
        "Id": "expire-landed-charts",
        "Status": "Enabled",
        "Prefix": {"Ref": "LandingPrefix"},
        "ExpirationInDays": {"Ref": "LandingExpirationDays"},
    }
    assert tidy["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "LandingNoncurrentVersionDays"}
    }
    abort = {"DaysAfterInitiation": {"Ref": "AbortIncompleteUploadDays"}}
    assert tidy["AbortIncompleteMultipartUpload"] == abort
    [results] = resources["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert results["Transitions"] == [
        {
            "StorageClass": {"Ref": "ResultsTransitionStorageClass"},
            "TransitionInDays": {"Ref": "ResultsTransitionDays"},
        }
    ]
    assert results["ExpirationInDays"] == {
        "Fn::If": ["ExpireResults", {"Ref": "ResultsExpirationDays"}, {"Ref": "AWS::NoValue"}]
    }
    assert results["AbortIncompleteMultipartUpload"] == abort


def test_landing_notifies_the_queue_without_a_dependency_cycle() -> None:
    template = load_template(STACK_TEMPLATE)
    assert template["Parameters"]["LandingPrefix"]["Default"] == "incoming/"
    resources = template["Resources"]
    landing = resources["LandingBucket"]
    [notification] = landing["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification == {
        "Event": "s3:ObjectCreated:*",
        "Queue": {"Fn::GetAtt": ["ChartQueue", "Arn"]},
        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": {"Ref": "LandingPrefix"}}]}},
    }
    # S3 tests the destination when the notification is set: the queue policy must exist first,
    # and it names the bucket by the same constructed name, never by Ref/GetAtt (that would cycle).
    assert landing["DependsOn"] == "ChartQueuePolicy"
    name = landing["Properties"]["BucketName"]["Fn::Sub"]
    assert name == "${AWS::StackName}-landing-${AWS::AccountId}"
    allow, deny = resources["ChartQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + name}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }
    assert "LandingBucket" not in references(resources["ChartQueuePolicy"])
    assert (deny["Effect"], deny["Condition"]) == (
        "Deny",
        {"Bool": {"aws:SecureTransport": "false"}},
    )


# --- deployed to a moto server


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


@pytest.fixture(scope="module")
def stacks(aws: Any) -> dict[str, dict[str, str]]:
    """Each of STACKS created and complete; its outputs by stack name."""
    cloudformation = aws("cloudformation")
    body = STACK_TEMPLATE.read_text(encoding="utf-8")
    for name, parameters in STACKS.items():
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
    waiter = cloudformation.get_waiter("stack_create_complete")
    outputs = {}
    for name in STACKS:
        waiter.wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        outputs[name] = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return outputs


def test_outputs_name_the_buckets_urls_and_queues(stacks: dict[str, dict[str, str]]) -> None:
    landing, results = f"chartcoder-sse-landing-{ACCOUNT}", f"chartcoder-sse-results-{ACCOUNT}"
    outputs = stacks["chartcoder-sse"]
    assert outputs["LandingBucketName"] == landing
    assert outputs["ResultsBucketName"] == results
    assert outputs["LandingUrl"] == f"s3://{landing}/incoming/"
    assert outputs["ResultsUrl"] == f"s3://{results}/"
    assert outputs["QueueUrl"].endswith(f"/{ACCOUNT}/chartcoder-sse-charts")
    assert outputs["DeadLetterQueueUrl"].endswith(f"/{ACCOUNT}/chartcoder-sse-charts-dlq")
    assert outputs["WorkerRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/chartcoder-sse-")


def test_buckets_are_created_encrypted(aws: Any, stacks: dict[str, dict[str, str]]) -> None:
    s3 = aws("s3")
    expected = {
        "chartcoder-sse": {"SSEAlgorithm": "AES256"},
        "chartcoder-kms": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY},
    }
    for stack, outputs in stacks.items():
        for bucket in (outputs["LandingBucketName"], outputs["ResultsBucketName"]):
            [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
                "Rules"
            ]
            assert rule["ApplyServerSideEncryptionByDefault"] == expected[stack]
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
            assert tags == {"app": "chartcoder", "data-classification": "phi"}


def test_queue_redrives_to_the_dead_letter_queue(
    aws: Any, stacks: dict[str, dict[str, str]]
) -> None:
    sqs = aws("sqs")
    for stack in STACKS:
        queue = sqs.get_queue_url(QueueName=f"{stack}-charts")["QueueUrl"]
        dlq = sqs.get_queue_url(QueueName=f"{stack}-charts-dlq")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])[
            "Attributes"
        ]
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": dlq_attributes["QueueArn"],
            "maxReceiveCount": 5,
        }
        assert attributes["QueueArn"] == stacks[stack]["QueueArn"]
        assert (attributes["VisibilityTimeout"], attributes["ReceiveMessageWaitTimeSeconds"]) == (
            "120",
            "20",
        )
        assert int(dlq_attributes["MessageRetentionPeriod"]) > int(
            attributes["MessageRetentionPeriod"]
        )
        for queue_attributes in (attributes, dlq_attributes):
            if stack == "chartcoder-kms":
                assert queue_attributes["KmsMasterKeyId"] == KMS_KEY
            else:
                assert queue_attributes["SqsManagedSseEnabled"] == "true"
                assert "KmsMasterKeyId" not in queue_attributes


def policy_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies (the role's own and AWS::IAM::Policy)."""
    statements = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            # moto keeps a CloudFormation policy as the dict it parsed and returns its Python repr
            document = ast.literal_eval(document)
        statements += document["Statement"]
    return statements


def test_worker_role_is_least_privilege(aws: Any, stacks: dict[str, dict[str, str]]) -> None:
    iam = aws("iam")
    for stack, outputs in stacks.items():
        role_name = outputs["WorkerRoleArn"].rsplit("/", 1)[1]
        [trust] = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        principal = STACKS[stack].get("WorkerServicePrincipal", "ec2.amazonaws.com")
        assert trust == {
            "Effect": "Allow",
            "Principal": {"Service": principal},
            "Action": "sts:AssumeRole",
        }
        landing = f"arn:aws:s3:::{outputs['LandingBucketName']}"
        results = f"arn:aws:s3:::{outputs['ResultsBucketName']}"
        queue = outputs["QueueArn"]
        expected = {
            "ListLandingPrefix": ({"s3:ListBucket"}, landing),
            "ReadLandedCharts": ({"s3:GetObject"}, f"{landing}/incoming/*"),
            "ListResults": ({"s3:ListBucket"}, results),
            "ReadWriteResults": (
                {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
                f"{results}/*",
            ),
            "ConsumeChartNotifications": (
                {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"},
                queue,
            ),
            "ParkMalformedNotifications": ({"sqs:SendMessage"}, f"{queue}-dlq"),
        }
        if stack == "chartcoder-kms":
            expected["UseChartcoderKey"] = ({"kms:Decrypt", "kms:GenerateDataKey"}, KMS_KEY)
        statements = policy_statements(iam, role_name)
        grants = {}
        for statement in statements:
            assert statement["Effect"] == "Allow"
            actions, resource = statement["Action"], statement["Resource"]
            actions = {actions} if isinstance(actions, str) else set(actions)
            assert isinstance(resource, str), "one named resource per statement"
            assert not any("*" in action for action in actions), actions
            # "*" only as the last character, below a named bucket (and prefix): never a bare
            # "*", nor a wildcard account, region, bucket, queue or key.
            assert "*" not in resource or (resource.endswith("/*") and "*" not in resource[:-1])
            grants[statement["Sid"]] = (actions, resource)
        assert grants == expected
        conditions = {s["Sid"]: s.get("Condition") for s in statements}
        assert conditions["ListLandingPrefix"] == {"StringLike": {"s3:prefix": "incoming/*"}}
        [profile] = iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"]
        assert profile["InstanceProfileName"] == outputs["WorkerInstanceProfileName"]


def test_the_declared_notification_delivers_only_landed_charts(
    aws: Any, stacks: dict[str, dict[str, str]]
) -> None:
    """moto's CloudFormation skips NotificationConfiguration: put the template's own through the
    S3 API, then only keys under the landing prefix reach the queue."""
    outputs = stacks["chartcoder-sse"]
    declared = load_template(STACK_TEMPLATE)["Resources"]["LandingBucket"]["Properties"]
    refs = {"LandingPrefix": "incoming/", "ChartQueue.Arn": outputs["QueueArn"]}
    [queue_config] = resolve(declared["NotificationConfiguration"]["QueueConfigurations"], refs)
    s3, sqs = aws("s3"), aws("sqs")
    bucket = outputs["LandingBucketName"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_config["Queue"],
                    "Events": [queue_config["Event"]],
                    "Filter": {"Key": {"FilterRules": queue_config["Filter"]["S3Key"]["Rules"]}},
                }
            ]
        },
    )
    for key in ("incoming/batch-1/chart-1.txt", "elsewhere/chart-2.txt", "incoming/batch-1/_READY"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    queue = sqs.get_queue_url(QueueName="chartcoder-sse-charts")["QueueUrl"]
    keys = []
    while messages := sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages"):
        for message in messages:
            body = json.loads(message["Body"])
            # the first message is an s3:TestEvent; keys arrive URL-encoded
            keys += [unquote_plus(r["s3"]["object"]["key"]) for r in body.get("Records", [])]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(keys) == ["incoming/batch-1/_READY", "incoming/batch-1/chart-1.txt"]
