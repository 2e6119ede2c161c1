"""Each rule of the residency pack, called as the engine calls it: compliant fixtures pass, one change fails.

Fixtures are the dublin site's values. Props are wrapped in pulumi-policy's own
unknown-checking proxy, so a rule that touched an unknown value the engine's
way would raise here exactly as it would during a real preview.
"""

from __future__ import annotations

import json

import pytest
from policy_support import (
    CONFIG,
    DATA,
    DATA_PROVIDER,
    KEY_ARN,
    OPERATOR,
    OPERATOR_PROVIDER,
    POLICY_DIR,
    REGION,
    TAGS,
    UNKNOWN,
    check,
    check_stack,
    messages_on,
    provider,
    provider_props,
    res,
    site,
)
from pulumi.output import Unknown
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE
from residency_rules import (
    ALL_POLICIES,
    audit,
    egress,
    encryption,
    identity,
    protection,
    region,
    replication,
    tags,
)


def on_site(policy, type_: str, props: dict, **kw) -> list[str]:
    """Messages a stack policy reports on one resource added to the compliant site."""
    target = res(type_, props, name="target", **kw)
    return messages_on(policy, site(target), target)


# --------------------------------------------------------------------------- pack metadata

EXPECTED = {
    "reviewed-types": (ResourceValidationPolicy, EnforcementLevel.MANDATORY),
    "no-cross-region-replication": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "region-pinned": (ResourceValidationPolicy, EnforcementLevel.MANDATORY),
    "operator-held-encryption": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "no-egress": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "identity-perimeter": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "no-public-data": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "data-protected": (ResourceValidationPolicy, EnforcementLevel.MANDATORY),
    "audit-on": (StackValidationPolicy, EnforcementLevel.MANDATORY),
    "residency-tags": (ResourceValidationPolicy, EnforcementLevel.MANDATORY),
}


def test_pack_has_exactly_the_expected_policies_with_explicit_enforcement():
    assert {p.name: (type(p), p.enforcement_level) for p in ALL_POLICIES} == EXPECTED


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_policy_metadata_is_kebab_case_with_one_sentence_description(policy):
    assert policy.name == policy.name.lower() and " " not in policy.name and "_" not in policy.name
    assert policy.description.endswith(".") and policy.description.count(". ") == 0, policy.description


def test_pack_main_only_builds_the_pack():
    text = (POLICY_DIR / "__main__.py").read_text()
    assert 'PolicyPack(name="eu-data-residency", policies=ALL_POLICIES' in text
    assert "name: python" in (POLICY_DIR / "PulumiPolicy.yaml").read_text()


@pytest.mark.parametrize("policy", [p for p in ALL_POLICIES if p.config_schema], ids=lambda p: p.name)
def test_shipped_config_sets_every_required_key(policy):
    for stack in ("dublin", "hamar"):
        doc = json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())
        assert set(policy.config_schema.required or []) <= set(doc.get(policy.name, {})), (stack, policy.name)


@pytest.mark.parametrize("policy", [region.POLICY, tags.POLICY], ids=lambda p: p.name)
def test_missing_policy_config_fails_closed(policy):
    messages = check(policy, "aws:sqs/queue:Queue", {"kmsMasterKeyId": KEY_ARN}, config={})
    assert messages and "--policy-pack-config" in messages[0]


@pytest.mark.parametrize(
    "policy", [replication.POLICY, egress.POLICY, identity.POLICY, encryption.POLICY], ids=lambda p: p.name
)
def test_missing_stack_policy_config_fails_closed(policy):
    found = check_stack(policy, site(), config={})
    assert found and "--policy-pack-config" in found[0][0], found


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.name)
def test_every_policy_declares_exceptions_in_its_config_schema(policy):
    schema = policy.config_schema.properties["exceptions"]
    assert schema["items"]["required"] == ["resource", "reason", "approver", "expires"]


@pytest.mark.parametrize("policy", [region.POLICY, replication.POLICY, egress.POLICY, identity.POLICY])
def test_policies_that_check_accounts_declare_trusted_accounts(policy):
    assert policy.config_schema.properties["trustedAccounts"]["items"]["required"] == ["accountId", "reason"]


# --------------------------------------------------------------------------- no-cross-region-replication

R = replication.POLICY


