"""Held-out drifts: written as an operator, an attacker or a careless administrator of the data account
would make them with boto3, without reading the audit's code first (docs/bootstrap-and-audit.md).

``FOUND_DRIFTS`` passed the audit before its checks covered them; each now fails its checks, naming
the resource (a family's drifts together fail exactly theirs). ``CAUGHT_DRIFTS`` the audit already failed; they run together on one estate
(each names a different resource), which keeps them cheap.
"""

from __future__ import annotations

import json

import moto.secretsmanager.models
import pytest

from tests.conftest import stack_config
from tests.estate import (
    NEAR_REGIONS,
    AccountSession,
    assert_drifts_fail_exactly,
    audit,
    aws_environment,
    build_estate,
    config_with_grants,
    failing,
    lock_audit_logs,
    replace_flow_log,
)

STRANGER = "999999999999"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

aws_env = pytest.fixture(aws_environment)


@pytest.fixture
def estate(aws_env):
    return build_estate(config_with_grants(stack_config("dublin")))


def _bucket_arn(e, role: str) -> str:
    return f"arn:aws:s3:::{e.buckets[role]}"


def _add_bucket_statement(e, role: str, statement: dict) -> str:
    s3 = e.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=e.buckets[role])["Policy"])
    policy["Statement"].append(statement)
    s3.put_bucket_policy(Bucket=e.buckets[role], Policy=json.dumps(policy))
    return _bucket_arn(e, role)


def _admin_policy(e, name: str) -> str:
    return e.client("iam").create_policy(PolicyName=name, PolicyDocument=json.dumps(ADMIN))["Policy"]["Arn"]


def _snapshot(e) -> str:
    ec2 = e.client("ec2")
    volume = ec2.create_volume(AvailabilityZone=e.cfg.availability_zones[0], Size=8)["VolumeId"]
    return ec2.create_snapshot(VolumeId=volume)["SnapshotId"]


# --------------------------------------------------------------------------- found: trail and logging


def _second_trail_into_a_partner_bucket(e):
    # Data events of the user data, delivered into another account's bucket.
    AccountSession(e.cfg.region, STRANGER).client("s3").create_bucket(
        Bucket="partner-trail", CreateBucketConfiguration={"LocationConstraint": e.cfg.region}
    )
    ct = e.client("cloudtrail")
    ct.create_trail(Name="copy", S3BucketName="partner-trail")
    ct.put_event_selectors(
        TrailName="copy",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"{_bucket_arn(e, 'user-data')}/"]}],
            }
        ],
    )
    ct.start_logging(Name="copy")
    return "trail/copy"


def _trail_events_into_a_log_group_elsewhere(e):
    e.client("cloudtrail").update_trail(
        Name=e.cfg.trail_name,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:us-east-1:{e.cfg.data_account_id}:log-group:copy:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{e.cfg.data_account_id}:role/trail-to-logs",
    )
    return "log-group:copy"


def _multi_region_trail_from_us_east_1(e):
    # Its shadow logs the site region too, into a bucket in us-east-1.
    e.client("s3", region="us-east-1").create_bucket(Bucket="all-regions-logs")
    ct = e.client("cloudtrail", region="us-east-1")
    ct.create_trail(Name="everywhere", S3BucketName="all-regions-logs", IsMultiRegionTrail=True)
    return "all-regions-logs"


def _access_logging_off(e):
    e.client("s3").put_bucket_logging(Bucket=e.buckets["user-data"], BucketLoggingStatus={})
    return _bucket_arn(e, "user-data")


def _versioning_suspended(e):
    e.client("s3").put_bucket_versioning(Bucket=e.buckets["user-data"], VersioningConfiguration={"Status": "Suspended"})
    return _bucket_arn(e, "user-data")


# --------------------------------------------------------------------------- found: ways out


