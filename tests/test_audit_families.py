"""The audit's perimeter families against a moto estate: each drift, written as an operator, an attacker
or a careless engineer would make it, fails exactly its checks and names the resource.

Families: what a policy allows (key, bucket, ACL, access point, secret and endpoint
policies), who can become a site role (trust, conditions, session length, the
boundary's document, escapes from it), the audit trail's own integrity (its key,
its selectors, delivery, flow logs, DNS query logs), the site's data anywhere
(other regions), and the DNS Firewall and account-level blocks (answered by
``tests.aws_unmodelled``, which moto lacks).
"""

from __future__ import annotations

import json
from datetime import timedelta

import moto.cloudtrail.models
import moto.ec2.models
import pytest

from tests.conftest import stack_config
from tests.estate import (
    NEAR_REGIONS,
    Answering,
    access_denied,
    assert_drifts_fail_exactly,
    assert_fails_exactly,
    audit,
    audit_as,
    aws_environment,
    build_estate,
    config_with_grants,
    failing,
    replace_flow_log,
    staff_trust,
)

STRANGER = "999999999999"

aws_env = pytest.fixture(aws_environment)


@pytest.fixture
def estate(aws_env):
    """The compliant site with a staff grant and a transfer grant in force (the documents they open)."""
    return build_estate(config_with_grants(stack_config("dublin")))


def _policy(e, bucket: str) -> dict:
    return json.loads(e.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])


def _add_bucket_statement(e, role: str, statement: dict) -> str:
    name = e.buckets[role]
    policy = _policy(e, name)
    policy["Statement"].append(statement)
    e.client("s3").put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    return f"arn:aws:s3:::{name}"


# --------------------------------------------------------------------------- what a policy allows


def _bucket_shared_with_another_account(e):
    return _add_bucket_statement(
        e,
        "user-data",
        {
            "Sid": "PartnerRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"},
            "Action": "s3:GetObject",
            "Resource": f"{e.cfg.bucket_arn('user-data')}/*",
        },
    )