@pytest.mark.parametrize(
    "type_,props",
    [
        ("aws:kms/key:Key", {"multiRegion": False, "deletionWindowInDays": 30}),
        ("aws:s3/bucket:Bucket", {"bucket": "enclave-dublin-user-data-111111111111"}),
        ("aws:secretsmanager/secret:Secret", {"kmsKeyId": KEY_ARN, "name": "pepper"}),
        ("aws:dynamodb/table:Table", {"name": "t", "hashKey": "id"}),
        ("aws:rds/instance:Instance", {"replicateSourceDb": "local-db"}),
        ("aws:rds/snapshotCopy:SnapshotCopy", {"destinationRegion": REGION}),
        ("aws:ebs/snapshotCopy:SnapshotCopy", {"sourceRegion": REGION, "sourceSnapshotId": "snap-1"}),
        (
            "aws:backup/plan:Plan",
            {"rules": [{"copyActions": [{"destinationVaultArn": f"arn:aws:backup:{REGION}:{DATA}:backup-vault:v"}]}]},
        ),
        ("aws:efs/replicationConfiguration:ReplicationConfiguration", {"destination": {"region": REGION}}),
        ("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": False, "kmsKeyId": KEY_ARN}),
        ("aws:cloudtrail/eventDataStore:EventDataStore", {"multiRegionEnabled": False}),
        ("aws:apigateway/restApi:RestApi", {"endpointConfiguration": {"types": ["PRIVATE"]}}),
        ("aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration", {"status": "Suspended"}),
        ("aws:cloudwatch/eventTarget:EventTarget", {"arn": f"arn:aws:sqs:{REGION}:{DATA}:q"}),
        (
            "aws:iam/role:Role",
            {
                "assumeRolePolicy": json.dumps(
                    {"Statement": [{"Resource": "arn:aws:s3:::enclave-dublin-user-data-111111111111"}]}
                )
            },
        ),
    ],
)
def test_replication_compliant_fixtures_pass(type_, props):
    assert on_site(R, type_, props) == []


@pytest.mark.parametrize("type_", sorted(replication.FORBIDDEN_TYPES))
def test_replication_forbidden_types_fail(type_):
    messages = on_site(R, type_, {})
    assert len(messages) == 1 and "not allowed" in messages[0], messages


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        ("aws:kms/key:Key", {"multiRegion": True}, "multi_region=False"),
        ("aws:kms/externalKey:ExternalKey", {"multiRegion": True}, "multi_region=False"),
        ("aws:s3/bucket:Bucket", {"replicationConfiguration": {"role": "r", "rules": [{}]}}, "inline S3 replication"),
        ("aws:dynamodb/table:Table", {"replicas": [{"regionName": "eu-central-1"}]}, "global table"),
        ("aws:dynamodb/table:Table", {"globalTableWitness": {"regionName": "eu-west-3"}}, "witness"),
        ("aws:secretsmanager/secret:Secret", {"replicas": [{"region": "us-east-1"}]}, "replicas copy"),
        ("aws:rds/instance:Instance", {"replicateSourceDb": f"arn:aws:rds:us-east-1:{DATA}:db:src"}, "us-east-1"),
        ("aws:rds/cluster:Cluster", {"sourceRegion": "us-west-2"}, "us-west-2"),
        ("aws:rds/cluster:Cluster", {"globalClusterIdentifier": "g"}, "global"),
        ("aws:docdb/cluster:Cluster", {"globalClusterIdentifier": "g"}, "global"),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"globalReplicationGroupId": "g"}, "global"),
        ("aws:memorydb/cluster:Cluster", {"multiRegionClusterName": "m"}, "several regions"),
        ("aws:rds/snapshotCopy:SnapshotCopy", {"destinationRegion": "eu-central-1"}, "eu-central-1"),
        ("aws:rds/clusterSnapshotCopy:ClusterSnapshotCopy", {"destinationRegion": "us-east-1"}, "us-east-1"),
        ("aws:ebs/snapshotCopy:SnapshotCopy", {"sourceRegion": "us-east-1"}, "us-east-1"),
        ("aws:ec2/amiCopy:AmiCopy", {"sourceAmiRegion": "ap-south-1"}, "ap-south-1"),
        (
            "aws:backup/plan:Plan",
            {"rules": [{"copyActions": [{"destinationVaultArn": f"arn:aws:backup:us-east-1:{DATA}:backup-vault:v"}]}]},
            "outside eu-west-1",
        ),
        (
            "aws:efs/replicationConfiguration:ReplicationConfiguration",
            {"destination": {"region": "eu-north-1"}},
            "eu-north-1",
        ),
        (
            "aws:efs/replicationConfiguration:ReplicationConfiguration",
            {"destination": {"fileSystemId": "fs-1"}},
            "not proven",
        ),
        ("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": True}, "several regions"),
        ("aws:cloudtrail/eventDataStore:EventDataStore", {}, "multi_region_enabled=False"),
        (
            "aws:dlm/lifecyclePolicy:LifecyclePolicy",
            {"policyDetails": {"schedules": [{"crossRegionCopyRules": [{"target": "us-east-1"}]}]}},
            "several regions",
        ),
        (
            "aws:imagebuilder/distributionConfiguration:DistributionConfiguration",
            {"distributions": [{"region": "us-east-1"}]},
            "us-east-1",
        ),
        (
            "aws:cfg/configurationAggregator:ConfigurationAggregator",
            {"accountAggregationSource": {"allRegions": True}},
            "not allowed",
        ),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", {"serviceRegion": "us-east-1"}, "us-east-1"),
        (
            "aws:cloudwatch/eventTarget:EventTarget",
            {"arn": f"arn:aws:events:us-east-1:{DATA}:event-bus/b"},
            "us-east-1",
        ),
        (
            "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
            {"destinationArn": f"arn:aws:logs:eu-central-1:{DATA}:destination:d"},
            "eu-central-1",
        ),
        ("aws:apigateway/restApi:RestApi", {}, "EDGE"),
        ("aws:s3/bucketAccelerateConfiguration:BucketAccelerateConfiguration", {"status": "Enabled"}, "edge locations"),
        (
            "aws:keyspaces/keyspace:Keyspace",
            {"replicationSpecification": {"replicationStrategy": "MULTI_REGION"}},
            "SINGLE_REGION",
        ),
        ("aws:mq/broker:Broker", {"dataReplicationMode": "CRDR"}, "CRDR"),
        (
            "aws:s3/analyticsConfiguration:AnalyticsConfiguration",
            {
                "storageClassAnalysis": {
                    "dataExport": {"destination": {"s3BucketDestination": {"bucketArn": "arn:aws:s3:::x"}}}
                }
            },
            "'x' is not a bucket of this program",
        ),
        (
            "aws:ssm/resourceDataSync:ResourceDataSync",
            {"s3Destination": {"region": "us-east-1", "bucketName": "b"}},
            "us-east-1",
        ),
    ],
)
def test_replication_mechanisms_fail(type_, props, expected):
    messages = on_site(R, type_, props)
    assert messages and any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "type_,props",
    [
        ("aws:kms/key:Key", {"multiRegion": UNKNOWN_BOOLEAN_VALUE}),
        ("aws:kms/key:Key", {"multiRegion": Unknown()}),
        ("aws:rds/instance:Instance", {"replicateSourceDb": UNKNOWN}),
        ("aws:backup/plan:Plan", {"rules": [{"copyActions": [{"destinationVaultArn": UNKNOWN}]}]}),
        ("aws:rds/snapshotCopy:SnapshotCopy", {"destinationRegion": UNKNOWN}),
        (
            "aws:imagebuilder/distributionConfiguration:DistributionConfiguration",
            {"distributions": [{"region": UNKNOWN}]},
        ),
        ("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": UNKNOWN_BOOLEAN_VALUE}),
    ],
)
def test_replication_unknown_values_fail_closed(type_, props):
    messages = on_site(R, type_, props)
    assert messages and any("unknown at preview" in m or "several regions" in m for m in messages), messages