def _ownership_back_to_object_writer(e):
    # ACLs on again: an object ACL can then grant another account's canonical user (no block stops that).
    e.client("s3").put_bucket_ownership_controls(
        Bucket=e.buckets["user-data"], OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    return _bucket_arn(e, "user-data")


def _inventory(e, into: str, **account: str) -> None:
    """A daily inventory of the user-data bucket into bucket ``into`` (of ``AccountId``, if given)."""
    e.client("s3").put_bucket_inventory_configuration(
        Bucket=e.buckets["user-data"],
        Id="daily",
        InventoryConfiguration={
            "Id": "daily",
            "IsEnabled": True,
            "IncludedObjectVersions": "All",
            "Schedule": {"Frequency": "Daily"},
            "Destination": {"S3BucketDestination": {**account, "Bucket": f"arn:aws:s3:::{into}", "Format": "CSV"}},
        },
    )


def _inventory_into_a_partner_bucket(e):
    _inventory(e, "partner-inv", AccountId=STRANGER)
    return _bucket_arn(e, "user-data")


def _notifications_to_a_partner_queue(e):
    e.client("s3").put_bucket_notification_configuration(
        Bucket=e.buckets["user-data"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "uploads",
                    "QueueArn": f"arn:aws:sqs:{e.cfg.region}:{STRANGER}:uploads",
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )
    return _bucket_arn(e, "user-data")


def _snapshot_shared_with_another_account(e):
    snapshot = _snapshot(e)
    e.client("ec2").modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", UserIds=[STRANGER]
    )
    return snapshot


def _image_shared_with_another_account(e):
    ec2 = e.client("ec2")
    image = ec2.register_image(
        Name="golden", RootDeviceName="/dev/xvda", BlockDeviceMappings=[{"DeviceName": "/dev/xvda"}]
    )["ImageId"]
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": STRANGER}]})
    return image


def _subnet_shared_with_another_account(e):
    """A subnet handed to another account through Resource Access Manager (made before the guardrails)."""
    cfg = e.cfg
    subnet = e.client("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [e.vpc_id]}])["Subnets"][0]
    subnet_arn = f"arn:aws:ec2:{cfg.region}:{cfg.data_account_id}:subnet/{subnet['SubnetId']}"
    e.client("ram").create_resource_share(name="partner-analytics", resourceArns=[subnet_arn], principals=[STRANGER])
    return subnet_arn


def _transit_gateway_attached(e):
    ec2 = e.client("ec2")
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    return ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw, VpcId=e.vpc_id, SubnetIds=[e.subnet_id])[
        "TransitGatewayVpcAttachment"
    ]["TransitGatewayAttachmentId"]


def _vpn_gateway_attached(e):
    ec2 = e.client("ec2")
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=vgw, VpcId=e.vpc_id)
    return vgw


def _queries_forwarded_to_an_outside_server(e):
    # The endpoint's own security group keeps the VPC's egress rules (no way out by the network);
    # the queries, and what they carry, go to a DNS server outside AWS.
    group = e.workload_sg
    resolver = e.client("route53resolver")
    endpoint = resolver.create_resolver_endpoint(
        CreatorRequestId="out",
        SecurityGroupIds=[group],
        Direction="OUTBOUND",
        IpAddresses=[{"SubnetId": e.subnet_id}, {"SubnetId": e.subnet_id}],
    )["ResolverEndpoint"]["Id"]
    rule = resolver.create_resolver_rule(
        CreatorRequestId="fwd",
        RuleType="FORWARD",
        DomainName="corp.example.com",
        TargetIps=[{"Ip": "203.0.113.53", "Port": 53}],
        ResolverEndpointId=endpoint,
    )["ResolverRule"]["Id"]
    resolver.associate_resolver_rule(ResolverRuleId=rule, VPCId=e.vpc_id)
    return rule


def _endpoint_service_for_other_accounts(e):
    balancer = e.client("elbv2").create_load_balancer(
        Name="internal", Subnets=[e.subnet_id], Type="network", Scheme="internal"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    ec2 = e.client("ec2")
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[balancer], AcceptanceRequired=False
    )["ServiceConfiguration"]["ServiceId"]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=service, AddAllowedPrincipals=["*"])
    return service