def _bucket_public_read(e):
    return _add_bucket_statement(
        e,
        "access-logs",
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{e.cfg.bucket_arn('access-logs')}/*",
        },
    )


def _bucket_open_to_a_service_for_anyone(e):
    # No aws:SourceAccount: any account's CloudTrail could write (or read its ACL) here.
    return _add_bucket_statement(
        e,
        "audit-logs",
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": e.cfg.bucket_arn("audit-logs"),
        },
    )


def _bucket_acl_public(e):
    s3 = e.client("s3")
    name = e.buckets["access-logs"]
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    return f"arn:aws:s3:::{name}"


def _key_policy_for_a_stranger(e):
    kms = e.client("kms", operator=True)
    policy = json.loads(kms.get_key_policy(KeyId=e.key_arn, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "PartnerDecrypts",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=e.key_arn, PolicyName="default", Policy=json.dumps(policy))
    return e.key_arn


def _grant_to_a_stranger(e):
    e.client("kms", operator=True).create_grant(
        KeyId=e.key_arn, GranteePrincipal=f"arn:aws:iam::{STRANGER}:root", Operations=["Decrypt"]
    )
    return e.key_arn


def _grant_inside_the_site(e):
    # Even to a site role: a grant bypasses the key policy's kms:ViaService conditions.
    e.client("kms", operator=True).create_grant(
        KeyId=e.key_arn, GranteePrincipal=e.cfg.role_arn("workload"), Operations=["Decrypt"]
    )
    return e.key_arn


def _access_point_from_the_internet(e):
    e.client("s3control").create_access_point(
        AccountId=e.cfg.data_account_id, Name="analytics", Bucket=e.buckets["user-data"]
    )
    return "accesspoint/analytics"


def _access_point_in_a_site_vpc(e):
    # Even confined to the site's VPC: a second front door with its own policy, which no review admitted.
    e.client("s3control").create_access_point(
        AccountId=e.cfg.data_account_id,
        Name="reports",
        Bucket=e.buckets["user-data"],
        VpcConfiguration={"VpcId": e.vpc_id},
    )
    return "accesspoint/reports"


def _multi_region_access_point(e):
    e.client("s3control", region="us-west-2").create_multi_region_access_point(
        AccountId=e.cfg.data_account_id,
        ClientToken="mrap",
        Details={"Name": "global-reads", "Regions": [{"Bucket": e.buckets["user-data"]}]},
    )
    return f"account {e.cfg.data_account_id} (us-west-2)"


def _secret_policy_replaced(e):
    everyone = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}]}
    e.client("secretsmanager").put_resource_policy(SecretId=e.secret_arn, ResourcePolicy=json.dumps(everyone))
    return e.secret_arn


def _endpoint_full_access(e):
    full = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
    e.client("ec2").modify_vpc_endpoint(VpcEndpointId=e.endpoint_ids["kms"], PolicyDocument=json.dumps(full))
    return e.endpoint_ids["kms"]


def _endpoint_reaches_another_bucket(e):
    # The data account's own principals, but a bucket anyone could own: an exfiltration target.
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::drop-box-for-exports/*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": e.cfg.data_account_id}},
            }
        ]
    }
    e.client("ec2").modify_vpc_endpoint(VpcEndpointId=e.endpoint_ids["s3"], PolicyDocument=json.dumps(policy))
    return e.endpoint_ids["s3"]


def _gateway_endpoint_with_default_policy(e):
    ec2 = e.client("ec2")
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [e.vpc_id]}])["RouteTables"][0]
    return ec2.create_vpc_endpoint(
        VpcId=e.vpc_id,
        ServiceName=f"com.amazonaws.{e.cfg.region}.dynamodb",
        VpcEndpointType="Gateway",
        RouteTableIds=[table["RouteTableId"]],
    )["VpcEndpoint"]["VpcEndpointId"]


def _endpoint_to_someone_elses_service(e):
    restricted = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": e.cfg.data_account_id}},
            }
        ]
    }
    return e.client("ec2").create_vpc_endpoint(
        VpcId=e.vpc_id,
        ServiceName=f"com.amazonaws.vpce.{e.cfg.region}.vpce-svc-0123456789abcdef0",
        VpcEndpointType="Interface",
        SubnetIds=[e.subnet_id],
        PolicyDocument=json.dumps(restricted),
    )["VpcEndpoint"]["VpcEndpointId"]


def _export_bucket_opened_to_an_undeclared_recipient(e):
    # A copy of the declared grant's statement for another account: no grant declares it.
    policy = _policy(e, e.buckets["exports"])
    declared = next(st for st in policy["Statement"] if st["Effect"] == "Allow")
    policy["Statement"].append({**declared, "Sid": "Partner2", "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"}})
    e.client("s3").put_bucket_policy(Bucket=e.buckets["exports"], Policy=json.dumps(policy))
    return f"arn:aws:s3:::{e.buckets['exports']}"


def _export_key_decrypt_for_an_undeclared_recipient(e):
    kms = e.client("kms", operator=True)
    policy = json.loads(kms.get_key_policy(KeyId=e.export_key_arn, PolicyName="default")["Policy"])
    declared = next(st for st in policy["Statement"] if st.get("Sid", "").startswith("Transfer"))
    policy["Statement"].append({**declared, "Sid": "Partner2", "Principal": {"AWS": f"arn:aws:iam::{STRANGER}:root"}})
    kms.put_key_policy(KeyId=e.export_key_arn, PolicyName="default", Policy=json.dumps(policy))
    return e.export_key_arn


POLICY_DRIFTS = [
    (
        "export bucket opened to a recipient no grant declares",
        _export_bucket_opened_to_an_undeclared_recipient,
        {"s3-policy-site-only"},
    ),
    (
        "export key lets a recipient no grant declares decrypt",
        _export_key_decrypt_for_an_undeclared_recipient,
        {"kms-key-policy-site-only"},
    ),
    ("bucket policy shares objects with another account", _bucket_shared_with_another_account, {"s3-policy-site-only"}),
    ("bucket policy allows public reads", _bucket_public_read, {"s3-policy-site-only"}),
    ("bucket policy admits a service for any account", _bucket_open_to_a_service_for_anyone, {"s3-policy-site-only"}),
    ("bucket ACL made public-read", _bucket_acl_public, {"s3-acl-site-only", "s3-object-ownership-enforced"}),
    ("key policy statement for another account", _key_policy_for_a_stranger, {"kms-key-policy-site-only"}),
    ("key grant to another account", _grant_to_a_stranger, {"kms-key-no-grants"}),
    ("key grant to a site role", _grant_inside_the_site, {"kms-key-no-grants"}),
    ("access point open to the internet", _access_point_from_the_internet, {"s3-no-access-point"}),
    ("access point in a site VPC", _access_point_in_a_site_vpc, {"s3-no-access-point"}),
    ("Multi-Region Access Point on the user data", _multi_region_access_point, {"s3-no-multi-region-access-point"}),
    ("secret policy replaced by one allowing *", _secret_policy_replaced, {"secret-policy-site-only"}),
    ("KMS endpoint policy full access", _endpoint_full_access, {"vpc-endpoint-policy-site-only"}),
    (
        "S3 endpoint reaches a bucket of any account",
        _endpoint_reaches_another_bucket,
        {"vpc-endpoint-policy-site-only"},
    ),
    (
        "DynamoDB gateway endpoint with the default policy",
        _gateway_endpoint_with_default_policy,
        {"vpc-endpoint-policy-site-only"},
    ),
    (
        "interface endpoint to another account's service",
        _endpoint_to_someone_elses_service,
        {"vpc-endpoint-policy-site-only"},
    ),
]


# --------------------------------------------------------------------------- who can become a site role


def _trust(e, role: str, change) -> str:
    iam = e.client("iam")
    name = e.cfg.role_name(role)
    doc = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    change(doc)
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(doc))
    return e.cfg.role_arn(role)


def _staff_mfa_if_exists(e):
    trust = staff_trust(e.cfg)
    cond = trust["Statement"][0]["Condition"]
    cond["BoolIfExists"] = cond.pop("Bool")  # passes for long-term keys, which carry no MFA key at all
    e.client("iam").update_assume_role_policy(
        RoleName=e.cfg.role_name("staff-access"), PolicyDocument=json.dumps(trust)
    )
    return e.cfg.role_arn("staff-access")


def _staff_twelve_hour_sessions(e):
    e.client("iam").update_role(RoleName=e.cfg.role_name("staff-access"), MaxSessionDuration=43200)
    return e.cfg.role_arn("staff-access")


def _staff_trust_another_account(e):
    def add(doc):
        granted = doc["Statement"][0]["Principal"]
        granted["AWS"] = [granted["AWS"], f"arn:aws:iam::{STRANGER}:role/contractor"]

    return _trust(e, "staff-access", add)


def _staff_trust_everyone_with_conditions(e):
    # MFA and a ticket, but from anyone in any account.
    def widen(doc):
        doc["Statement"][0]["Principal"] = {"AWS": "*"}

    return _trust(e, "staff-access", widen)


def _staff_trust_an_identity_provider(e):
    def add(doc):
        doc["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{e.cfg.data_account_id}:saml-provider/corp"},
                "Action": "sts:AssumeRoleWithSAML",
            }
        )

    return _trust(e, "staff-access", add)


def _staff_grant_window_extended(e):
    # The grant's statement outlives the window the config declares.
    def extend(doc):
        doc["Statement"][0]["Condition"]["DateLessThanEquals"]["aws:CurrentTime"] = "2099-12-31T23:59:59Z"

    return _trust(e, "staff-access", extend)


def _staff_mfa_age_relaxed(e):
    def relax(doc):
        doc["Statement"][0]["Condition"]["NumericLessThanEquals"]["aws:MultiFactorAuthAge"] = "86400"

    return _trust(e, "staff-access", relax)


def _auditor_without_external_id(e):
    def drop(doc):
        del doc["Statement"][0]["Condition"]

    return _trust(e, "auditor", drop)


def _workload_ecs_without_source_account(e):
    def drop(doc):
        del doc["Statement"][0]["Condition"]

    return _trust(e, "workload", drop)


def _workload_trusts_lambda(e):
    def add(doc):
        doc["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": e.cfg.data_account_id}},
            }
        )

    return _trust(e, "workload", add)


def _boundary_version(e, change, arn: str | None = None) -> str:
    iam = e.client("iam")
    arn = arn or e.boundary_arn
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    change(doc)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
    return arn


def _auditor_boundary(e) -> str:
    return e.boundary_arn.replace("-boundary", "-auditor-boundary")


def _auditor_boundary_reads_user_data(e):
    def allow(doc):
        doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyUserDataObjects"]
        doc["Statement"].append(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{e.cfg.bucket_arn('user-data')}/*"}
        )

    return _boundary_version(e, allow, _auditor_boundary(e))


def _auditor_boundary_acts_anywhere(e):
    def everywhere(doc):
        doc["Statement"] = [s for s in doc["Statement"] if not s.get("Sid", "").startswith("DenyOutsideSiteRegion")]

    return _boundary_version(e, everywhere, _auditor_boundary(e))


def _auditor_under_the_data_boundary(e):
    # The data roles' boundary allows user data objects: the auditor would be capped by it instead.
    e.client("iam").put_role_permissions_boundary(
        RoleName=e.cfg.role_name("auditor"), PermissionsBoundary=e.boundary_arn
    )
    return e.cfg.role_arn("auditor")


def _boundary_region_deny_removed(e):
    return _boundary_version(
        e, lambda doc: doc.update(Statement=[s for s in doc["Statement"] if s.get("Sid") != "DenyOutsideSiteRegion"])
    )


def _boundary_region_deny_exempts_s3(e):
    def exempt(doc):
        next(s for s in doc["Statement"] if s.get("Sid") == "DenyOutsideSiteRegion")["NotAction"].append("s3:*")

    return _boundary_version(e, exempt)


def _boundary_replication_allowed(e):
    def allow(doc):
        deny = next(s for s in doc["Statement"] if s.get("Sid") == "DenyTransferOut")
        deny["Action"].remove("s3:PutReplicationConfiguration")

    return _boundary_version(e, allow)


def _boundary_allows_everything(e):
    return _boundary_version(
        e, lambda doc: doc["Statement"].append({"Sid": "Debug", "Effect": "Allow", "Action": "*", "Resource": "*"})
    )


def _role_trusting_a_workload_session(e):
    # A role outside the site prefix, without the boundary, that the workload's sessions may assume.
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": f"arn:aws:sts::{e.cfg.data_account_id}:assumed-role/{e.cfg.role_name('workload')}/job"
                },
                "Action": "sts:AssumeRole",
            }
        ]
    }
    e.client("iam").create_role(RoleName="batch-exporter", AssumeRolePolicyDocument=json.dumps(trust))
    return "role/batch-exporter"


def _role_trusting_everyone(e):
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    e.client("iam").create_role(RoleName="break-glass", AssumeRolePolicyDocument=json.dumps(trust))
    return "role/break-glass"


ROLE_DRIFTS = [
    ("staff MFA as BoolIfExists", _staff_mfa_if_exists, {"iam-staff-trust-mfa"}),
    ("staff sessions of twelve hours", _staff_twelve_hour_sessions, {"iam-staff-session-duration"}),
    ("staff trust adds another account's role", _staff_trust_another_account, {"iam-role-trust-site-only"}),
    (
        "staff trust opened to * with MFA and ticket",
        _staff_trust_everyone_with_conditions,
        {"iam-role-trust-site-only"},
    ),
    (
        "staff trust adds an identity provider",
        _staff_trust_an_identity_provider,
        {"iam-role-trust-site-only", "iam-staff-trust-mfa", "iam-staff-trust-ticket"},
    ),
    ("staff MFA age relaxed to a day", _staff_mfa_age_relaxed, {"iam-role-trust-conditions"}),
    ("staff grant window extended past its declaration", _staff_grant_window_extended, {"iam-role-trust-conditions"}),
    ("auditor trust without the external id", _auditor_without_external_id, {"iam-role-trust-conditions"}),
    ("workload trust without aws:SourceAccount", _workload_ecs_without_source_account, {"iam-role-trust-conditions"}),
    ("workload trust adds Lambda", _workload_trusts_lambda, {"iam-role-trust-site-only"}),
    ("boundary loses its region deny", _boundary_region_deny_removed, {"iam-boundary-document"}),
    ("boundary region deny exempts S3", _boundary_region_deny_exempts_s3, {"iam-boundary-document"}),
    ("boundary lets replication through", _boundary_replication_allowed, {"iam-boundary-document"}),
    ("boundary allows *", _boundary_allows_everything, {"iam-boundary-document"}),
    ("auditor boundary lets user data through", _auditor_boundary_reads_user_data, {"iam-boundary-document"}),
    ("auditor boundary loses its region deny", _auditor_boundary_acts_anywhere, {"iam-boundary-document"}),
    ("auditor under the data roles' boundary", _auditor_under_the_data_boundary, {"iam-role-boundary"}),
    ("another role trusts the workload's sessions", _role_trusting_a_workload_session, {"iam-account-role-trust"}),
    ("another role trusts everyone", _role_trusting_everyone, {"iam-account-role-trust"}),
]


# --------------------------------------------------------------------------- the audit trail's integrity


def _trail_with_a_data_account_key(e):
    key = e.client("kms").create_key()["KeyMetadata"]["Arn"]
    e.client("cloudtrail").update_trail(Name=e.cfg.trail_name, KmsKeyId=key)
    return e.cfg.trail_arn


def _data_events_removed(e):
    e.client("cloudtrail").put_event_selectors(
        TrailName=e.cfg.trail_name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    )
    return e.cfg.trail_arn


def _data_events_write_only(e):
    selector = {
        "ReadWriteType": "WriteOnly",
        "IncludeManagementEvents": False,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"{e.cfg.bucket_arn('user-data')}/"]}],
    }
    management = {"ReadWriteType": "All", "IncludeManagementEvents": True}
    e.client("cloudtrail").put_event_selectors(TrailName=e.cfg.trail_name, EventSelectors=[management, selector])
    return e.cfg.trail_arn


def _management_events_read_dropped(e):
    selector = {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"{e.cfg.bucket_arn('user-data')}/"]}],
    }
    writes = {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}
    e.client("cloudtrail").put_event_selectors(
        TrailName=e.cfg.trail_name, EventSelectors=[{**selector, "IncludeManagementEvents": False}, writes]
    )
    return e.cfg.trail_arn


def _flow_log_deleted(e):
    e.client("ec2").delete_flow_logs(FlowLogIds=[e.flow_log_id])
    return e.vpc_id


def _flow_log_rejects_only(e):
    return replace_flow_log(e, "REJECT")


def _flow_log_not_delivering(e):
    # AWS reports FAILED when delivery stops (e.g. the bucket policy no longer admits the
    # log service); moto never fails an S3 delivery, so the test sets the state it reports.
    backend = moto.ec2.models.ec2_backends[e.cfg.data_account_id][e.cfg.region]
    flow_log = backend.flow_logs[e.flow_log_id]
    flow_log.deliver_logs_status, flow_log.deliver_logs_error_message = "FAILED", "Access error"
    return e.flow_log_id


def _second_flow_log_to_a_log_group_elsewhere(e):
    # A log group in another region receives the network metadata too.
    e.client("ec2").create_flow_logs(
        ResourceIds=[e.vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogDestination=f"arn:aws:logs:us-east-1:{e.cfg.data_account_id}:log-group:copies",
        DeliverLogsPermissionArn=f"arn:aws:iam::{e.cfg.data_account_id}:role/flow-logs",
    )
    return e.vpc_id


def _query_logging_removed(e):
    resolver = e.client("route53resolver")
    (association,) = resolver.list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"]
    resolver.disassociate_resolver_query_log_config(
        ResolverQueryLogConfigId=association["ResolverQueryLogConfigId"], ResourceId=e.vpc_id
    )
    return e.vpc_id


def _query_logs_also_to_another_bucket(e):
    resolver = e.client("route53resolver")
    config = resolver.create_resolver_query_log_config(
        Name="copy", DestinationArn="arn:aws:s3:::dns-archive-of-a-partner", CreatorRequestId="copy"
    )["ResolverQueryLogConfig"]["Id"]
    resolver.associate_resolver_query_log_config(ResolverQueryLogConfigId=config, ResourceId=e.vpc_id)
    return e.vpc_id


TRAIL_DRIFTS = [
    ("trail encrypted with a data-account key", _trail_with_a_data_account_key, {"trail-kms-operator-key"}),
    ("trail data events removed", _data_events_removed, {"trail-data-events"}),
    ("trail records only writes of user data", _data_events_write_only, {"trail-data-events"}),
    ("trail drops read management events", _management_events_read_dropped, {"trail-management-events"}),
    ("flow log deleted", _flow_log_deleted, {"vpc-flow-log-all-traffic"}),
    ("flow log of rejected traffic only", _flow_log_rejects_only, {"vpc-flow-log-all-traffic"}),
    ("flow log not delivering", _flow_log_not_delivering, {"vpc-flow-log-delivering"}),
    ("second flow log into another region", _second_flow_log_to_a_log_group_elsewhere, {"vpc-flow-log-all-traffic"}),
    ("DNS query logging removed", _query_logging_removed, {"dns-query-logging"}),
    ("DNS query logs also into another bucket", _query_logs_also_to_another_bucket, {"dns-query-logging"}),
]


# --------------------------------------------------------------------------- the site's data anywhere


def _secret_in_us_east_1(e):
    return e.client("secretsmanager", region="us-east-1").create_secret(Name="export-token", SecretString="x")["ARN"]


def _key_in_us_east_1(e):
    return e.client("kms", region="us-east-1").create_key()["KeyMetadata"]["Arn"]


def _table_in_us_west_2(e):
    e.client("dynamodb", region="us-west-2").create_table(
        TableName="user-events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "table/user-events"


def _bucket_in_us_east_1(e):
    e.client("s3", region="us-east-1").create_bucket(Bucket="quick-export-2026")
    return "arn:aws:s3:::quick-export-2026"


def _volume_in_ap_southeast_2(e):
    return e.client("ec2", region="ap-southeast-2").create_volume(AvailabilityZone="ap-southeast-2a", Size=8)[
        "VolumeId"
    ]


def _log_group_in_eu_central_1(e):
    # Another EEA region is still outside the site: the data account holds one site.
    e.client("logs", region="eu-central-1").create_log_group(logGroupName="/app/requests")
    return "log-group:/app/requests"


def _site_tagged_resource_elsewhere(e):
    # Not a data store by type, but tagged as the site's own: the site spilled over.
    vpc = e.client("ec2", region="us-west-1").create_vpc(
        CidrBlock="10.40.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "enclave:site", "Value": e.cfg.site}]}],
    )["Vpc"]["VpcId"]
    return vpc


def _queue_in_us_east_2(e):
    return e.client("sqs", region="us-east-2").create_queue(QueueName="user-exports")["QueueUrl"].rsplit("/", 1)[-1]


def _tagged_database_in_sa_east_1(e):
    # Found through its tag (an RDS listing needs a resource-level grant the audit does without).
    return e.client("rds", region="sa-east-1").create_db_instance(
        DBInstanceIdentifier="analytics",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        Tags=[{"Key": "team", "Value": "bi"}],
    )["DBInstance"]["DBInstanceArn"]


REGION_DRIFTS = [
    ("secret in us-east-1", _secret_in_us_east_1, {"region-no-site-data"}),
    ("customer managed key in us-east-1", _key_in_us_east_1, {"region-no-site-data"}),
    ("DynamoDB table in us-west-2", _table_in_us_west_2, {"region-no-site-data"}),
    ("bucket in us-east-1", _bucket_in_us_east_1, {"s3-bucket-in-region"}),
    ("EBS volume in ap-southeast-2", _volume_in_ap_southeast_2, {"region-no-site-data"}),
    ("log group in eu-central-1", _log_group_in_eu_central_1, {"region-no-site-data"}),
    ("site-tagged VPC in us-west-1", _site_tagged_resource_elsewhere, {"region-no-site-data"}),
    ("tagged database in sa-east-1", _tagged_database_in_sa_east_1, {"region-no-site-data"}),
    ("queue in us-east-2", _queue_in_us_east_2, {"region-no-site-data"}),
]


# --------------------------------------------------------------------------- DNS Firewall and account-level blocks


def _firewall_association_removed(e):
    resolver = e.client("route53resolver")
    association = e.firewall["association"]
    resolver.update_firewall_rule_group_association(
        FirewallRuleGroupAssociationId=association, MutationProtection="DISABLED"
    )
    resolver.disassociate_firewall_rule_group(FirewallRuleGroupAssociationId=association)
    return e.vpc_id


def _firewall_mutation_protection_off(e):
    e.client("route53resolver").update_firewall_rule_group_association(
        FirewallRuleGroupAssociationId=e.firewall["association"], MutationProtection="DISABLED"
    )
    return e.firewall["association"]


def _firewall_fails_open(e):
    e.client("route53resolver").update_firewall_config(ResourceId=e.vpc_id, FirewallFailOpen="ENABLED")
    return e.vpc_id


def _firewall_allows_every_region(e):
    e.client("route53resolver").update_firewall_domains(
        FirewallDomainListId=e.firewall["allowed"], Operation="ADD", Domains=["*.amazonaws.com"]
    )
    return e.vpc_id


def _firewall_allows_a_domain_outside_aws(e):
    e.client("route53resolver").update_firewall_domains(
        FirewallDomainListId=e.firewall["allowed"], Operation="ADD", Domains=["*.eu-west-1.amazonaws.com.example.net"]
    )
    return e.vpc_id


def _firewall_block_only_for_a_records(e):
    e.client("route53resolver").update_firewall_rule(
        FirewallRuleGroupId=e.firewall["group"], FirewallDomainListId=e.firewall["blocked"], Qtype="A"
    )
    return e.vpc_id


def _firewall_allow_all_group_first(e):
    # A second rule group, protected, evaluated before the site's: it lets every name through.
    resolver = e.client("route53resolver")
    everything = resolver.create_firewall_domain_list(CreatorRequestId="all", Name="all")["FirewallDomainList"]["Id"]
    resolver.update_firewall_domains(FirewallDomainListId=everything, Operation="REPLACE", Domains=["*"])
    group = resolver.create_firewall_rule_group(CreatorRequestId="open", Name="open")["FirewallRuleGroup"]["Id"]
    resolver.create_firewall_rule(
        CreatorRequestId="open",
        FirewallRuleGroupId=group,
        FirewallDomainListId=everything,
        Priority=1,
        Action="ALERT",
        Name="log-only",
    )
    resolver.associate_firewall_rule_group(
        CreatorRequestId="open",
        FirewallRuleGroupId=group,
        VpcId=e.vpc_id,
        Priority=100,
        Name="open",
        MutationProtection="ENABLED",
    )
    return e.vpc_id


def _vpc_block_public_access_off(e):
    e.client("ec2").modify_vpc_block_public_access_options(InternetGatewayBlockMode="off")
    return f"account {e.cfg.data_account_id}"


def _vpc_block_public_access_ingress_only(e):
    e.client("ec2").modify_vpc_block_public_access_options(InternetGatewayBlockMode="block-ingress")
    return f"account {e.cfg.data_account_id}"


def _vpc_block_public_access_exclusion(e):
    e.client("ec2").create_vpc_block_public_access_exclusion(
        VpcId=e.vpc_id, InternetGatewayExclusionMode="allow-egress"
    )
    return e.vpc_id


def _account_s3_block_weakened(e):
    e.client("s3control").put_public_access_block(
        AccountId=e.cfg.data_account_id,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    return f"account {e.cfg.data_account_id}"


def _account_s3_block_deleted(e):
    e.client("s3control").delete_public_access_block(AccountId=e.cfg.data_account_id)
    return f"account {e.cfg.data_account_id}"


def _snapshot_sharing_unblocked(e):
    e.client("ec2").disable_snapshot_block_public_access()
    return f"account {e.cfg.data_account_id}"


def _snapshot_block_new_sharing_only(e):
    # block-new-sharing leaves snapshots already public as they are.
    e.client("ec2").enable_snapshot_block_public_access(State="block-new-sharing")
    return f"account {e.cfg.data_account_id}"


def _image_sharing_unblocked(e):
    e.client("ec2").disable_image_block_public_access()
    return f"account {e.cfg.data_account_id}"


def _ebs_encryption_off(e):
    e.client("ec2").disable_ebs_encryption_by_default()
    return f"account {e.cfg.data_account_id}"


def _serial_console_on(e):
    e.client("ec2").enable_serial_console_access()
    return f"account {e.cfg.data_account_id}"


def _imds_v1_allowed(e):
    e.client("ec2").modify_instance_metadata_defaults(HttpTokens="optional")
    return f"account {e.cfg.data_account_id}"


def _ssm_documents_shareable(e):
    e.client("ssm").update_service_setting(
        SettingId="/ssm/documents/console/public-sharing-permission", SettingValue="Enable"
    )
    return f"account {e.cfg.data_account_id}"


def _emr_ssh_from_anywhere(e):
    # AWS's own default: block public rules, but let port 22 through.
    e.client("emr").put_block_public_access_configuration(
        BlockPublicAccessConfiguration={
            "BlockPublicSecurityGroupRules": True,
            "PermittedPublicSecurityGroupRuleRanges": [{"MinRange": 22, "MaxRange": 22}],
        }
    )
    return f"account {e.cfg.data_account_id}"


BLOCK_DRIFTS = [
    ("SSM documents shareable publicly", _ssm_documents_shareable, {"account-ssm-document-sharing-blocked"}),
    ("EMR lets port 22 through from anywhere", _emr_ssh_from_anywhere, {"account-emr-block-public-access"}),
    ("DNS Firewall association removed", _firewall_association_removed, {"dns-firewall-blocks-egress"}),
    ("DNS Firewall mutation protection off", _firewall_mutation_protection_off, {"dns-firewall-mutation-protected"}),
    ("DNS Firewall fails open", _firewall_fails_open, {"dns-firewall-fail-closed"}),
    ("DNS Firewall allows every region's AWS names", _firewall_allows_every_region, {"dns-firewall-blocks-egress"}),
    ("DNS Firewall allows a look-alike domain", _firewall_allows_a_domain_outside_aws, {"dns-firewall-blocks-egress"}),
    ("DNS Firewall blocks only A queries", _firewall_block_only_for_a_records, {"dns-firewall-blocks-egress"}),
    (
        "DNS Firewall rule group that lets all through first",
        _firewall_allow_all_group_first,
        {"dns-firewall-blocks-egress"},
    ),
    ("VPC Block Public Access off", _vpc_block_public_access_off, {"account-vpc-block-public-access"}),
    (
        "VPC Block Public Access ingress only",
        _vpc_block_public_access_ingress_only,
        {"account-vpc-block-public-access"},
    ),
    ("VPC Block Public Access exclusion", _vpc_block_public_access_exclusion, {"account-vpc-block-public-access"}),
    ("account S3 public access block weakened", _account_s3_block_weakened, {"account-s3-public-access-block"}),
    ("account S3 public access block deleted", _account_s3_block_deleted, {"account-s3-public-access-block"}),
    ("snapshot public sharing unblocked", _snapshot_sharing_unblocked, {"account-ebs-snapshot-block-public-access"}),
    (
        "snapshot block for new sharing only",
        _snapshot_block_new_sharing_only,
        {"account-ebs-snapshot-block-public-access"},
    ),
    ("image public sharing unblocked", _image_sharing_unblocked, {"account-ami-block-public-access"}),
    ("EBS encryption by default off", _ebs_encryption_off, {"account-ebs-encryption-by-default"}),
    ("serial console access on", _serial_console_on, {"account-serial-console-off"}),
    ("IMDSv1 allowed by default", _imds_v1_allowed, {"account-imdsv2-required"}),
]

DRIFTS = POLICY_DRIFTS + ROLE_DRIFTS + TRAIL_DRIFTS + BLOCK_DRIFTS


@pytest.mark.parametrize(("drift", "expected"), [(d[1], d[2]) for d in DRIFTS], ids=[d[0] for d in DRIFTS])
def test_each_drift_fails_exactly_its_checks(estate, drift, expected):
    assert_fails_exactly(estate, drift, expected)


def test_each_drift_into_another_region_fails_exactly_its_checks(estate):
    """Every drift of REGION_DRIFTS at once, under one sweep of every enabled region (the drifts sit in
    different regions, so each region's result is its own drift's): each fails its check naming its
    resource, and no region without a drift fails."""
    failed = assert_drifts_fail_exactly(estate, REGION_DRIFTS, other_regions=None)  # every enabled region
    regions = {name.rsplit(" in ", 1)[1] for name, _, expected in REGION_DRIFTS if "region-no-site-data" in expected}
    assert len(failed["region-no-site-data"]) == len(regions), failed["region-no-site-data"]


# --------------------------------------------------------------------------- what must not fail


def _results(estate, check_id):
    return [r for r in audit(estate, other_regions=NEAR_REGIONS) if r.id == check_id]


def test_an_allow_that_a_deny_in_the_same_policy_kills_is_not_a_finding(estate):
    # The pepper's policy denies GetSecretValue to all but the workload and the deployer;
    # an Allow of it to everyone next to that Deny grants nobody anything (AWS: an
    # explicit deny wins), so it is not reported. A read of the value is what matters.
    sm = estate.client("secretsmanager")
    policy = json.loads(sm.get_resource_policy(SecretId=estate.secret_arn)["ResourcePolicy"])
    policy["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    )
    sm.put_resource_policy(SecretId=estate.secret_arn, ResourcePolicy=json.dumps(policy))
    assert failing(audit(estate, other_regions=NEAR_REGIONS)) == {}


def test_declared_grants_explain_the_export_documents_and_the_staff_trust(estate):
    results = {(r.id, r.resources[0]): r for r in audit(estate, other_regions=NEAR_REGIONS)}
    bucket = results["s3-policy-site-only", f"arn:aws:s3:::{estate.buckets['exports']}"]
    assert bucket.status == "pass" and "explained by declared transfer grants" in bucket.found, bucket.found
    key = results["kms-key-policy-site-only", estate.export_key_arn]
    assert key.status == "pass" and "explained by the site's declared grants" in key.found, key.found
    staff = results["iam-role-trust-site-only", estate.cfg.role_arn("staff-access")]
    assert staff.status == "pass"


def test_advanced_event_selectors_with_the_same_coverage_pass(estate):
    bucket = estate.cfg.bucket_arn("user-data")
    estate.client("cloudtrail").put_event_selectors(
        TrailName=estate.cfg.trail_name,
        AdvancedEventSelectors=[
            {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {
                "Name": "user data objects",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "resources.ARN", "StartsWith": [f"{bucket}/"]},
                ],
            },
        ],
    )
    results = audit(estate, other_regions=NEAR_REGIONS)
    assert failing(results) == {}
    assert {r.found for r in results if r.id == "trail-data-events"} == {
        "data events on the user-data bucket: read and write"
    }


def test_advanced_selectors_that_keep_only_some_event_names_fail(estate):
    bucket = estate.cfg.bucket_arn("user-data")
    estate.client("cloudtrail").put_event_selectors(
        TrailName=estate.cfg.trail_name,
        AdvancedEventSelectors=[
            {"Name": "management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {
                "Name": "only deletions",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "eventName", "Equals": ["DeleteObject"]},
                    {"Field": "resources.ARN", "StartsWith": [f"{bucket}/"]},
                ],
            },
        ],
    )
    assert set(failing(audit(estate, other_regions=NEAR_REGIONS))) == {"trail-data-events"}


def test_a_hand_made_site_role_trusting_ec2_fails_only_for_its_missing_boundary(estate):
    # EC2 receives a role only through iam:PassRole in the same account: it is inside.
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    estate.client("iam").create_role(
        RoleName=f"{estate.cfg.name_prefix}-batch",
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary=estate.boundary_arn,
    )
    assert failing(audit(estate, other_regions=NEAR_REGIONS)) == {}


def test_a_hand_made_site_role_trusting_a_service_for_any_account_fails(estate):
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    estate.client("iam").create_role(
        RoleName=f"{estate.cfg.name_prefix}-notify",
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary=estate.boundary_arn,
    )
    failed = failing(audit(estate, other_regions=NEAR_REGIONS))
    assert set(failed) == {"iam-role-trust-site-only"}
    assert failed["iam-role-trust-site-only"] == [
        [f"arn:aws:iam::{estate.cfg.data_account_id}:role/enclave-dublin-notify"]
    ]


def test_an_untagged_vpc_in_another_region_is_not_data(estate):
    estate.client("ec2", region="us-east-1").create_vpc(CidrBlock="10.98.0.0/16")
    assert failing(audit(estate, other_regions=NEAR_REGIONS)) == {}


def test_a_stalled_trail_fails_delivery_hours_later(estate):
    from datetime import UTC, datetime

    later = datetime.now(UTC) + timedelta(hours=3)
    failed = failing(audit(estate, now=later, other_regions=NEAR_REGIONS))
    assert set(failed) == {"trail-delivering"}


def test_a_trail_delivery_error_fails_delivery(estate, monkeypatch):
    # AWS reports LatestDeliveryError when CloudTrail cannot write (bucket or key policy);
    # moto never does, so the test adds it to moto's answer.
    describe = moto.cloudtrail.models.TrailStatus.description
    monkeypatch.setattr(
        moto.cloudtrail.models.TrailStatus,
        "description",
        lambda self: {**describe(self), "LatestDeliveryError": "AccessDenied"},
    )
    (result,) = _results(estate, "trail-delivering")
    assert (result.status, result.found) == ("fail", "LatestDeliveryError: AccessDenied")


def test_a_region_the_auditor_may_not_read_fails_and_names_the_permission(estate):
    cfg = estate.cfg
    rule = ("secretsmanager", "us-east-1", "before-call.secrets-manager.ListSecrets", access_denied)
    session = Answering(cfg.region, cfg.data_account_id, rule)
    results = audit_as(estate, session, other_regions=NEAR_REGIONS)
    (result,) = [r for r in results if r.status == "fail"]
    assert result.id == "region-no-site-data"
    assert result.resources == [f"account {cfg.data_account_id} (us-east-1)"]
    assert result.found == "not readable: secretsmanager:ListSecrets denied in us-east-1"
    assert "exempt these read-only actions" in result.fix


def test_reads_aws_refuses_fail_closed_and_never_abort(estate):
    # Route 53 Resolver and SSM reads the auditor role lost (or a future read still pending,
    # checks.PENDING_PERMISSIONS): their checks fail closed, naming the permission.
    cfg = estate.cfg
    session = Answering(
        cfg.region,
        cfg.data_account_id,
        ("route53resolver", None, "before-call.route53resolver", access_denied),
        ("ssm", None, "before-call.ssm.GetServiceSetting", access_denied),
    )
    results = audit_as(estate, session, other_regions=NEAR_REGIONS)
    failed = {r.id: r for r in results if r.status == "fail"}
    assert set(failed) == {
        "dns-query-logging",
        "dns-firewall-blocks-egress",
        "dns-firewall-mutation-protected",
        "dns-firewall-fail-closed",
        "dns-no-resolver-forwarding",
        "account-ssm-document-sharing-blocked",
    }
    assert (
        failed["dns-firewall-fail-closed"].found == "not readable: route53resolver:ListResolverQueryLogConfigs denied"
    )
    assert failed["account-ssm-document-sharing-blocked"].found == "not readable: ssm:GetServiceSetting denied"
    assert "Grant the auditor role ssm:GetServiceSetting" in failed["account-ssm-document-sharing-blocked"].fix


def test_dns_firewall_rules_the_auditor_may_not_read_fail_closed(estate):
    cfg = estate.cfg
    rule = ("route53resolver", None, "before-call.route53resolver.ListFirewallRules", access_denied)
    results = audit_as(estate, Answering(cfg.region, cfg.data_account_id, rule), other_regions=NEAR_REGIONS)
    (result,) = [r for r in results if r.status == "fail"]
    assert (result.id, result.found) == (
        "dns-firewall-blocks-egress",
        "not readable: route53resolver:ListFirewallRules denied",
    )
    assert f"arn:aws:route53resolver:{cfg.region}:{cfg.data_account_id}:*" in result.fix