def test_replication_ignores_non_aws_resources():
    random = res("random:index/randomPassword:RandomPassword", {"region": "us-east-1"}, prov=None)
    assert check_stack(R, site(random)) == []


# --------------------------------------------------------------------------- region-pinned

P = region.POLICY


def check_provider(config=None, **kw) -> list[str]:
    name = kw.pop("name", "enclave-dublin-data")
    return check(P, "pulumi:providers:aws", provider_props(**kw), prov=None, name=name, config=config)


def test_region_pinned_compliant_provider_and_resource_pass():
    assert check_provider() == []
    assert check_provider(name="enclave-dublin-operator", account=OPERATOR) == []
    assert check(P, "aws:s3/bucket:Bucket", {"bucket": "b"}) == []
    assert check(P, "aws:s3/bucket:Bucket", {"bucket": "b", "region": REGION}) == []


@pytest.mark.parametrize(
    "kw,expected",
    [
        ({"region_": "us-east-1"}, "outside the site"),
        ({"region_": UNKNOWN}, "unknown at preview"),
        ({"account": "999999999999"}, "outside the site"),
        ({"allowedAccountIds": "[]"}, "allowedAccountIds is not set"),
        ({"name": "default_7_51_1"}, "default AWS provider"),
        ({"endpoints": json.dumps([{"s3": "https://s3.us-east-1.amazonaws.com"}])}, "us-east-1"),
        ({"stsRegion": "us-east-1"}, "us-east-1"),
    ],
)
def test_region_pinned_provider_failures(kw, expected):
    messages = check_provider(**kw)
    assert any(expected in m for m in messages), messages


def test_region_pinned_provider_without_region_fails():
    props = provider_props()
    del props["region"]
    messages = check(P, "pulumi:providers:aws", props, prov=None, name="p")
    assert any("AWS_REGION" in m for m in messages), messages


