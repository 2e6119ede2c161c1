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
    VPC_ID,
    allow,
    assert_sdk_inputs,
    check,
    check_stack,
    doc,
    messages_on,
    res,
    site,
)
from residency_rules import egress, encryption, identity, protection, replication

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


# --------------------------------------------------------------------------- addresses and names in inputs


@pytest.mark.parametrize(
    "value,fails",
    [
        ("2606:4700:4700::1111", True),
        ("2a05:d018::1", True),
        ("fd00:10:20::5", False),  # unique local: inside a network
        ("12:30:00", False),  # a time, not an address
        ("00:1a:2b:3c:4d:5e", False),  # a MAC address
    ],
)
def test_ipv6_literals_are_addresses(value, fails):
    type_, props = function(value)
    found = messages(egress.POLICY, type_, props)
    assert bool(found) is fails and all("public internet address" in m for m in found), found


def test_a_dotted_value_under_a_key_that_qualifies_an_endpoint_word_is_no_host():
    # Amazon MQ's instance type looks like a hostname; hostInstanceType names a type, not a host.
    props = {"brokerName": "events", "engineType": "RabbitMQ", "hostInstanceType": "mq.m5.large"}
    assert_sdk_inputs("aws:mq/broker:Broker", props)
    assert messages(egress.POLICY, "aws:mq/broker:Broker", {**props, "publiclyAccessible": False}) == []
    # A name under a public TLD is still a host, whatever the key says.
    found = messages(egress.POLICY, "aws:mq/broker:Broker", {**props, "hostInstanceType": "broker.partner.io"})
    assert len(found) == 1 and "broker.partner.io" in found[0], found


# --------------------------------------------------------------------------- DNS around the firewall


@pytest.mark.parametrize(
    "servers,fails", [(["AmazonProvidedDNS"], False), (["10.50.0.2"], True), (["AmazonProvidedDNS", "10.20.0.2"], True)]
)
def test_dhcp_options_keep_dns_on_the_resolver(servers, fails):
    props = {"domainNameServers": servers, "domainName": f"{REGION}.compute.internal"}
    assert_sdk_inputs("aws:ec2/vpcDhcpOptions:VpcDhcpOptions", props)
    found = messages(egress.POLICY, "aws:ec2/vpcDhcpOptions:VpcDhcpOptions", props)
    assert bool(found) is fails and all("around the site's DNS firewall" in m for m in found), found


RULE = res(
    "aws:route53/resolverRule:ResolverRule",
    {"domainName": "corp.internal", "ruleType": "SYSTEM", "id": "rslvr-rr-0a1b"},
    name="rule",
)
ZONE = res("aws:route53/zone:Zone", {"name": "corp.internal", "vpcs": [{"vpcId": VPC_ID}], "id": "Z0A1B"}, name="zone")


@pytest.mark.parametrize(
    "type_,prop,own,foreign",
    [
        (
            "aws:route53/resolverRuleAssociation:ResolverRuleAssociation",
            "resolverRuleId",
            "rslvr-rr-0a1b",
            "rslvr-rr-0shared",
        ),
        ("aws:route53/zoneAssociation:ZoneAssociation", "zoneId", "Z0A1B", "Z0FOREIGNZONE"),
    ],
)
def test_dns_associations_name_a_rule_or_zone_of_the_program(type_, prop, own, foreign):
    assert_sdk_inputs(type_, {prop: own, "vpcId": VPC_ID})
    ok = res(type_, {prop: own, "vpcId": VPC_ID}, name="assoc")
    assert messages_on(egress.POLICY, site(RULE, ZONE, ok), ok) == []
    bad = res(type_, {prop: foreign, "vpcId": VPC_ID}, name="assoc")
    found = messages_on(egress.POLICY, site(RULE, ZONE, bad), bad)
    assert len(found) == 1 and "is not a" in found[0] and "of this program" in found[0], found


# --------------------------------------------------------------------------- roles people assume keep the site's boundary

BOUNDARY_ARN = f"arn:aws:iam::{DATA}:policy/enclave-dublin-boundary"
BOUNDARY = res("aws:iam/policy:Policy", {"policy": doc(ADMIN), "arn": BOUNDARY_ARN}, name="boundary")
SERVICE_TRUST = doc(allow(Principal={"Service": ["lambda.amazonaws.com", "s3.amazonaws.com"]}, Action="sts:AssumeRole"))
PEOPLE_TRUST = doc(allow(Principal={"AWS": f"arn:aws:iam::{DATA}:root"}, Action="sts:AssumeRole"))
FEDERATED_TRUST = doc(
    allow(Principal={"Federated": f"arn:aws:iam::{DATA}:saml-provider/corp"}, Action="sts:AssumeRoleWithSAML")
)


