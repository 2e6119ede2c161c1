"""no-cross-region-replication as the region perimeter: other regions found wherever they are written, and what is provably in-region passes.

Each family starts from a compliant fixture; each failing case changes one thing.
"""

from __future__ import annotations

import base64
import json

import pytest
from policy_support import (
    BUCKET_NAME,
    DATA,
    EAST_PROVIDER,
    FOREIGN_PROVIDER,
    KEY_ARN,
    OPERATOR,
    REGION,
    UNKNOWN,
    allow,
    assert_sdk_inputs,
    bucket,
    check_stack,
    doc,
    messages_on,
    res,
    site,
)
from residency_rules import replication

R = replication.POLICY
ROLE = f"arn:aws:iam::{DATA}:role/enclave-dublin-workload"


def on_site(type_: str, props: dict, *extra, **kw) -> list[str]:
    assert_sdk_inputs(type_, props)
    target = res(type_, props, name="target", **kw)
    return messages_on(R, site(*extra, target), target)


# --------------------------------------------------------------------------- region tokens wherever they appear


@pytest.mark.parametrize(
    "type_,props",
    [
        (
            "aws:lambda/function:Function",
            {"role": ROLE, "environment": {"variables": {"QUEUE": f"arn:aws:sqs:{REGION}:{DATA}:q"}}},
        ),
        ("aws:ec2/subnet:Subnet", {"vpcId": "vpc-1", "cidrBlock": "10.20.0.0/18", "availabilityZone": f"{REGION}b"}),
        (
            "aws:sfn/stateMachine:StateMachine",
            {
                "roleArn": ROLE,
                "definition": json.dumps(
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {"Type": "Task", "Resource": f"arn:aws:lambda:{REGION}:{DATA}:function:f", "End": True}
                        },
                    }
                ),
            },
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            {
                "role": "r",
                "policy": doc(
                    {
                        "Effect": "Deny",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGION}},
                    },
                    {
                        "Effect": "Deny",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::*",
                        "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-central-1"]}},
                    },
                ),
            },
        ),
        (
            "aws:bedrock/agentAgent:AgentAgent",
            {
                "agentName": "a",
                "agentResourceRoleArn": ROLE,
                "foundationModel": "anthropic.claude-3-haiku-20240307-v1:0",
            },
        ),
        (
            "aws:bedrock/agentAgent:AgentAgent",
            {
                "agentName": "a",
                "agentResourceRoleArn": ROLE,
                "foundationModel": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-text-express-v1",
            },
        ),
        (
            "aws:cloudwatch/dashboard:Dashboard",
            {
                "dashboardName": "d",
                "dashboardBody": json.dumps(
                    {
                        "widgets": [
                            {
                                "type": "metric",
                                "properties": {"region": REGION, "metrics": [["AWS/SQS", "NumberOfMessagesSent"]]},
                            }
                        ]
                    }
                ),
            },
        ),
    ],
)
def test_the_sites_region_passes(type_, props):
    assert on_site(type_, props) == []


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        (
            "aws:lambda/function:Function",
            {"role": ROLE, "environment": {"variables": {"QUEUE": f"arn:aws:sqs:us-east-1:{DATA}:q"}}},
            "us-east-1",
        ),
        (
            "aws:lambda/function:Function",
            {"role": ROLE, "environment": {"variables": {"ENDPOINT": "https://dynamodb.us-west-2.amazonaws.com"}}},
            "us-west-2",
        ),
        (
            "aws:lambda/function:Function",
            {"role": ROLE, "environment": {"variables": {"AWS_REGION_OVERRIDE": "ap-south-1"}}},
            "ap-south-1",
        ),
        (
            "aws:ec2/subnet:Subnet",
            {"vpcId": "vpc-1", "cidrBlock": "10.20.0.0/18", "availabilityZone": "eu-central-1a"},
            "eu-central-1",
        ),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {
                "userData": base64.b64encode(
                    f"#!/bin/sh\naws s3 sync /data s3://{BUCKET_NAME}/copy --region us-east-1\n".encode()
                ).decode()
            },
            "us-east-1",
        ),
        (
            "aws:sfn/stateMachine:StateMachine",
            {
                "roleArn": ROLE,
                "definition": json.dumps(
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {
                                "Type": "Task",
                                "Resource": f"arn:aws:lambda:eu-central-1:{DATA}:function:f",
                                "End": True,
                            }
                        },
                    }
                ),
            },
            "eu-central-1",
        ),
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {
                "family": "f",
                "containerDefinitions": json.dumps(
                    [
                        {
                            "name": "app",
                            "image": "app",
                            "logConfiguration": {
                                "logDriver": "awslogs",
                                "options": {"awslogs-group": "g", "awslogs-region": "us-east-1"},
                            },
                        }
                    ]
                ),
            },
            "us-east-1",
        ),
        (
            "aws:iam/rolePolicy:RolePolicy",
            {
                "role": "r",
                "policy": doc(
                    allow(
                        Action="s3:PutObject",
                        Resource="arn:aws:s3:::*",
                        Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
                    )
                ),
            },
            "us-east-1",
        ),
        (
            "aws:kms/key:Key",
            {"policy": doc(allow(Principal={"Service": "logs.us-east-1.amazonaws.com"}, Action="kms:*", Resource="*"))},
            "us-east-1",
        ),
        (
            "aws:glue/job:Job",
            {
                "roleArn": ROLE,
                "command": {"scriptLocation": f"s3://{BUCKET_NAME}/j.py"},
                "defaultArguments": {"--extra": "--region=sa-east-1"},
            },
            "sa-east-1",
        ),
        (
            "aws:sagemaker/pipeline:Pipeline",
            {
                "pipelineName": "p",
                "roleArn": ROLE,
                "pipelineDefinition": json.dumps(
                    {
                        "Steps": [
                            {"Name": "s", "Arguments": {"ImageUri": f"{DATA}.dkr.ecr.us-west-2.amazonaws.com/img:1"}}
                        ]
                    }
                ),
            },
            "us-west-2",
        ),
        ("aws:dynamodb/table:Table", {"replicas": [{"regionName": "eu-central-1"}]}, "eu-central-1"),
        (
            "aws:cloudwatch/dashboard:Dashboard",
            {
                "dashboardName": "d",
                "dashboardBody": json.dumps({"widgets": [{"type": "metric", "properties": {"region": "us-east-1"}}]}),
            },
            "us-east-1",
        ),
    ],
)
def test_another_region_anywhere_in_an_input_fails(type_, props, expected):
    messages = on_site(type_, props)
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "model",
    [
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "global.anthropic.claude-sonnet-4-20250514-v1:0",
        "us.amazon.nova-pro-v1:0",
        "apac.anthropic.claude-3-5-sonnet-20240620-v1:0",
        f"arn:aws:bedrock:{REGION}:{DATA}:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
    ],
)
def test_cross_region_inference_profiles_fail(model):
    props = {"agentName": "a", "agentResourceRoleArn": ROLE, "foundationModel": model}
    messages = on_site("aws:bedrock/agentAgent:AgentAgent", props)
    assert any("cross-region inference profile" in m for m in messages), messages


