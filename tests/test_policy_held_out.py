"""Cases a held-out tester found: programs written by strangers that moved data out, or compliant ones refused.

Each family starts from a compliant fixture; each failing case changes one thing. They run in-process on
small stacks (``policy_support``), so the whole file takes well under a second.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from policy_support import (
    DATA,
    KEY_ARN,
    OPERATOR,
    OPERATOR_PROVIDER,
    REGION,
    SG_ID,
    SUBNET_ID,
    allow,
    assert_sdk_inputs,
    check_stack,
    doc,
    messages_on,
    res,
    site,
)
from residency_rules import egress, encryption, replication

ROLE = f"arn:aws:iam::{DATA}:role/enclave-dublin-workload"


def function(value: str) -> tuple[str, dict]:
    props = {
        "role": ROLE,
        "runtime": "python3.12",
        "handler": "index.handler",
        "vpcConfig": {"subnetIds": [SUBNET_ID], "securityGroupIds": [SG_ID]},
        "environment": {"variables": {"SINK_CONFIG": value}},
    }
    assert_sdk_inputs("aws:lambda/function:Function", props)
    return "aws:lambda/function:Function", props


def messages(policy, type_: str, props: dict) -> list[str]:
    target = res(type_, props, name="target")
    return messages_on(policy, site(target), target)


# --------------------------------------------------------------------------- encoded text in any input


def b64(text: str, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode()).decode()


OTHER_REGION_CONFIG = json.dumps({"endpoint": "https://s3.us-east-1.amazonaws.com", "retries": 3})
IN_REGION_CONFIG = json.dumps({"endpoint": f"https://s3.{REGION}.amazonaws.com", "retries": 3})


@pytest.mark.parametrize(
    "value",
    [
        b64(IN_REGION_CONFIG),
        urllib.parse.quote(f"https://sqs.{REGION}.amazonaws.com/{DATA}/jobs", safe=""),
        # Binary encoded as base64 (key material, digests) and plain long words decode to no text.
        base64.b64encode(bytes(range(200, 248))).decode(),
        "ReportBatchItemFailuresOnly=",
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
    ],
)
def test_encoded_text_of_the_site_passes(value):
    type_, props = function(value)
    assert messages(replication.POLICY, type_, props) == []
    assert messages(egress.POLICY, type_, props) == []


@pytest.mark.parametrize(
    "value,policy,expected",
    [
        (b64(OTHER_REGION_CONFIG), replication.POLICY, "base64-decoded"),
        (b64(OTHER_REGION_CONFIG), egress.POLICY, "endpoint in us-east-1"),
        (b64("sftp://drop.partner.example/inbox??", urlsafe=True), egress.POLICY, "drop.partner.example"),
        (urllib.parse.quote("https://ingest.partner.example/v1", safe=""), egress.POLICY, "percent-decoded"),
    ],
)
def test_encoded_text_naming_a_way_out_fails(value, policy, expected):
    type_, props = function(value)
    found = messages(policy, type_, props)
    assert any(expected in m for m in found), found


# --------------------------------------------------------------------------- Firehose reading a Kinesis stream

STREAM_ARN = f"arn:aws:kinesis:{REGION}:{DATA}:stream/clicks"
STREAM = res(
    "aws:kinesis/stream:Stream",
    {"encryptionType": "KMS", "kmsKeyId": KEY_ARN, "arn": STREAM_ARN},
    name="stream",
)


def firehose(source_arn: str, deps: list | None = None):
    props = {
        "destination": "extended_s3",
        "kinesisSourceConfiguration": {"kinesisStreamArn": source_arn, "roleArn": ROLE},
        "extendedS3Configuration": {"roleArn": ROLE, "bucketArn": "arn:aws:s3:::b", "kmsKeyArn": KEY_ARN},
    }
    assert_sdk_inputs(encryption.FIREHOSE, props)
    return res(encryption.FIREHOSE, props, name="firehose", deps={"kinesisSourceConfiguration": deps or []})


@pytest.mark.parametrize("source", [firehose(STREAM_ARN), firehose("unknown", deps=[STREAM])], ids=["arn", "dep"])
def test_a_firehose_stream_reading_an_operator_keyed_stream_of_the_stack_passes(source):
    # AWS refuses server-side encryption on a stream-sourced Firehose: the data rests only in the stream.
    assert check_stack(encryption.POLICY, [STREAM, source]) == []


def test_a_firehose_stream_reading_a_stream_the_stack_does_not_create_fails():
    found = check_stack(encryption.POLICY, [STREAM, firehose(f"arn:aws:kinesis:{REGION}:{DATA}:stream/other")])
    assert len(found) == 1 and "not a Kinesis stream of this stack" in found[0][0], found


def test_a_direct_put_firehose_stream_still_needs_the_operator_key():
    props = {"destination": "extended_s3", "extendedS3Configuration": {"roleArn": ROLE, "bucketArn": "arn:aws:s3:::b"}}
    found = check_stack(encryption.POLICY, [res(encryption.FIREHOSE, props, name="firehose")])
    assert len(found) == 1 and "AWS-owned key" in found[0][0], found


# --------------------------------------------------------------------------- who controls an operator key

OPERATOR_ROOT = f"arn:aws:iam::{OPERATOR}:root"
DATA_ROOT = f"arn:aws:iam::{DATA}:root"
USE = allow(
    Sid="DataUsesKeyViaS3",
    Principal={"AWS": DATA_ROOT},
    Action=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
    Resource="*",
    Condition={"StringEquals": {"kms:CallerAccount": DATA, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
)
ADMIN = allow(Sid="OperatorAdministers", Principal={"AWS": OPERATOR_ROOT}, Action="kms:*", Resource="*")
SERVICE_GRANTS = allow(
    Sid="ServicesAttachResources",
    Principal={"AWS": DATA_ROOT},
    Action="kms:CreateGrant",
    Resource="*",
    Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
)


def operator_key(*statements: dict, type_: str = encryption.KMS_KEY, **props):
    if type_ == encryption.KMS_KEY:
        props = {"multiRegion": False, "deletionWindowInDays": 30, "policy": doc(*statements), **props}
    else:
        props = {"keyId": KEY_ARN, "policy": doc(*statements), **props}
    assert_sdk_inputs(type_, props)
    return res(type_, props, name="key", prov=OPERATOR_PROVIDER)


@pytest.mark.parametrize("type_", [encryption.KMS_KEY, encryption.KEY_POLICY])
def test_an_operator_key_whose_policy_leaves_control_to_the_operator_passes(type_):
    assert check_stack(encryption.POLICY, [operator_key(ADMIN, USE, SERVICE_GRANTS, type_=type_)]) == []


@pytest.mark.parametrize(
    "change,expected",
    [
        ({**USE, "Action": ["kms:Decrypt", "kms:PutKeyPolicy"]}, "kms:PutKeyPolicy"),
        ({**USE, "Action": "kms:*"}, "kms:ScheduleKeyDeletion"),
        ({**USE, "Action": "kms:Enable*"}, "kms:EnableKey"),
        ({k: v for k, v in USE.items() if k != "Action"} | {"NotAction": "kms:Decrypt"}, "kms:CreateGrant"),
        ({**SERVICE_GRANTS, "Condition": {}}, "kms:CreateGrant"),
        ({**ADMIN, "Principal": "*"}, "lets *"),
    ],
    ids=["put-policy", "star", "enable", "not-action", "grants", "anyone"],
)
@pytest.mark.parametrize("type_", [encryption.KMS_KEY, encryption.KEY_POLICY])
def test_an_operator_key_whose_policy_hands_control_to_another_party_fails(type_, change, expected):
    found = check_stack(encryption.POLICY, [operator_key(ADMIN, change, type_=type_)])
    assert len(found) == 1 and expected in found[0][0] and "holds the key" in found[0][0], found


def test_bypassing_the_lockout_check_on_an_operator_key_fails():
    found = check_stack(encryption.POLICY, [operator_key(ADMIN, USE, bypassPolicyLockoutSafetyCheck=True)])
    assert len(found) == 1 and "bypassPolicyLockoutSafetyCheck" in found[0][0], found