@pytest.mark.parametrize(
    "props,prov,expected",
    [
        ({"region": "us-east-1"}, DATA_PROVIDER, "overrides the provider's region"),
        ({"region": UNKNOWN}, DATA_PROVIDER, "unknown at preview"),
        ({}, provider("east", region_="us-east-1"), "effective region 'us-east-1'"),
        ({}, provider("later", region_=UNKNOWN), "unknown at preview"),
        ({}, provider("unpinned", region_=""), "sets no region"),
        ({}, None, "default AWS provider"),
        ({}, provider("default_7_51_1"), "default AWS provider"),
    ],
)
def test_region_pinned_resource_failures(props, prov, expected):
    messages = check(P, "aws:s3/bucket:Bucket", props, prov=prov)
    assert any(expected in m for m in messages), messages


def test_region_pinned_skips_components_and_local_packages():
    assert check(P, "enclave:storage:RegionalStorage", {}, prov=None) == []
    assert check(P, "random:index/randomPassword:RandomPassword", {}, prov=None) == []


@pytest.mark.parametrize(
    "type_,prov",
    [
        ("pulumi:providers:aws-native", None),
        ("aws-native:s3:Bucket", provider("native")),
        ("gcp:storage/bucket:Bucket", provider("gcp")),
    ],
)
def test_region_pinned_refuses_packages_it_cannot_place(type_, prov):
    messages = check(P, type_, {}, prov=prov)
    assert len(messages) == 1 and "not one the residency pack can place" in messages[0], messages


# --------------------------------------------------------------------------- operator-held-encryption

E = encryption.POLICY
OPERATOR_KEY = res("aws:kms/key:Key", {"multiRegion": False}, name="key", prov=OPERATOR_PROVIDER)
DATA_KEY = res("aws:kms/key:Key", {"multiRegion": False}, name="data-key", prov=DATA_PROVIDER)
BUCKET = res("aws:s3/bucket:Bucket", {"bucket": "b"}, name="bucket")


def sse(key=KEY_ARN, algorithm="aws:kms", deps=None, bucket="b", name="sse"):
    rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}, "bucketKeyEnabled": True}
    if key is not None:
        rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] = key
    return res(encryption.SSE_CONFIG, {"bucket": bucket, "rules": [rule]}, name=name, deps=deps)


def test_encryption_compliant_stack_passes():
    stack = [OPERATOR_KEY, BUCKET, sse(), res("aws:secretsmanager/secret:Secret", {"kmsKeyId": KEY_ARN}, name="s")]
    assert check_stack(E, stack) == []


def test_encryption_unknown_key_resolved_through_operator_key_dependency_passes():
    stack = [OPERATOR_KEY, BUCKET, sse(key=UNKNOWN, deps={"rules": [OPERATOR_KEY], "bucket": [BUCKET]}, bucket=UNKNOWN)]
    assert check_stack(E, stack) == []


@pytest.mark.parametrize(
    "resource,expected",
    [
        (sse(key=UNKNOWN), "unknown at preview"),
        (sse(key=UNKNOWN, deps={"rules": [DATA_KEY]}), "not pinned to the operator account"),
        (sse(key=f"arn:aws:kms:{REGION}:{DATA}:key/x"), "the data account"),
        (sse(key="alias/aws/s3"), "AWS-managed"),
        (sse(key="1234abcd-0000-4000-8000-000000000000"), "bare key id"),
        (sse(key=f"arn:aws:kms:us-east-1:{OPERATOR}:key/x"), "outside the site's region"),
        (sse(key=None, algorithm="AES256"), "AES256"),
        (sse(key=None), "names no KMS key"),
        (res("aws:secretsmanager/secret:Secret", {}, name="s"), "AWS-managed key"),
        (
            res("aws:cloudtrail/trail:Trail", {"kmsKeyId": f"arn:aws:kms:{REGION}:{DATA}:alias/aws/cloudtrail"}),
            "AWS-managed",
        ),
        (res("aws:cloudwatch/logGroup:LogGroup", {"name": "g"}), "names no KMS key"),
        (res("aws:dynamodb/table:Table", {"serverSideEncryption": {"enabled": False}}), "not a KMS key"),
    ],
)
def test_encryption_failures(resource, expected):
    found = check_stack(E, [OPERATOR_KEY, BUCKET, sse(name="sse-ok"), resource])
    assert found and all(urn == resource.urn for _m, urn in found), found
    assert any(expected in m for m, _urn in found), found


def test_encryption_bucket_without_sse_configuration_fails():
    found = check_stack(E, [OPERATOR_KEY, BUCKET])
    assert [urn for _m, urn in found] == [BUCKET.urn] and "SSE-S3" in found[0][0]


