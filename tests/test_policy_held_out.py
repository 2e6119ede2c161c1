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
    check,
    check_stack,
    doc,
    messages_on,
    res,
    site,
)
from residency_rules import egress, encryption, protection, replication

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


# --------------------------------------------------------------------------- a setting AWS keeps once, set twice

POLICY_DOC = doc(allow(Principal={"AWS": DATA_ROOT}, Action="s3:GetObject", Resource="arn:aws:s3:::b/*"))
SETTINGS = {
    "aws:s3/bucketPolicy:BucketPolicy": {"bucket": "b", "policy": POLICY_DOC},
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {
        "bucket": "b",
        **{
            flag: True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        },
    },
    "aws:s3/bucketVersioning:BucketVersioning": {"bucket": "b", "versioningConfiguration": {"status": "Enabled"}},
    "aws:s3/bucketLogging:BucketLogging": {"bucket": "b", "targetBucket": "b", "targetPrefix": "logs/"},
    "aws:kms/keyPolicy:KeyPolicy": {"keyId": KEY_ARN, "policy": doc(ADMIN)},
}
BUCKET_B = res("aws:s3/bucket:Bucket", {"bucket": "b", "id": "b", "arn": "arn:aws:s3:::b"}, name="b")
KEY = res("aws:kms/key:Key", {"arn": KEY_ARN, "id": "k"}, name="key", prov=OPERATOR_PROVIDER)


def setting(type_: str, name: str, deps: dict | None = None, **changes):
    props = {**SETTINGS[type_], **changes}
    assert_sdk_inputs(type_, props)
    return res(type_, props, name=name, deps=deps)


def override_messages(*resources):
    return [
        (m, u) for m, u in check_stack(protection.PUBLIC_POLICY, [BUCKET_B, KEY, *resources]) if "AWS keeps one" in m
    ]


@pytest.mark.parametrize("type_", sorted(SETTINGS))
def test_one_setting_per_target_passes(type_):
    assert override_messages(setting(type_, "first")) == []


@pytest.mark.parametrize("type_", sorted(SETTINGS))
def test_a_second_resource_setting_the_same_target_fails_on_both(type_):
    first = setting(type_, "first")
    target = "keyId" if type_.startswith("aws:kms") else "bucket"
    # The second names the target through a dependency (as an output would), the first by its name or ARN.
    second = setting(type_, "second", deps={target: [KEY if target == "keyId" else BUCKET_B]})
    found = override_messages(first, second)
    assert sorted(u for _m, u in found) == sorted([first.urn, second.urn]), found
    assert "merge them into one resource" in found[0][0]


def test_a_key_policy_resource_on_a_key_with_an_inline_policy_fails():
    inline = res(
        "aws:kms/key:Key", {"arn": KEY_ARN, "id": "k", "policy": doc(ADMIN)}, name="key", prov=OPERATOR_PROVIDER
    )
    found = [
        m for m, _u in check_stack(protection.PUBLIC_POLICY, [inline, setting("aws:kms/keyPolicy:KeyPolicy", "kp")])
    ]
    assert sum("AWS keeps one key policy" in m for m in found) == 2, found


def test_settings_of_different_buckets_pass():
    other = res("aws:s3/bucket:Bucket", {"bucket": "c", "id": "c", "arn": "arn:aws:s3:::c"}, name="c")
    found = override_messages(
        other,
        setting("aws:s3/bucketPolicy:BucketPolicy", "p1"),
        setting("aws:s3/bucketPolicy:BucketPolicy", "p2", bucket="c"),
    )
    assert found == []


# --------------------------------------------------------------------------- versioning stays on


@pytest.mark.parametrize("status,fails", [("Enabled", False), ("Suspended", True), ("Disabled", True)])
def test_suspending_versioning_fails(status, fails):
    props = {"bucket": "b", "versioningConfiguration": {"status": status}}
    found = check(protection.PROTECTED_POLICY, "aws:s3/bucketVersioning:BucketVersioning", props)
    assert bool(found) is fails and all("set versioning_configuration status 'Enabled'" in m for m in found), found