def test_an_application_inference_profile_copied_from_a_cross_region_profile_fails():
    source = f"arn:aws:bedrock:{REGION}:{DATA}:inference-profile/global.anthropic.claude-sonnet-4-20250514-v1:0"
    messages = on_site(
        "aws:bedrock/inferenceProfile:InferenceProfile", {"name": "p", "modelSource": {"copyFrom": source}}
    )
    assert any("cross-region inference profile" in m for m in messages), messages
    in_region = f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    assert (
        on_site("aws:bedrock/inferenceProfile:InferenceProfile", {"name": "p", "modelSource": {"copyFrom": in_region}})
        == []
    )


# --------------------------------------------------------------------------- buckets: provably the site's, or fail closed

REPLICA = "enclave-dublin-replica-111111111111"


def replication_config(destination: str = f"arn:aws:s3:::{REPLICA}", key: str | None = KEY_ARN, **dest) -> dict:
    destination_block = {"bucket": destination, "storageClass": "STANDARD", **dest}
    if key is not None:
        destination_block["encryptionConfiguration"] = {"replicaKmsKeyId": key}
    return {
        "bucket": BUCKET_NAME,
        "role": f"arn:aws:iam::{DATA}:role/replication",
        "rules": [
            {
                "id": "r",
                "status": "Enabled",
                "destination": destination_block,
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
            }
        ],
    }


def test_same_region_replication_into_a_bucket_of_the_program_passes():
    assert (
        on_site(
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
            replication_config(),
            bucket(REPLICA, res_name="replica"),
        )
        == []
    )


@pytest.mark.parametrize(
    "props,replica,expected",
    [
        (replication_config(), None, "is not a bucket of this program"),
        (replication_config(), bucket(REPLICA, prov=EAST_PROVIDER, res_name="replica"), "not provably in eu-west-1"),
        (replication_config(), bucket(REPLICA, prov=FOREIGN_PROVIDER, res_name="replica"), "not provably in eu-west-1"),
        (replication_config(key=None), bucket(REPLICA, res_name="replica"), "replica_kms_key_id is not set"),
        (
            replication_config(key=f"arn:aws:kms:{REGION}:{DATA}:key/x"),
            bucket(REPLICA, res_name="replica"),
            "not of the operator",
        ),
        (
            replication_config(key=f"arn:aws:kms:us-east-1:{OPERATOR}:key/x"),
            bucket(REPLICA, res_name="replica"),
            "us-east-1",
        ),
    ],
)
def test_replication_that_cannot_be_proven_in_the_site_fails(props, replica, expected):
    extra = [replica] if replica is not None else []
    messages = on_site("aws:s3/bucketReplicationConfig:BucketReplicationConfig", props, *extra)
    assert any(expected in m for m in messages), messages