def test_encryption_bucket_matched_by_dependency_when_name_unknown():
    config = sse(bucket=UNKNOWN, deps={"bucket": [BUCKET]})
    assert check_stack(E, [OPERATOR_KEY, BUCKET, config]) == []


# --------------------------------------------------------------------------- no-egress

N = egress.POLICY
VPC_CIDR = "10.20.0.0/16"


@pytest.mark.parametrize(
    "type_,props",
    [
        ("aws:ec2/routeTable:RouteTable", {"vpcId": "vpc-1", "routes": []}),
        ("aws:ec2/route:Route", {"destinationCidrBlock": VPC_CIDR, "gatewayId": "local"}),
        ("aws:ec2/securityGroup:SecurityGroup", {"egress": [{"cidrBlocks": [VPC_CIDR], "protocol": "tcp"}]}),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", {"referencedSecurityGroupId": "sg-1"}),
        (
            "aws:ec2/networkAcl:NetworkAcl",
            {"egress": [{"action": "allow", "cidrBlock": VPC_CIDR}, {"action": "deny", "cidrBlock": "0.0.0.0/0"}]},
        ),
        ("aws:ec2/networkAclRule:NetworkAclRule", {"egress": True, "ruleAction": "deny", "cidrBlock": "0.0.0.0/0"}),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", {"serviceName": f"com.amazonaws.{REGION}.s3"}),
        ("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": False}),
    ],
)
def test_egress_compliant_fixtures_pass(type_, props):
    assert on_site(N, type_, props) == []


@pytest.mark.parametrize(
    "type_", sorted(egress.FORBIDDEN_TYPES) + ["aws:ec2transitgateway/vpcAttachment:VpcAttachment"]
)
def test_egress_gateways_peering_and_vpns_fail(type_):
    messages = on_site(N, type_, {})
    assert len(messages) == 1 and "no egress" in messages[0], messages


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        ("aws:ec2/route:Route", {"destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}, "reaches the internet"),
        (
            "aws:ec2/route:Route",
            {"destinationIpv6CidrBlock": "::/0", "egressOnlyGatewayId": "eigw-1"},
            "reaches the internet",
        ),
        (
            "aws:ec2/route:Route",
            {"destinationCidrBlock": "10.9.0.0/16", "vpcPeeringConnectionId": "pcx-1"},
            "out of the VPC",
        ),
        ("aws:ec2/route:Route", {"destinationCidrBlock": "10.9.0.0/16", "transitGatewayId": "tgw-1"}, "out of the VPC"),
        ("aws:ec2/route:Route", {"destinationCidrBlock": UNKNOWN}, "unknown at preview"),
        (
            "aws:ec2/routeTable:RouteTable",
            {"routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}]},
            "reaches the internet",
        ),
        (
            "aws:ec2/defaultRouteTable:DefaultRouteTable",
            {"routes": [{"cidrBlock": "10.1.0.0/16", "gatewayId": "vgw-1"}]},
            "gateway",
        ),
        ("aws:ec2/securityGroup:SecurityGroup", {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]}, "reaches the internet"),
        ("aws:ec2/securityGroup:SecurityGroup", {"egress": [{"ipv6CidrBlocks": ["::/0"]}]}, "reaches the internet"),
        (
            "aws:ec2/securityGroup:SecurityGroup",
            {"egress": [{"cidrBlocks": ["52.95.150.0/24"]}]},
            "reaches the internet",
        ),
        (
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]},
            "reaches the internet",
        ),
        (
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]},
            "reaches the internet",
        ),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", {"cidrIpv4": "0.0.0.0/0"}, "reaches the internet"),
        ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", {"cidrIpv6": UNKNOWN}, "unknown at preview"),
        (
            "aws:ec2/networkAcl:NetworkAcl",
            {"egress": [{"action": "allow", "cidrBlock": "0.0.0.0/0"}]},
            "reaches the internet",
        ),
        (
            "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
            {"egress": [{"action": "allow", "ipv6CidrBlock": "::/0"}]},
            "reaches the internet",
        ),
        (
            "aws:ec2/networkAclRule:NetworkAclRule",
            {"egress": True, "ruleAction": "allow", "cidrBlock": "0.0.0.0/0"},
            "reaches the internet",
        ),
        (
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            {"serviceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-123"},
            "not an AWS service",
        ),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", {"serviceName": "com.amazonaws.us-east-1.s3"}, "not an AWS service"),
        ("aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": True}, "internet address"),
    ],
)
def test_egress_failures(type_, props, expected):
    messages = on_site(N, type_, props)
    assert messages and any(expected in m for m in messages), messages


# --------------------------------------------------------------------------- no-public-data

PUB = protection.PUBLIC_POLICY
PAB_ALL = {flag: True for flag in protection.PAB_FLAGS}


def pab(**overrides):
    return res(protection.PAB, {"bucket": "b", **PAB_ALL, **overrides}, name="pab")