def _pepper_rotated_by_a_function_elsewhere(e):
    # RotateSecret in moto looks the function up in the secret's own region, so the test sets the
    # state DescribeSecret reports (RotationLambdaARN) for a function in us-east-1.
    secret = moto.secretsmanager.models.secretsmanager_backends[e.cfg.data_account_id][e.cfg.region].secrets[
        e.secret_arn
    ]
    secret.rotation_requested = secret.rotation_enabled = True
    secret.rotation_lambda_arn = f"arn:aws:lambda:us-east-1:{e.cfg.data_account_id}:function:rotate-pepper"
    return "function:rotate-pepper"


# --------------------------------------------------------------------------- found: who acts in the account


def _admin_user_with_keys(e):
    iam = e.client("iam")
    iam.create_user(UserName="ops-admin")
    iam.attach_user_policy(UserName="ops-admin", PolicyArn=_admin_policy(e, "ops-admin-all"))
    iam.create_access_key(UserName="ops-admin")
    return "user/ops-admin"


def _inline_policy_added_to_the_workload(e):
    e.client("iam").put_role_policy(
        RoleName=e.cfg.role_name("workload"), PolicyName="debug", PolicyDocument=json.dumps(ADMIN)
    )
    return e.cfg.role_arn("workload")


def _managed_policy_attached_to_the_auditor(e):
    e.client("iam").attach_role_policy(RoleName=e.cfg.role_name("auditor"), PolicyArn=_admin_policy(e, "audit-helper"))
    return e.cfg.role_arn("auditor")


def _staff_policy_widened_in_place(e):
    # The program's own inline policy, one statement object (AWS accepts it) allowing all of S3.
    name = e.cfg.role_name("staff-access")
    widened = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
    e.client("iam").put_role_policy(RoleName=name, PolicyName=f"{name}-access", PolicyDocument=json.dumps(widened))
    return e.cfg.role_arn("staff-access")


def _role_for_any_token_of_an_identity_provider(e):
    iam = e.client("iam")
    provider = iam.create_open_id_connect_provider(
        Url="https://token.example.com", ThumbprintList=["a" * 40], ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity"}
        ]
    }
    iam.create_role(RoleName="ci-anything", AssumeRolePolicyDocument=json.dumps(trust))
    return "role/ci-anything"


FOUND_DRIFTS = {
    "trail and logging": [
        (
            "second trail into another account's bucket",
            _second_trail_into_a_partner_bucket,
            {"trail-no-other-destination"},
        ),
        (
            "trail events into a log group in us-east-1",
            _trail_events_into_a_log_group_elsewhere,
            {"trail-no-other-destination"},
        ),
        # The trail's own bucket in us-east-1 is a bucket outside the region too.
        (
            "multi-region trail homed in us-east-1",
            _multi_region_trail_from_us_east_1,
            {"trail-no-other-destination", "s3-bucket-in-region"},
        ),
        ("user data's server access logging off", _access_logging_off, {"s3-access-logging"}),
        ("user data's versioning suspended", _versioning_suspended, {"s3-versioning-enabled"}),
    ],
    "copies, reports and secrets out of the site": [
        ("object ownership back to ObjectWriter", _ownership_back_to_object_writer, {"s3-object-ownership-enforced"}),
        ("inventory into another account's bucket", _inventory_into_a_partner_bucket, {"s3-no-outside-destination"}),
        ("notifications to another account's queue", _notifications_to_a_partner_queue, {"s3-no-outside-destination"}),
        ("snapshot shared with another account", _snapshot_shared_with_another_account, {"ebs-snapshot-not-shared"}),
        ("image shared with another account", _image_shared_with_another_account, {"ec2-image-not-shared"}),
        ("subnet shared through RAM", _subnet_shared_with_another_account, {"ram-no-resource-shares"}),
        (
            "pepper rotated by a function in us-east-1",
            _pepper_rotated_by_a_function_elsewhere,
            {"secret-rotation-inside"},
        ),
    ],
    "ways out of the network": [
        ("transit gateway attached to the VPC", _transit_gateway_attached, {"vpc-no-transit-or-vpn-gateway"}),
        ("VPN gateway attached to the VPC", _vpn_gateway_attached, {"vpc-no-transit-or-vpn-gateway"}),
        ("DNS queries forwarded outside AWS", _queries_forwarded_to_an_outside_server, {"dns-no-resolver-forwarding"}),
        ("endpoint service open to every account", _endpoint_service_for_other_accounts, {"vpc-no-endpoint-service"}),
    ],
    "who acts in the account": [
        ("IAM user with access keys and admin rights", _admin_user_with_keys, {"iam-no-users"}),
        (
            "inline policy added to the workload role",
            _inline_policy_added_to_the_workload,
            {"iam-role-policies-reviewed"},
        ),
        (
            "managed policy attached to the auditor role",
            _managed_policy_attached_to_the_auditor,
            {"iam-role-policies-reviewed"},
        ),
        ("staff role's own policy widened", _staff_policy_widened_in_place, {"iam-role-policies-reviewed"}),
        (
            "role trusting any token of an OIDC provider",
            _role_for_any_token_of_an_identity_provider,
            {"iam-account-role-trust"},
        ),
    ],
}
"""By family; the drifts of a family change different resources, so they share one estate (a build and an
audit cost about a second; the suite's time goes to them)."""


