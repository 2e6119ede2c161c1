"""IsolatedNetwork: private subnets with no route out, closed defaults, endpoint-only egress, flow logs."""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pytest
from parliament import analyze_policy_string

from components.audit_trail import FLOW_LOG_PREFIX, AuditTrail, AuditTrailArgs
from components.config import SiteConfig, site_config_from_mapping
from components.isolated_network import (
    ENDPOINT_POLICIES,
    ENDPOINT_SERVICES,
    IsolatedNetwork,
    IsolatedNetworkArgs,
    subnet_cidrs,
)
from tests.conftest import KEY_ARN, STACKS, settled, stack_config, use_mocks
from tests.records import audit_log_prerequisite_urns

LOG_BUCKET_ARN = "arn:aws:s3:::enclave-dublin-audit-logs-111111111111"

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
DEFAULT_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ACL = "aws:ec2/networkAcl:NetworkAcl"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EXCLUSIVE = "aws:ec2/vpcSecurityGroupRulesExclusive:VpcSecurityGroupRulesExclusive"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"

# Anything that would give the VPC a way out, or let rules/routes bypass the inline sets.
WAY_OUT_TYPES = {
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
    "aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment",
    "aws:ec2/vpnConnection:VpnConnection",
    "aws:ec2/customerGateway:CustomerGateway",
    "aws:ec2/route:Route",
    "aws:ec2/eip:Eip",
    "aws:ec2/networkAclRule:NetworkAclRule",
    "aws:ec2/networkAclAssociation:NetworkAclAssociation",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:ec2/vpcIpv6CidrBlockAssociation:VpcIpv6CidrBlockAssociation",
}

# Parliament findings that are artefacts of its data, each with the reason it is accepted.
LINT_SUPPRESSIONS = {
    # Parliament's bundled IAM definitions mark both accesspoint* and object* as
    # required resource types of GetObjectAttributes; AWS authorises it on object ARNs.
    ("s3", "RESOURCE_MISMATCH"): "GetObjectAttributes is authorised on object ARNs",
    # A community auditor flags every sts:AssumeRole grant; assuming data-account
    # roles is exactly what the STS endpoint is for, and no other account's role is allowed.
    ("sts", "CREDENTIALS_EXPOSURE"): "assuming data-account roles is the STS endpoint's purpose",
}


def build(cfg: SiteConfig, site_providers, bucket_arn: pulumi.Input[str] = LOG_BUCKET_ARN) -> IsolatedNetwork:
    return IsolatedNetwork(
        f"{cfg.name_prefix}-network",
        IsolatedNetworkArgs(config=cfg, provider=site_providers.data, flow_log_bucket_arn=bucket_arn),
    )


def of_type(records, type_: str) -> list:
    return [r for r in records if r.type == type_]


def one(records, type_: str):
    found = of_type(records, type_)
    assert len(found) == 1, f"expected one {type_}, got {[r.urn for r in found]}"
    return found[0]