def bucket_policy(statement):
    return res(
        "aws:s3/bucketPolicy:BucketPolicy", {"bucket": "b", "policy": json.dumps({"Statement": [statement]})}, name="bp"
    )


TLS_DENY = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}


def test_public_compliant_stack_passes():
    endpoint_only = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
    }
    # One policy per bucket: AWS keeps one, and a second BucketPolicy on "b" is refused (overridden_settings).
    both = res(
        "aws:s3/bucketPolicy:BucketPolicy",
        {"bucket": "b", "policy": json.dumps({"Statement": [TLS_DENY, endpoint_only]})},
        name="bp",
    )
    assert check_stack(PUB, [BUCKET, pab(), both]) == []


@pytest.mark.parametrize("flag", protection.PAB_FLAGS)
def test_public_access_block_flag_off_fails(flag):
    found = check_stack(PUB, [BUCKET, pab(**{flag: False})])
    assert len(found) == 1 and flag in found[0][0]


def test_public_bucket_without_access_block_fails():
    found = check_stack(PUB, [BUCKET])
    assert found == [(found[0][0], BUCKET.urn)] and "BucketPublicAccessBlock" in found[0][0]


@pytest.mark.parametrize(
    "resource,expected",
    [
        (
            bucket_policy({"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
            "allows everyone",
        ),
        (
            bucket_policy({"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*"}),
            "allows everyone",
        ),
        (res("aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"}), "public-read"),
        (res("aws:s3/bucket:Bucket", {"bucket": "b", "acl": "public-read-write"}, name="bucket"), "public-read-write"),
        (
            res(
                "aws:s3/bucketAcl:BucketAcl",
                {"accessControlPolicy": {"grants": [{"grantee": {"uri": protection._PUBLIC_GROUPS[0]}}]}},
            ),
            "AllUsers",
        ),
        (res("aws:rds/instance:Instance", {"publiclyAccessible": True}), "publiclyAccessible"),
        (res("aws:ecrpublic/repository:Repository", {}), "not allowed"),
        (res("aws:sqs/queuePolicy:QueuePolicy", {"policy": UNKNOWN}), "unknown at preview"),
        (res("aws:secretsmanager/secretPolicy:SecretPolicy", {"policy": UNKNOWN}), "unknown at preview"),
    ],
)
def test_public_failures(resource, expected):
    found = check_stack(PUB, [BUCKET, pab(), resource])
    assert found and any(expected in m and urn == resource.urn for m, urn in found), found


def test_public_unknown_documents_pass_only_where_aws_blocks_public_policies():
    # First deployments build these documents from computed ARNs, so they are unknown at preview.
    by_dep = res(
        "aws:s3/bucketPolicy:BucketPolicy", {"bucket": UNKNOWN, "policy": UNKNOWN}, name="bp", deps={"bucket": [BUCKET]}
    )
    secret_policy = res("aws:secretsmanager/secretPolicy:SecretPolicy", {"policy": UNKNOWN, "blockPublicPolicy": True})
    assert check_stack(PUB, [BUCKET, pab(), by_dep, secret_policy]) == []
    # Without BlockPublicPolicy on the bucket nothing stops a public document: fail closed.
    found = check_stack(PUB, [BUCKET, pab(blockPublicPolicy=False), by_dep])
    assert any("unknown at preview" in m and urn == by_dep.urn for m, urn in found), found


def test_public_access_block_matched_by_dependency_when_the_name_is_computed():
    block = res(protection.PAB, {"bucket": UNKNOWN, **PAB_ALL}, name="pab", deps={"bucket": [BUCKET]})
    assert check_stack(PUB, [BUCKET, block]) == []
    unnamed = res("aws:s3/bucket:Bucket", {"bucket": UNKNOWN}, name="other")
    found = check_stack(PUB, [unnamed, block])
    assert [urn for _m, urn in found] == [unnamed.urn], found


# --------------------------------------------------------------------------- data-protected

D = protection.PROTECTED_POLICY


@pytest.mark.parametrize(
    "type_,props",
    [
        ("aws:s3/bucket:Bucket", {"bucket": "b"}),
        ("aws:kms/key:Key", {"deletionWindowInDays": 30, "enableKeyRotation": True}),
        ("aws:kms/key:Key", {"enableKeyRotation": True}),
        ("aws:kms/key:Key", {"customerMasterKeySpec": "RSA_4096", "keyUsage": "SIGN_VERIFY"}),  # AWS cannot rotate it
        ("aws:secretsmanager/secret:Secret", {"recoveryWindowInDays": 30}),
        ("aws:dynamodb/table:Table", {"deletionProtectionEnabled": True}),
    ],
)
def test_protected_compliant_fixtures_pass(type_, props):
    assert check(D, type_, props, protect=True) == []


@pytest.mark.parametrize(
    "type_,props,protect,expected",
    [
        ("aws:s3/bucket:Bucket", {"bucket": "b"}, False, "protect=True"),
        ("aws:kms/key:Key", {"deletionWindowInDays": 30}, False, "protect=True"),
        ("aws:secretsmanager/secret:Secret", {}, False, "protect=True"),
        ("aws:s3/bucket:Bucket", {"forceDestroy": True}, True, "forceDestroy"),
        ("aws:kms/key:Key", {"deletionWindowInDays": 7, "enableKeyRotation": True}, True, "deletionWindowInDays = 7"),
        ("aws:kms/key:Key", {"deletionWindowInDays": 30}, True, "enableKeyRotation is not true"),
        ("aws:kms/key:Key", {"deletionWindowInDays": UNKNOWN}, True, "deletionWindowInDays"),
        ("aws:secretsmanager/secret:Secret", {"recoveryWindowInDays": 0}, True, "recoveryWindowInDays = 0"),
        ("aws:rds/instance:Instance", {}, True, "deletionProtection"),
    ],
)
def test_protected_failures(type_, props, protect, expected):
    messages = check(D, type_, props, protect=protect)
    assert any(expected in m for m in messages), messages


def test_protected_ignores_non_data_resources():
    assert check(D, "aws:s3/bucketPolicy:BucketPolicy", {}, protect=False) == []


# --------------------------------------------------------------------------- audit-on

A = audit.POLICY
GOOD_TRAIL = {
    "isMultiRegionTrail": False,
    "enableLogFileValidation": True,
    "enableLogging": True,
    "s3BucketName": "logs",
}


def trail(name="trail", **overrides):
    return res(audit.TRAIL, {**GOOD_TRAIL, **overrides}, name=name)


def test_audit_one_good_trail_passes():
    assert check_stack(A, [BUCKET, trail()]) == []


@pytest.mark.parametrize(
    "resources,expected",
    [
        ([BUCKET], "no CloudTrail trail"),
        ([trail(), trail("second")], "exactly one trail"),
        ([trail(isMultiRegionTrail=True)], "single-region"),
        ([trail(isMultiRegionTrail=UNKNOWN_BOOLEAN_VALUE)], "single-region"),
        ([trail(enableLogFileValidation=False)], "enableLogFileValidation"),
        ([res(audit.TRAIL, {"s3BucketName": "logs"}, name="t")], "enableLogFileValidation"),
        ([trail(enableLogging=False)], "must be logging"),
        ([trail(s3BucketName="")], "s3BucketName"),
    ],
)
def test_audit_failures(resources, expected):
    found = check_stack(A, resources)
    assert any(expected in m for m, _urn in found), found


# --------------------------------------------------------------------------- residency-tags

T = tags.POLICY


def test_tags_compliant_provider_and_resources_pass():
    assert check(T, "pulumi:providers:aws", provider_props(), prov=None) == []
    assert check(T, "aws:s3/bucket:Bucket", {"bucket": "b"}) == []
    assert check(T, "aws:s3/bucket:Bucket", {"tags": {"Name": "x", "enclave:site": "dublin"}}) == []


@pytest.mark.parametrize(
    "props,expected",
    [
        (provider_props(defaultTags=json.dumps({"tags": {"enclave:site": "dublin"}})), "lacks enclave:region"),
        ({k: v for k, v in provider_props().items() if k != "defaultTags"}, "lacks enclave:site"),
        (
            provider_props(defaultTags=json.dumps({"tags": {**TAGS, "enclave:region": "us-east-1"}})),
            "requires enclave:region",
        ),
        (provider_props(defaultTags=UNKNOWN), "unknown at preview"),
    ],
)
def test_tags_provider_failures(props, expected):
    messages = check(T, "pulumi:providers:aws", props, prov=None)
    assert any(expected in m for m in messages), messages


def test_tags_resource_contradicting_the_site_fails():
    messages = check(T, "aws:s3/bucket:Bucket", {"tags": {"data-classification": "public"}})
    assert messages and "data-classification" in messages[0]


def test_tags_resource_on_untagged_provider_must_tag_itself():
    untagged = provider("bare", defaultTags=json.dumps({"tags": {}}))
    messages = check(T, "aws:s3/bucket:Bucket", {"tags": {"Name": "x"}}, prov=untagged)
    assert any("lacks enclave:site" in m for m in messages), messages


def inline_bucket(algorithm="aws:kms", key=KEY_ARN):
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    props = {
        "bucket": "inline",
        "serverSideEncryptionConfiguration": {"rule": {"applyServerSideEncryptionByDefault": default}},
    }
    return res("aws:s3/bucket:Bucket", props, name="inline")


def test_encryption_deprecated_inline_bucket_form_with_operator_key_passes():
    assert check_stack(E, [OPERATOR_KEY, inline_bucket()]) == []


@pytest.mark.parametrize(
    "bucket,expected",
    [
        (inline_bucket(algorithm="AES256", key=None), "AES256"),
        (inline_bucket(key=f"arn:aws:kms:{REGION}:{DATA}:key/x"), "the data account"),
    ],
)
def test_encryption_deprecated_inline_bucket_form_failures(bucket, expected):
    found = check_stack(E, [OPERATOR_KEY, bucket])
    assert [urn for _m, urn in found] == [bucket.urn] and expected in found[0][0], found


# --------------------------------------------------------------------------- data-protected: Object Lock, sandbox

LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"


def lock(mode="COMPLIANCE", **retention):
    return {"bucket": "b", "objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": mode, **retention}}}