@pytest.mark.parametrize("family", list(FOUND_DRIFTS))
def test_each_found_drift_fails_its_checks_naming_its_resource(estate, family):
    assert_drifts_fail_exactly(estate, FOUND_DRIFTS[family])


# --------------------------------------------------------------------------- already caught, on one estate


def _not_principal(e):
    return _add_bucket_statement(
        e,
        "user-data",
        {
            "Effect": "Allow",
            "NotPrincipal": {"AWS": e.cfg.role_arn("workload")},
            "Action": "s3:GetObject",
            "Resource": f"{_bucket_arn(e, 'user-data')}/*",
        },
    )


def _always_true_condition(e):
    return _add_bucket_statement(
        e,
        "access-logs",
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{_bucket_arn(e, 'access-logs')}/*",
            "Condition": {"StringLike": {"aws:PrincipalArn": "*"}},
        },
    )


def _source_vpce_with_a_foreign_endpoint(e):
    return _add_bucket_statement(
        e,
        "exports",
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{_bucket_arn(e, 'exports')}/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": [e.endpoint_id, "vpce-0a1b2c3d4e5f60718"]}},
        },
    )


def _key_grants_and_reencrypt_for_a_stranger(e):
    kms = e.client("kms", operator=True)
    policy = json.loads(kms.get_key_policy(KeyId=e.key_arn, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"},
            "Action": ["kms:CreateGrant", "kms:ReEncrypt*"],
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=e.key_arn, PolicyName="default", Policy=json.dumps(policy))
    return e.key_arn


def _secret_for_another_organization(e):
    sm = e.client("secretsmanager")
    arn = sm.create_secret(Name="partner-token", SecretString="x")["ARN"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-partner0001"}},
            }
        ],
    }
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(policy))
    return arn


def _endpoint_open_behind_a_harmless_condition(e):
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ]
    }
    endpoint = e.endpoint_ids["secretsmanager"]
    e.client("ec2").modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=json.dumps(policy))
    return endpoint


def _role_trusting_the_staff_role(e):
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": e.cfg.role_arn("staff-access")}, "Action": "sts:AssumeRole"}
        ]
    }
    e.client("iam").create_role(RoleName="escalate", AssumeRolePolicyDocument=json.dumps(trust))
    return "role/escalate"


def _management_events_of_kms_excluded(e):
    selector = {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "ExcludeManagementEventSources": ["kms.amazonaws.com"],
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"{_bucket_arn(e, 'user-data')}/"]}],
    }
    e.client("cloudtrail").put_event_selectors(TrailName=e.cfg.trail_name, EventSelectors=[selector])
    return e.cfg.trail_arn


def _flow_log_of_accepted_traffic_only(e):
    return replace_flow_log(e, "ACCEPT")


def _audit_log_retention_of_a_day(e):
    # Compliance mode, but for a day.
    return lock_audit_logs(e, "COMPLIANCE", 1)


def _multi_region_key_in_the_data_account(e):
    return e.client("kms").create_key(MultiRegion=True)["KeyMetadata"]["Arn"]


def _ipv6_egress_in_the_network_acl(e):
    ec2 = e.client("ec2")
    acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [e.vpc_id]}])["NetworkAcls"][0]
    ec2.create_network_acl_entry(
        NetworkAclId=acl["NetworkAclId"], RuleNumber=5, Protocol="-1", RuleAction="allow", Egress=True,
        Ipv6CidrBlock="::/0",
    )  # fmt: skip
    return acl["NetworkAclId"]


def _route_to_a_transit_gateway(e):
    ec2 = e.client("ec2")
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [e.vpc_id]}])["RouteTables"][0]
    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="198.51.100.0/24", TransitGatewayId=tgw)
    return table["RouteTableId"]


def _boundary_as_one_allow_statement(e):
    everything = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    e.client("iam").create_policy_version(
        PolicyArn=e.boundary_arn, PolicyDocument=json.dumps(everything), SetAsDefault=True
    )
    return e.boundary_arn


CAUGHT_DRIFTS = [
    (_not_principal, "s3-policy-site-only"),
    (_always_true_condition, "s3-policy-site-only"),
    (_source_vpce_with_a_foreign_endpoint, "s3-policy-site-only"),
    (_key_grants_and_reencrypt_for_a_stranger, "kms-key-policy-site-only"),
    # CreateGrant decides who holds the key.
    (_key_grants_and_reencrypt_for_a_stranger, "kms-key-operator-administered"),
    (_secret_for_another_organization, "secret-policy-site-only"),
    (_endpoint_open_behind_a_harmless_condition, "vpc-endpoint-policy-site-only"),
    (_role_trusting_the_staff_role, "iam-account-role-trust"),
    (_management_events_of_kms_excluded, "trail-management-events"),
    (_flow_log_of_accepted_traffic_only, "vpc-flow-log-all-traffic"),
    (_audit_log_retention_of_a_day, "trail-log-bucket-object-lock"),
    (_multi_region_key_in_the_data_account, "kms-key-single-region"),
    (_ipv6_egress_in_the_network_acl, "vpc-nacl-egress-inside"),
    (_route_to_a_transit_gateway, "vpc-no-route-out"),
    (_boundary_as_one_allow_statement, "iam-boundary-document"),
]


def test_drifts_the_audit_already_caught_still_fail_each_naming_its_resource(estate):
    applied = {}
    for drift, _ in CAUGHT_DRIFTS:
        if drift not in applied:
            applied[drift] = drift(estate)
    failed = failing(audit(estate, other_regions=NEAR_REGIONS))
    # The transit gateway the route leads to is not attached: only the route fails.
    assert set(failed) == {check_id for _, check_id in CAUGHT_DRIFTS}
    for drift, check_id in CAUGHT_DRIFTS:
        assert any(applied[drift] in arn for resources in failed[check_id] for arn in resources), (
            f"{drift.__name__}: {check_id} does not name {applied[drift]}: {failed[check_id]}"
        )


# --------------------------------------------------------------------------- what must not fail


def test_reports_and_rules_that_stay_inside_the_site_pass(estate):
    cfg = estate.cfg
    s3 = estate.client("s3")
    # An inventory into the site's own access-logs bucket, notifications to a queue of the data account.
    _inventory(estate, estate.buckets["access-logs"])
    s3.put_bucket_notification_configuration(
        Bucket=estate.buckets["user-data"],
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": f"arn:aws:sqs:{cfg.region}:{cfg.data_account_id}:uploads",
                    "Events": ["s3:ObjectCreated:*"],
                }
            ]
        },
    )
    # A SYSTEM rule keeps a name with the Resolver (which the DNS Firewall then filters).
    resolver = estate.client("route53resolver")
    rule = resolver.create_resolver_rule(
        CreatorRequestId="sys", RuleType="SYSTEM", DomainName=f"{cfg.region}.amazonaws.com"
    )["ResolverRule"]["Id"]
    resolver.associate_resolver_rule(ResolverRuleId=rule, VPCId=estate.vpc_id)
    # A snapshot nobody else may use.
    _snapshot(estate)
    # A resource share that was deleted hands nothing out.
    ram = estate.client("ram")
    ram.delete_resource_share(
        resourceShareArn=ram.create_resource_share(name="old")["resourceShare"]["resourceShareArn"]
    )
    assert failing(audit(estate, other_regions=NEAR_REGIONS)) == {}