@pytest.mark.parametrize(
    "trust,boundary,deps,fails",
    [
        (PEOPLE_TRUST, BOUNDARY_ARN, None, False),
        (PEOPLE_TRUST, "unknown", {"permissionsBoundary": [BOUNDARY]}, False),
        (PEOPLE_TRUST, None, None, True),
        (FEDERATED_TRUST, None, None, True),
        ("unknown", None, None, True),
        (PEOPLE_TRUST, "arn:aws:iam::aws:policy/PowerUserAccess", None, True),
        (PEOPLE_TRUST, f"arn:aws:iam::{DATA}:policy/made-by-hand", None, True),
        # A function's or a replication's role: AWS assumes it; its policies are what the pack reads.
        (SERVICE_TRUST, None, None, False),
        (SERVICE_TRUST, "arn:aws:iam::aws:policy/PowerUserAccess", None, False),
    ],
    ids=[
        "arn",
        "dependency",
        "none",
        "federated-none",
        "unknown-trust",
        "aws-managed",
        "not-the-programs",
        "service-role",
        "service-role-any-boundary",
    ],
)
def test_a_role_people_assume_carries_a_boundary_of_the_program(trust, boundary, deps, fails):
    props = {"assumeRolePolicy": trust} | ({"permissionsBoundary": boundary} if boundary else {})
    assert_sdk_inputs("aws:iam/role:Role", props)

    role = res("aws:iam/role:Role", props, name="role", deps=deps)
    found = messages_on(identity.POLICY, site(BOUNDARY, role), role)
    assert bool(found) is fails and all("SecurityGates' permissions_boundary_arn" in m for m in found), found


EVERYTHING = doc(allow(Action="*", Resource="*"))
LOGS_ONLY = doc(allow(Action=["logs:CreateLogStream", "logs:PutLogEvents"], Resource="*"))


def _service_role(**props):
    return res("aws:iam/role:Role", {"assumeRolePolicy": SERVICE_TRUST, "name": "fn", "id": "fn"} | props, name="role")


@pytest.mark.parametrize(
    "extra,fails",
    [
        ({}, False),
        ({"managedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]}, False),
        ({"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}, True),
        ({"managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3FullAccess"]}, True),
        ({"inlinePolicies": [{"name": "logs", "policy": LOGS_ONLY}]}, False),
        ({"inlinePolicies": [{"name": "all", "policy": EVERYTHING}]}, True),
    ],
    ids=["no-policy", "aws-service-role-policy", "administrator", "full-access", "inline-narrow", "inline-everything"],
)
def test_a_service_role_without_boundary_passes_only_with_policies_the_pack_can_bound(extra, fails):
    role = _service_role(**extra)
    assert_sdk_inputs("aws:iam/role:Role", {k: v for k, v in role.props.items() if k not in ("id",)})
    found = messages_on(identity.POLICY, site(role), role)
    assert bool(found) is fails, found
    assert all("AWS services assume it with policies the pack can read" in m for m in found), found


@pytest.mark.parametrize(
    "document,arn,fails",
    [
        (LOGS_ONLY, None, False),
        (EVERYTHING, None, True),
        (None, "arn:aws:iam::aws:policy/PowerUserAccess", True),
        (None, "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", False),
    ],
    ids=["program-policy", "program-policy-allows-everything", "aws-power-user", "aws-service-role-policy"],
)
def test_policies_attached_to_a_service_role_decide_whether_it_needs_the_boundary(document, arn, fails):
    role = _service_role()
    resources = [role]
    deps = {"role": [role]}
    if document is not None:
        policy_arn = f"arn:aws:iam::{DATA}:policy/fn-access"
        policy = res("aws:iam/policy:Policy", {"policy": document, "arn": policy_arn}, name="fn-access")
        resources.append(policy)
        deps["policyArn"] = [policy]
        arn = policy_arn
    attachment = res(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "fn", "policyArn": arn}, name="attach", deps=deps
    )
    resources.append(attachment)
    found = messages_on(identity.POLICY, site(*resources), role)
    assert bool(found) is fails, found
    # The same rule through an inline RolePolicy resource.
    inline = res("aws:iam/rolePolicy:RolePolicy", {"role": "fn", "policy": document or LOGS_ONLY}, name="p", deps=deps)
    found = messages_on(identity.POLICY, site(_service_role(), inline), role)
    assert bool(found) is (document is EVERYTHING), found


# --------------------------------------------------------------------------- a broker's messages at rest


@pytest.mark.parametrize(
    "options,expected",
    [
        ({"useAwsOwnedKey": False, "kmsKeyId": KEY_ARN}, None),
        (None, "AWS-owned key"),
        ({"useAwsOwnedKey": False}, "names no KMS key"),
        ({"useAwsOwnedKey": False, "kmsKeyId": f"arn:aws:kms:{REGION}:{DATA}:key/x"}, "the data account"),
    ],
)
def test_an_mq_broker_holds_its_messages_under_the_operator_key(options, expected):
    props = {
        "brokerName": "b",
        "engineType": "ActiveMQ",
        "hostInstanceType": "mq.m5.large",
        "publiclyAccessible": False,
    }
    if options is not None:
        props["encryptionOptions"] = options
    assert_sdk_inputs("aws:mq/broker:Broker", props)
    found = check_stack(encryption.POLICY, [res("aws:mq/broker:Broker", props, name="broker")])
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0][0], found