@pytest.mark.parametrize("retention", [{"days": 90}, {"days": 2555}, {"years": 1}])
def test_object_lock_in_compliance_mode_with_a_long_retention_passes(retention):
    assert check(D, LOCK, lock(**retention)) == []


@pytest.mark.parametrize(
    "props,expected",
    [
        (lock("GOVERNANCE", days=365), "GOVERNANCE lets any principal"),
        (lock(days=30), "shorter than the site's minimum of 90 days"),
        ({"bucket": "b", "objectLockEnabled": "Enabled"}, "no default retention"),
    ],
)
def test_object_lock_that_an_account_can_lift_or_that_is_short_fails(props, expected):
    messages = check(D, LOCK, props)
    assert any(expected in m for m in messages), messages


def test_the_minimum_retention_comes_from_the_policy_config():
    assert check(D, LOCK, lock(days=200), config={"minRetentionDays": 365})
    assert check(D, LOCK, lock(days=400), config={"minRetentionDays": 365}) == []


def test_inline_object_lock_on_a_bucket_is_checked_too():
    props = {
        "bucket": "b",
        "objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 1}}},
    }
    messages = check(D, "aws:s3/bucket:Bucket", props, protect=True)
    assert any("GOVERNANCE" in m for m in messages) and any("shorter" in m for m in messages), messages