def named(records, type_: str, suffix: str):
    found = [r for r in of_type(records, type_) if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {type_} named *{suffix}, got {[r.urn for r in found]}"
    return found[0]


# --------------------------------------------------------------------------- subnet carving


def test_subnets_are_disjoint_quarters_of_the_vpc():
    cidrs = [ipaddress.IPv4Network(c) for c in subnet_cidrs("10.20.0.0/16", 3)]
    assert [str(c) for c in cidrs] == ["10.20.0.0/18", "10.20.64.0/18", "10.20.128.0/18"]
    assert all(c.subnet_of(ipaddress.IPv4Network("10.20.0.0/16")) for c in cidrs)
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def test_smallest_vpc_still_fits_four_zones():
    assert subnet_cidrs("192.168.4.0/24", 4) == [
        "192.168.4.0/26",
        "192.168.4.64/26",
        "192.168.4.128/26",
        "192.168.4.192/26",
    ]


@pytest.mark.parametrize("count", [0, 5])
def test_zone_count_outside_one_to_four_is_refused(count):
    with pytest.raises(ValueError, match=f"expected 1 to 4 availability zones, got {count}"):
        subnet_cidrs("10.20.0.0/16", count)


# --------------------------------------------------------------------------- VPC and subnets


@pulumi.runtime.test
def test_every_child_is_parented_and_on_the_data_provider(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (component_urn, data_provider_urn), records = args
        children = [r for r in records if r.type.startswith(("aws:ec2/", "aws:vpc/"))]
        assert len(children) == 1 + 3 + 3 + 1 + 3 + 1 + 2 + 2 + 2 + len(ENDPOINT_SERVICES) + 1, [
            r.urn for r in children
        ]
        for rec in children:
            assert rec.parent == component_urn, f"{rec.urn}: parent {rec.parent}"
            assert rec.provider_urn == data_provider_urn, f"{rec.urn}: provider {rec.provider!r}"
            assert "region" not in rec.inputs, f"{rec.urn}: the provider's region is the single source"

    return settled(monitor, network.urn, site_providers.data.urn).apply(check)


@pulumi.runtime.test
def test_vpc_has_the_site_cidr_dns_for_private_endpoints_and_no_ipv6(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id,), records = args
        vpc = one(records, VPC)
        assert vpc.id == vpc_id, vpc.urn
        assert vpc.inputs["cidrBlock"] == "10.20.0.0/16", vpc.urn
        assert vpc.inputs["enableDnsSupport"] is True, f"{vpc.urn}: private DNS needs DNS support"
        assert vpc.inputs["enableDnsHostnames"] is True, f"{vpc.urn}: private DNS needs DNS hostnames"
        assert vpc.inputs.get("assignGeneratedIpv6CidrBlock") is False, f"{vpc.urn}: no IPv6 block"
        for key in ("ipv6CidrBlock", "ipv6IpamPoolId", "ipv4IpamPoolId"):
            assert key not in vpc.inputs, f"{vpc.urn}: {key} set"

    return settled(monitor, network.vpc_id).apply(check)


@pulumi.runtime.test
def test_one_private_subnet_per_zone_without_public_addresses(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id, subnet_ids), records = args
        # Registrations arrive in any order; the zone names the subnet.
        by_zone = {s.inputs["availabilityZone"]: s for s in of_type(records, SUBNET)}
        zones = list(dublin_config.availability_zones)
        assert sorted(by_zone) == sorted(zones), f"one subnet per zone: {sorted(by_zone)}"
        subnets = [by_zone[zone] for zone in zones]
        assert [s.inputs["cidrBlock"] for s in subnets] == subnet_cidrs("10.20.0.0/16", 3)
        assert subnet_ids == [s.id for s in subnets], "private_subnet_ids must follow the zone order"
        for rec in subnets:
            assert rec.inputs["vpcId"] == vpc_id, rec.urn
            assert rec.inputs["mapPublicIpOnLaunch"] is False, f"{rec.urn}: public IPs on launch"
            assert rec.inputs.get("assignIpv6AddressOnCreation") is False, f"{rec.urn}: IPv6 on creation"
            assert "ipv6CidrBlock" not in rec.inputs, rec.urn

    return settled(monitor, network.vpc_id, network.private_subnet_ids).apply(check)


# --------------------------------------------------------------------------- no way out


@pulumi.runtime.test
def test_nothing_leads_out_of_the_vpc(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        way_out = [r.urn for r in records if r.type in WAY_OUT_TYPES]
        assert not way_out, f"resources that open a way out: {way_out}"
        for rec in of_type(records, ROUTE_TABLE) + of_type(records, DEFAULT_ROUTE_TABLE):
            assert rec.inputs["routes"] == [], f"{rec.urn}: routes {rec.inputs['routes']}"
        for rec in of_type(records, ENDPOINT):
            assert rec.inputs["vpcEndpointType"] == "Interface", f"{rec.urn}: gateway endpoints route to public ranges"
            assert "routeTableIds" not in rec.inputs, rec.urn

    return settled(monitor, network.vpc_id).apply(check)


@pytest.mark.parametrize("stack", STACKS)
def test_whole_program_has_no_way_out(program_run, stack):
    run = program_run(stack)
    (network,) = run.of_type("enclave:network:IsolatedNetwork")
    (vpc,) = run.of_type(VPC)
    assert vpc.parent == network.urn, f"{stack}: the program's only VPC must be the isolated one"
    assert len(run.of_type(FLOW_LOG)) == 1 and len(run.of_type(ENDPOINT)) == len(ENDPOINT_SERVICES), stack
    way_out = [r.urn for r in run.resources if r.type in WAY_OUT_TYPES]
    assert not way_out, f"{stack}: resources that open a way out: {way_out}"
    for rec in run.resources:
        for route in rec.inputs.get("routes") or []:
            pytest.fail(f"{rec.urn}: route {route} (the site has only the implicit local route)")


@pulumi.runtime.test
def test_subnets_use_an_empty_route_table(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id, subnet_ids), records = args
        table = one(records, ROUTE_TABLE)
        assert table.inputs["vpcId"] == vpc_id, table.urn
        assert table.inputs["routes"] == [], f"{table.urn}: explicit empty list removes stray routes"
        associations = of_type(records, ROUTE_TABLE_ASSOCIATION)
        assert sorted(a.inputs["subnetId"] for a in associations) == sorted(subnet_ids)
        for assoc in associations:
            assert assoc.inputs["routeTableId"] == table.id, assoc.urn
            assert "gatewayId" not in assoc.inputs, assoc.urn

    return settled(monitor, network.vpc_id, network.private_subnet_ids).apply(check)


@pulumi.runtime.test
def test_default_route_table_acl_and_security_group_are_emptied(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id,), records = args
        vpc = one(records, VPC)
        routes = one(records, DEFAULT_ROUTE_TABLE)
        assert routes.inputs["defaultRouteTableId"] == vpc.outputs["mainRouteTableId"], routes.urn
        assert routes.inputs["routes"] == [], routes.urn
        acl = one(records, DEFAULT_ACL)
        assert acl.inputs["defaultNetworkAclId"] == vpc.outputs["defaultNetworkAclId"], acl.urn
        assert acl.inputs["ingress"] == [] and acl.inputs["egress"] == [], f"{acl.urn}: no rules = deny all"
        assert not acl.inputs.get("subnetIds"), f"{acl.urn}: the site's subnets use the custom ACL"
        sg = one(records, DEFAULT_SG)
        assert sg.inputs["vpcId"] == vpc_id, sg.urn
        assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == [], f"{sg.urn}: default SG must have no rules"

    return settled(monitor, network.vpc_id).apply(check)


# --------------------------------------------------------------------------- network ACL


def _acl_direction(rules: list[dict], cidr: str, urn: str) -> None:
    by_number = sorted(rules, key=lambda r: r["ruleNo"])
    allows = [r for r in by_number if r["action"] == "allow"]
    assert allows == [by_number[0]], f"{urn}: the only allow must be the first rule: {by_number}"
    assert allows[0]["cidrBlock"] == cidr and allows[0]["protocol"] == "-1", f"{urn}: {allows}"
    assert "ipv6CidrBlock" not in allows[0], urn
    denies = {(r.get("cidrBlock"), r.get("ipv6CidrBlock")) for r in by_number if r["action"] == "deny"}
    assert denies == {("0.0.0.0/0", None), (None, "::/0")}, f"{urn}: explicit denies {denies}"
    assert all(r["protocol"] == "-1" for r in by_number), f"{urn}: every rule covers all protocols"


@pulumi.runtime.test
def test_network_acl_allows_only_the_vpc_cidr_both_ways(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id, subnet_ids), records = args
        acl = one(records, ACL)
        assert acl.inputs["vpcId"] == vpc_id, acl.urn
        assert sorted(acl.inputs["subnetIds"]) == sorted(subnet_ids), f"{acl.urn}: must cover every subnet"
        _acl_direction(acl.inputs["egress"], "10.20.0.0/16", acl.urn + " egress")
        _acl_direction(acl.inputs["ingress"], "10.20.0.0/16", acl.urn + " ingress")

    return settled(monitor, network.vpc_id, network.private_subnet_ids).apply(check)


# --------------------------------------------------------------------------- security groups


@pulumi.runtime.test
def test_workload_reaches_only_the_endpoints_on_https(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (workload_id,), records = args
        workload = named(records, SG, "-workload-sg")
        endpoints = named(records, SG, "-endpoints-sg")
        assert workload.id == workload_id, workload.urn
        for sg in (workload, endpoints):
            assert "ingress" not in sg.inputs and "egress" not in sg.inputs, f"{sg.urn}: rules live in rule resources"
        (egress,) = of_type(records, SG_EGRESS)
        (ingress,) = of_type(records, SG_INGRESS)
        https_only = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
        assert egress.inputs["securityGroupId"] == workload.id, egress.urn
        assert egress.inputs["referencedSecurityGroupId"] == endpoints.id, egress.urn
        assert ingress.inputs["securityGroupId"] == endpoints.id, ingress.urn
        assert ingress.inputs["referencedSecurityGroupId"] == workload.id, ingress.urn
        for rule in (egress, ingress):
            assert {k: rule.inputs[k] for k in https_only} == https_only, f"{rule.urn}: {rule.inputs}"
            for key in ("cidrIpv4", "cidrIpv6", "prefixListId"):
                assert key not in rule.inputs, f"{rule.urn}: {key} would open a non-endpoint destination"

    return settled(monitor, network.workload_security_group_id).apply(check)


@pulumi.runtime.test
def test_security_groups_own_their_rule_sets_exclusively(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        _, records = args
        workload = named(records, SG, "-workload-sg")
        endpoints = named(records, SG, "-endpoints-sg")
        (egress,) = of_type(records, SG_EGRESS)
        (ingress,) = of_type(records, SG_INGRESS)
        exclusive = {r.inputs["securityGroupId"]: r for r in of_type(records, SG_EXCLUSIVE)}
        assert set(exclusive) == {workload.id, endpoints.id}
        # An empty list revokes everything, AWS's default allow-all egress included.
        assert exclusive[workload.id].inputs["ingressRuleIds"] == [], exclusive[workload.id].urn
        assert exclusive[workload.id].inputs["egressRuleIds"] == [egress.id], exclusive[workload.id].urn
        assert exclusive[endpoints.id].inputs["ingressRuleIds"] == [ingress.id], exclusive[endpoints.id].urn
        assert exclusive[endpoints.id].inputs["egressRuleIds"] == [], f"{exclusive[endpoints.id].urn}: no egress"

    return settled(monitor, network.vpc_id).apply(check)


# --------------------------------------------------------------------------- endpoints


@pytest.fixture(params=STACKS)
def any_site(request):
    """Mocks, config and providers of each shipped stack in turn."""
    from components.site_providers import SiteProviders, SiteProvidersArgs

    monitor = use_mocks(request.param)
    cfg = site_config_from_mapping(stack_config(request.param))
    return monitor, cfg, SiteProviders(cfg.name_prefix, SiteProvidersArgs(config=cfg))


@pulumi.runtime.test
def test_interface_endpoints_with_private_dns_in_every_subnet(any_site):
    monitor, cfg, providers = any_site
    network = build(cfg, providers)

    def check(args):
        (subnet_ids, endpoint_ids, s3_id), records = args
        endpoints_sg = named(records, SG, "-endpoints-sg")
        endpoints = {r.inputs["serviceName"]: r for r in of_type(records, ENDPOINT)}
        assert set(endpoints) == {f"com.amazonaws.{cfg.region}.{s}" for s in ENDPOINT_SERVICES}
        # The issue's minimum (S3, KMS, STS, Logs) plus Secrets Manager for the pepper.
        assert set(endpoint_ids) == {"s3", "kms", "sts", "logs", "secretsmanager"}
        for service in ENDPOINT_SERVICES:
            rec = endpoints[f"com.amazonaws.{cfg.region}.{service}"]
            assert endpoint_ids[service] == rec.id, rec.urn
            assert rec.inputs["vpcEndpointType"] == "Interface", rec.urn
            assert rec.inputs["privateDnsEnabled"] is True, f"{rec.urn}: private DNS off"
            assert rec.inputs["subnetIds"] == subnet_ids, f"{rec.urn}: must sit in every private subnet"
            assert rec.inputs["securityGroupIds"] == [endpoints_sg.id], rec.urn
            assert json.loads(rec.inputs["policy"]) == ENDPOINT_POLICIES[service](cfg), f"{rec.urn}: policy"
        s3 = endpoints[f"com.amazonaws.{cfg.region}.s3"]
        assert s3_id == s3.id, "s3_endpoint_id must be the S3 interface endpoint"
        # true would need a gateway endpoint and send in-VPC S3 traffic to public ranges.
        assert s3.inputs["dnsOptions"]["privateDnsOnlyForInboundResolverEndpoint"] is False, s3.urn

    return settled(monitor, network.private_subnet_ids, network.endpoint_ids, network.s3_endpoint_id).apply(check)


def _all_values(doc: dict, key: str) -> list:
    return [value for s in doc["Statement"] for value in ([s[key]] if isinstance(s[key], str) else s[key])]


@pytest.mark.parametrize("service", ENDPOINT_SERVICES)
def test_endpoint_policies_allow_only_named_actions_for_data_account_principals(dublin_config, service):
    doc = ENDPOINT_POLICIES[service](dublin_config)
    assert doc["Version"] == "2012-10-17"
    for stmt in doc["Statement"]:
        assert stmt["Effect"] == "Allow", stmt["Sid"]
        assert stmt["Condition"]["StringEquals"]["aws:PrincipalAccount"] == "111111111111", stmt["Sid"]
    assert not [a for a in _all_values(doc, "Action") if "*" in a], f"{service}: wildcard action"
    assert "*" not in _all_values(doc, "Resource"), f"{service}: unrestricted resource"


def test_s3_endpoint_reaches_only_the_site_buckets_of_the_data_account(dublin_config):
    doc = ENDPOINT_POLICIES["s3"](dublin_config)
    buckets = [dublin_config.bucket_arn(role) for role in ("user-data", "access-logs", "audit-logs")]
    exports = f"{dublin_config.bucket_arn('exports')}/exports/*"
    for resource in _all_values(doc, "Resource"):
        assert resource in buckets or resource in [f"{b}/*" for b in buckets] or resource == exports, resource
    for stmt in doc["Statement"]:
        assert stmt["Condition"]["StringEquals"]["aws:ResourceAccount"] == "111111111111", stmt["Sid"]
    statements = {s["Sid"]: s for s in doc["Statement"]}
    user_data = statements["UserDataReadWrite"]
    assert set(user_data["Resource"]) == {buckets[0], f"{buckets[0]}/*"}
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= set(user_data["Action"])
    logs = statements["SiteLogsReadOnly"]
    assert not [a for a in logs["Action"] if not a.startswith(("s3:Get", "s3:List"))], logs["Action"]
    configuration = {"s3:PutReplicationConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}
    assert not configuration & set(_all_values(doc, "Action")), "bucket configuration is never changed from inside"


def test_kms_endpoint_admits_only_operator_keys_in_the_site_region(dublin_config):
    (stmt,) = ENDPOINT_POLICIES["kms"](dublin_config)["Statement"]
    assert stmt["Resource"] == ["arn:aws:kms:eu-west-1:222222222222:key/*"]
    assert stmt["Condition"]["StringEquals"]["aws:ResourceAccount"] == "222222222222"
    assert not {"kms:CreateGrant", "kms:ReplicateKey", "kms:PutKeyPolicy"} & set(stmt["Action"])


def test_sts_endpoint_admits_only_data_account_roles(dublin_config):
    (stmt,) = ENDPOINT_POLICIES["sts"](dublin_config)["Statement"]
    assert sorted(stmt["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert stmt["Resource"] == ["arn:aws:iam::111111111111:role/*"]


@pytest.mark.parametrize(
    ("service", "resource"),
    [
        ("logs", "arn:aws:logs:eu-west-1:111111111111:log-group:*"),
        ("secretsmanager", "arn:aws:secretsmanager:eu-west-1:111111111111:secret:*"),
    ],
)
def test_logs_and_secrets_endpoints_stay_in_the_site_account_and_region(dublin_config, service, resource):
    (stmt,) = ENDPOINT_POLICIES[service](dublin_config)["Statement"]
    assert stmt["Resource"] == [resource]
    assert not [a for a in stmt["Action"] if a.split(":")[1].startswith(("Delete", "Put" + "Resource"))]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("service", ENDPOINT_SERVICES)
def test_endpoint_policies_lint_clean(stack, service):
    cfg = site_config_from_mapping(stack_config(stack))
    doc = json.dumps(ENDPOINT_POLICIES[service](cfg))
    findings = analyze_policy_string(doc, include_community_auditors=True).findings
    left = [(f.issue, f.detail) for f in findings if (service, f.issue) not in LINT_SUPPRESSIONS]
    assert not left, f"{stack} {service} endpoint policy: {left}"


def test_lint_suppressions_are_still_needed(dublin_config):
    """Each suppression names a finding parliament really reports; a stale one must be removed."""
    for service, issue in LINT_SUPPRESSIONS:
        doc = json.dumps(ENDPOINT_POLICIES[service](dublin_config))
        issues = {f.issue for f in analyze_policy_string(doc, include_community_auditors=True).findings}
        assert issue in issues, f"suppression {(service, issue)} is stale"


def test_lint_reports_a_wildcard_resource():
    """ "No findings" above means something: the same linter flags an open grant."""
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(doc)).findings}
    assert "RESOURCE_STAR" in issues


# --------------------------------------------------------------------------- flow logs


@pulumi.runtime.test
def test_flow_log_records_all_vpc_traffic_into_the_audit_bucket(site_providers, monitor, dublin_config):
    network = build(dublin_config, site_providers)

    def check(args):
        (vpc_id,), records = args
        flow = one(records, FLOW_LOG)
        assert flow.inputs["vpcId"] == vpc_id, flow.urn
        assert flow.inputs["trafficType"] == "ALL", flow.urn
        assert flow.inputs["logDestinationType"] == "s3", flow.urn
        assert flow.inputs["logDestination"] == f"{LOG_BUCKET_ARN}/{FLOW_LOG_PREFIX}", flow.urn
        assert flow.inputs["maxAggregationInterval"] == 60, flow.urn
        assert "iamRoleArn" not in flow.inputs, f"{flow.urn}: S3 delivery needs no role"
        assert "deliverCrossAccountRole" not in flow.inputs, flow.urn

    return settled(monitor, network.vpc_id).apply(check)


@pulumi.runtime.test
def test_flow_log_waits_for_the_audit_bucket_policy(site_providers, monitor, dublin_config):
    audit = AuditTrail(
        f"{dublin_config.name_prefix}-audit",
        AuditTrailArgs(config=dublin_config, provider=site_providers.data, key_arn=KEY_ARN),
    )
    network = build(dublin_config, site_providers, audit.log_bucket_arn)

    def check(args):
        _, records = args
        flow = one(records, FLOW_LOG)
        policy = one(records, "aws:s3/bucketPolicy:BucketPolicy")
        # Created before the policy admits delivery, AWS would rewrite the policy itself.
        assert policy.urn in flow.dependencies, f"{flow.urn}: deps {flow.dependencies}"
        assert flow.inputs["logDestination"] == f"{dublin_config.bucket_arn('audit-logs')}/{FLOW_LOG_PREFIX}"

    return settled(monitor, network.vpc_id).apply(check)


@pytest.mark.parametrize("stack", STACKS)
def test_flow_log_waits_explicitly_for_the_audit_buckets_lock_encryption_and_policy(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    (flow,) = run.of_type(FLOW_LOG)
    ready = audit_log_prerequisite_urns(run, cfg)
    assert ready <= set(flow.dependencies), f"{flow.urn}: does not wait for {ready - set(flow.dependencies)}"
