"""Synthetic stacks of any size, made of replicas of the real program's recorded resources.

Replica ``k`` of the program gets unique URNs and names (``<name>-r<k>``), its
references (provider, parent, dependencies) pointed at its own replicas, and
every physical name in its inputs and outputs re-prefixed (``enclave-dublin``
becomes ``enclave-dublin-r<k>``), so the copies are distinct sites' worth of
buckets, keys, roles and policies with the real program's mix of types. A
stack of ``n`` resources is whole replicas plus the first part of one more.

``workload=True`` adds to each replica what a data platform runs in the site
(a function in the VPC with an environment, a queue and its policy, a table,
a log group, a state machine definition, an ECS task definition, a Glue job,
an event rule and target, an inventory), so the perimeter scans see the JSON
documents, URLs, ARNs and buckets real programs carry, not only the enclave's own.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from enclave.harness import RecordedResource

if TYPE_CHECKING:
    from enclave.harness import ProgramRun


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def replica(resources: list[RecordedResource], k: int, name_prefix: str) -> list[RecordedResource]:
    """Copy ``k`` of ``resources`` (``k == 0``: the resources themselves)."""
    if k == 0:
        return list(resources)
    suffix = f"-r{k}"
    urns = {r.urn for r in resources}

    def urn(u: str) -> str:
        return u + suffix if u in urns else u

    def provider(ref: str) -> str:
        if not ref:
            return ref
        prov_urn, _, prov_id = ref.rpartition("::")
        return f"{urn(prov_urn)}::{prov_id}{suffix}"

    new_prefix = name_prefix + suffix
    return [
        replace(
            r,
            urn=urn(r.urn),
            name=r.name + suffix,
            inputs=_rename(r.inputs, name_prefix, new_prefix),
            redacted_inputs=_rename(r.redacted_inputs, name_prefix, new_prefix),
            provider=provider(r.provider),
            parent=urn(r.parent),
            dependencies=[urn(u) for u in r.dependencies],
            property_dependencies={k: [urn(u) for u in v] for k, v in r.property_dependencies.items()},
            id=_rename(r.id, name_prefix, new_prefix),
            outputs=_rename(r.outputs, name_prefix, new_prefix),
        )
        for r in resources
    ]


def workload(base: ProgramRun, name_prefix: str) -> list[RecordedResource]:
    """A data platform's resources in the site of ``base``: what an ordinary compliant program adds."""

    def first(type_: str, suffix: str = "") -> RecordedResource:
        return next(r for r in base.resources if r.type == type_ and r.name.endswith(suffix))

    data = first("pulumi:providers:aws", "-data")
    region, account = data.inputs["region"], json.loads(data.inputs["allowedAccountIds"])[0]
    key_arn = first("aws:kms/key:Key").outputs["arn"]
    role_arn = first("aws:iam/role:Role", "-workload").outputs["arn"]
    subnets = [r.id for r in base.resources if r.type == "aws:ec2/subnet:Subnet"]
    group = first("aws:ec2/securityGroup:SecurityGroup", "-workload-sg").id
    vpce = first("aws:ec2/vpcEndpoint:VpcEndpoint", "-s3-endpoint").id
    buckets = [r.inputs["bucket"] for r in base.resources if r.type == "aws:s3/bucket:Bucket"]
    prefix, provider = name_prefix, f"{data.urn}::{data.id}"
    stack, project = data.urn.split("::")[0].split(":")[-1], data.urn.split("::")[1]
    queue_arn = f"arn:aws:sqs:{region}:{account}:{prefix}-jobs"
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{prefix}-records"
    function_arn = f"arn:aws:lambda:{region}:{account}:function:{prefix}-worker"

    def record(type_: str, name: str, inputs: dict[str, Any]) -> RecordedResource:
        name = f"{prefix}-{name}"
        arn = inputs.get("arn") or f"arn:aws:{type_.split(':')[1].split('/')[0]}:{region}:{account}:{name}"
        return RecordedResource(
            urn=f"urn:pulumi:{stack}::{project}::{type_}::{name}", type=type_, name=name, custom=True,
            inputs=inputs, redacted_inputs=inputs, provider=provider, parent="", protect=True,
            retain_on_delete=False, delete_before_replace=False, dependencies=[], property_dependencies={},
            ignore_changes=[], replace_on_changes=[], additional_secret_outputs=[], id=name,
            outputs={**inputs, "id": name, "arn": arn},
        )  # fmt: skip

    confined = {"StringEquals": {"aws:PrincipalAccount": account, "aws:SourceVpce": vpce}}
    states = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Next": "Save",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
            },
            "Save": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "End": True,
                "Parameters": {"TableName": f"{prefix}-records", "Item": {"id": {"S.$": "$.id"}}},
            },
        },
    }
    containers = [
        {
            "name": "app",
            "image": f"{account}.dkr.ecr.{region}.amazonaws.com/{prefix}-app:1.4.2",
            "environment": [
                {"name": "QUEUE_URL", "value": f"https://sqs.{region}.amazonaws.com/{account}/{prefix}-jobs"},
                {"name": "BUCKET", "value": buckets[-1]},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": f"/{prefix}/app",
                    "awslogs-region": region,
                    "awslogs-stream-prefix": "app",
                },
            },
        }
    ]
    return [
        record("aws:sqs/queue:Queue", "jobs", {"name": f"{prefix}-jobs", "kmsMasterKeyId": key_arn, "arn": queue_arn}),
        record("aws:sqs/queuePolicy:QueuePolicy", "jobs-policy", {"queueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{prefix}-jobs",
               "policy": json.dumps({"Version": "2012-10-17", "Statement": [
                   {"Sid": "SiteOnly", "Effect": "Allow", "Principal": "*", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
                    "Resource": queue_arn, "Condition": confined},
                   {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})}),
        record("aws:dynamodb/table:Table", "records", {"name": f"{prefix}-records", "hashKey": "id", "arn": table_arn,
               "attributes": [{"name": "id", "type": "S"}], "deletionProtectionEnabled": True,
               "serverSideEncryption": {"enabled": True, "kmsKeyArn": key_arn}}),
        record("aws:cloudwatch/logGroup:LogGroup", "app-logs", {"name": f"/{prefix}/app", "kmsKeyId": key_arn, "retentionInDays": 365}),
        record("aws:lambda/function:Function", "worker", {"role": role_arn, "runtime": "python3.12", "handler": "index.handler",
               "arn": function_arn, "vpcConfig": {"subnetIds": subnets, "securityGroupIds": [group]},
               "environment": {"variables": {"QUEUE_ARN": queue_arn, "TABLE": f"{prefix}-records",
                                             "SQS_ENDPOINT": f"https://sqs.{region}.amazonaws.com", "REGION": region}}}),
        record("aws:iam/rolePolicy:RolePolicy", "worker-access", {"role": role_arn.rsplit("/", 1)[-1], "policy": json.dumps(
               {"Version": "2012-10-17", "Statement": [
                   {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": queue_arn},
                   {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": table_arn},
                   {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{buckets[-1]}/*"}]})}),
        record("aws:sfn/stateMachine:StateMachine", "pipeline", {"roleArn": role_arn, "definition": json.dumps(states)}),
        record("aws:ecs/taskDefinition:TaskDefinition", "app", {"family": f"{prefix}-app", "networkMode": "awsvpc",
               "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512", "executionRoleArn": role_arn,
               "containerDefinitions": json.dumps(containers)}),
        record("aws:glue/connection:Connection", "network", {"name": f"{prefix}-network", "connectionType": "NETWORK",
               "physicalConnectionRequirements": {"subnetId": subnets[0], "securityGroupIdLists": [group]}}),
        record("aws:glue/job:Job", "etl", {"roleArn": role_arn, "connections": [f"{prefix}-network"],
               "command": {"scriptLocation": f"s3://{buckets[-1]}/scripts/etl.py", "pythonVersion": "3"},
               "defaultArguments": {"--TempDir": f"s3://{buckets[-1]}/tmp/", "--job-language": "python"}}),
        record("aws:cloudwatch/eventRule:EventRule", "nightly", {"scheduleExpression": "cron(0 2 * * ? *)"}),
        record("aws:cloudwatch/eventTarget:EventTarget", "nightly-target", {"rule": f"{prefix}-nightly", "arn": queue_arn}),
        record("aws:s3/inventory:Inventory", "inventory", {"bucket": buckets[-1], "name": "weekly", "includedObjectVersions": "Current",
               "schedule": {"frequency": "Weekly"}, "destination": {"bucket": {"format": "Parquet",
               "bucketArn": f"arn:aws:s3:::{buckets[0]}", "accountId": account}}}),
    ]  # fmt: skip


def synthetic_run(base: ProgramRun, size: int, name_prefix: str, workload_too: bool = False) -> ProgramRun:
    """A ``ProgramRun`` of exactly ``size`` resources replicated from ``base`` (and its workload, if asked)."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    template = base.resources + (workload(base, name_prefix) if workload_too else [])
    resources: list[RecordedResource] = []
    k = 0
    while len(resources) < size:
        resources.extend(replica(template, k, name_prefix)[: size - len(resources)])
        k += 1
    return replace(base, resources=resources)