def test_a_sandbox_policy_config_allows_governance_short_retention_and_no_protect():
    sandbox = {"sandbox": True}
    assert check(D, LOCK, lock("GOVERNANCE", days=1), config=sandbox) == []
    assert check(D, "aws:s3/bucket:Bucket", {"bucket": "b"}, protect=False, config=sandbox) == []
    # A site's config (no sandbox key) refuses the same program.
    assert check(D, LOCK, lock("GOVERNANCE", days=1))
    assert check(D, "aws:s3/bucket:Bucket", {"bucket": "b"}, protect=False)


# --------------------------------------------------------------------------- account-level blocks


@pytest.mark.parametrize(
    "type_,props",
    [
        (protection.ACCOUNT_PAB, {flag: True for flag in protection.PAB_FLAGS}),
        ("aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess", {"state": "block-all-sharing"}),
        ("aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess", {"state": "block-new-sharing"}),
        (protection.SSM_SETTING, {"settingId": protection.SSM_PUBLIC_SHARING, "settingValue": "Disable"}),
        (protection.SSM_SETTING, {"settingId": "/ssm/parameter-store/high-throughput-enabled", "settingValue": "true"}),
    ],
)
def test_account_blocks_on_public_sharing_pass(type_, props):
    assert check_stack(PUB, [res(type_, props)]) == []


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        (protection.ACCOUNT_PAB, {"blockPublicPolicy": False}, "blockPublicPolicy = false"),
        ("aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess", {"state": "unblocked"}, "block-all-sharing"),
        ("aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess", {"state": "unblocked"}, "block-new-sharing"),
        (protection.SSM_SETTING, {"settingId": protection.SSM_PUBLIC_SHARING, "settingValue": "Enable"}, "publicly"),
    ],
)
def test_account_blocks_that_are_loosened_fail(type_, props, expected):
    found = check_stack(PUB, [res(type_, props)])
    assert any(expected in m for m, _urn in found), found


def test_region_pinned_admits_a_trusted_account_only_on_the_providers_it_names():
    # Issue #13: the guardrails' provider is pinned to the organization's management account.
    config = {
        **CONFIG["region-pinned"],
        "trustedAccounts": [{"accountId": "999999999999", "reason": "management account", "resources": ["management"]}],
    }
    assert check_provider(name="management", account="999999999999", config=config) == []
    messages = check_provider(name="elsewhere", account="999999999999", config=config)
    assert any("outside the site" in m for m in messages), messages
    assert any("outside the site" in m for m in check_provider(name="management", account="999999999999"))