def test_replication_to_a_bucket_created_in_the_same_preview_is_resolved_through_its_dependency():
    stack = site()
    replica = bucket(REPLICA, res_name="replica")
    key = next(r for r in stack if r.resource_type == "aws:kms/key:Key")
    props = replication_config(destination=UNKNOWN, key=UNKNOWN)
    ok = res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", props, name="ok", deps={"rules": [replica, key]})
    orphan = res("aws:s3/bucketReplicationConfig:BucketReplicationConfig", props, name="orphan")
    found = check_stack(R, [*stack, replica, ok, orphan])
    assert {u for _m, u in found} == {orphan.urn}, found


INVENTORY_DEST = f"arn:aws:s3:::{REPLICA}"


@pytest.mark.parametrize(
    "type_,props",
    [
        (
            "aws:s3/inventory:Inventory",
            {
                "bucket": BUCKET_NAME,
                "name": "i",
                "includedObjectVersions": "All",
                "schedule": {"frequency": "Weekly"},
                "destination": {"bucket": {"format": "Parquet", "bucketArn": INVENTORY_DEST, "accountId": DATA}},
            },
        ),
        (
            "aws:s3/analyticsConfiguration:AnalyticsConfiguration",
            {
                "bucket": BUCKET_NAME,
                "name": "a",
                "storageClassAnalysis": {
                    "dataExport": {
                        "destination": {"s3BucketDestination": {"bucketArn": INVENTORY_DEST, "bucketAccountId": DATA}}
                    }
                },
            },
        ),
        (
            "aws:s3/bucketLogging:BucketLogging",
            {"bucket": BUCKET_NAME, "targetBucket": REPLICA, "targetPrefix": "logs/"},
        ),
        ("aws:cloudtrail/trail:Trail", {"name": "t", "s3BucketName": REPLICA}),
        (
            "aws:ec2/flowLog:FlowLog",
            {
                "vpcId": "vpc-1",
                "trafficType": "ALL",
                "logDestinationType": "s3",
                "logDestination": f"{INVENTORY_DEST}/flow/",
            },
        ),
        ("aws:route53/resolverQueryLogConfig:ResolverQueryLogConfig", {"name": "q", "destinationArn": INVENTORY_DEST}),
        (
            "aws:athena/workgroup:Workgroup",
            {"name": "w", "configuration": {"resultConfiguration": {"outputLocation": f"s3://{REPLICA}/athena/"}}},
        ),
        ("aws:s3/objectCopy:ObjectCopy", {"bucket": REPLICA, "key": "k", "source": f"{BUCKET_NAME}/k"}),
    ],
)
def test_exports_and_logs_into_a_bucket_of_the_program_in_the_site_pass(type_, props):
    assert on_site(type_, props, bucket(REPLICA, res_name="replica")) == []


@pytest.mark.parametrize(
    "type_,props",
    [
        (
            "aws:s3/inventory:Inventory",
            {
                "bucket": BUCKET_NAME,
                "name": "i",
                "includedObjectVersions": "All",
                "schedule": {"frequency": "Weekly"},
                "destination": {"bucket": {"format": "CSV", "bucketArn": INVENTORY_DEST}},
            },
        ),
        ("aws:cloudtrail/trail:Trail", {"name": "t", "s3BucketName": REPLICA}),
        ("aws:s3/bucketLogging:BucketLogging", {"bucket": BUCKET_NAME, "targetBucket": REPLICA}),
        ("aws:ec2/flowLog:FlowLog", {"vpcId": "vpc-1", "trafficType": "ALL", "logDestination": INVENTORY_DEST}),
        ("aws:s3/objectCopy:ObjectCopy", {"bucket": BUCKET_NAME, "key": "k", "source": f"{REPLICA}/k"}),
    ],
)
def test_exports_and_logs_into_a_bucket_in_another_region_fail(type_, props):
    messages = on_site(type_, props, bucket(REPLICA, prov=EAST_PROVIDER, res_name="replica"))
    assert any("not provably in eu-west-1" in m for m in messages), messages


def test_a_log_destination_unknown_at_preview_needs_a_resource_of_the_site():
    stack = site()
    group = res("aws:cloudwatch/logGroup:LogGroup", {"name": "g"}, name="group")
    east_group = res("aws:cloudwatch/logGroup:LogGroup", {"name": "g"}, name="east-group", prov=EAST_PROVIDER)
    typ = "aws:ec2/flowLog:FlowLog"
    props = {"vpcId": "vpc-1", "trafficType": "ALL", "logDestination": UNKNOWN}
    ok = res(typ, props, name="ok", deps={"logDestination": [group]})
    east = res(typ, props, name="east", deps={"logDestination": [east_group]})
    orphan = res(typ, props, name="orphan")
    found = check_stack(R, [*stack, group, east_group, ok, east, orphan])
    assert {u for _m, u in found} == {east.urn, orphan.urn}, found
