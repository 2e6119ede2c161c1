"""no-egress: the site has no way out: no network path, no endpoint outside AWS's region, no service outside the VPC.

The network perimeter admits only names inside the site: AWS endpoints of the
site's region, names inside the site's VPC (its private hosted zones, EC2's
``*.internal`` names) and private addresses. Anything else any input names is
a way out: URLs of any scheme (HTTP(S), SFTP, SMTP, JDBC, webhooks, SaaS),
e-mail addresses, public IPs, AWS global or edge endpoints and other regions'
endpoints. On top of the routes and rules of the VPC itself, services that AWS
runs outside the VPC with AWS-managed internet access (functions, notebooks,
build jobs, ETL jobs, public service endpoints) must be placed in the site's
VPC, and every VPC that resolves DNS must have Route 53 Resolver DNS Firewall
blocking every name but the region's AWS names (DNS queries carry data out of
an isolated VPC otherwise).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from . import exceptions, names, scan
from .aws_names import host_info
from .registry import forbidden_by
from .site import site_of
from .stack import StackIndex, report_each
from .values import MISSING, get, is_set, is_unknown, items, missing_config_message, plain

NAME = names.NETWORK_PERIMETER

FORBIDDEN_TYPES = forbidden_by(NAME)
"""Types that exist only to connect the site to other networks (from the registry)."""

_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_ROUTE_TARGETS = (
    "natGatewayId",
    "egressOnlyGatewayId",
    "transitGatewayId",
    "vpcPeeringConnectionId",
    "carrierGatewayId",
    "coreNetworkArn",
    "localGatewayId",
    "odbNetworkArn",
)

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
FIREWALL_ASSOCIATION = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
FIREWALL_GROUP = "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup"
FIREWALL_RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
FIREWALL_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
FIREWALL_CONFIG = "aws:route53/resolverFirewallConfig:ResolverFirewallConfig"


# --------------------------------------------------------------------------- routes, rules, endpoints


def cidr_problem(path: str, value: Any) -> str | None:
    """Why a destination CIDR leaves the site (not private address space), or None."""
    if value is MISSING or value is None or value == "":
        return None
    if is_unknown(value):
        return f"{path} is unknown at preview; a residency rule cannot pass on it: use the VPC's CIDR"
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"{path} = {value!r} is not a CIDR block"
    if net.prefixlen == 0 or not any(net.version == p.version and net.subnet_of(p) for p in _PRIVATE_NETS):
        return f"{path} = {value!r} reaches the internet: allow only the VPC's private CIDR"
    return None


def _route(route: Any, base: str) -> Iterator[str]:
    for key in ("destinationCidrBlock", "destinationIpv6CidrBlock", "cidrBlock", "ipv6CidrBlock"):
        problem = cidr_problem(f"{base}{key}", get(route, key))
        if problem:
            yield problem
    gateway = get(route, "gatewayId")
    if is_unknown(gateway) or (gateway not in (MISSING, None, "", "local")):
        yield f"{base}gatewayId = {gateway!r} routes traffic to a gateway out of the VPC: keep only local routes"
    for key in _ROUTE_TARGETS:
        if is_set(get(route, key)):
            yield f"{base}{key} routes traffic out of the VPC: keep only local routes"


def _rules(rules: Any, base: str, allow_key: str | None) -> Iterator[str]:
    for i, rule in enumerate(items(rules)):
        if allow_key is not None:
            action = get(rule, allow_key)
            if isinstance(action, str) and action.lower() == "deny":
                continue
        for key in ("cidrBlock", "ipv6CidrBlock", "cidrIpv4", "cidrIpv6"):
            problem = cidr_problem(f"{base}[{i}].{key}", get(rule, key))
            if problem:
                yield problem
        for key in ("cidrBlocks", "ipv6CidrBlocks"):
            for j, cidr in enumerate(items(get(rule, key))):
                problem = cidr_problem(f"{base}[{i}].{key}[{j}]", cidr)
                if problem:
                    yield problem


def network_findings(resource_type: str, props: Any, region: str) -> Iterator[str]:
    """Every way one resource's own network configuration opens a path out of the site."""
    if resource_type in FORBIDDEN_TYPES:
        yield f"{resource_type} is not allowed: {FORBIDDEN_TYPES[resource_type]}; the site has no egress. Remove it"
        return
    if resource_type == "aws:ec2/route:Route":
        yield from _route(props, "")
    elif resource_type in ("aws:ec2/routeTable:RouteTable", "aws:ec2/defaultRouteTable:DefaultRouteTable"):
        for i, route in enumerate(items(get(props, "routes"))):
            yield from _route(route, f"routes[{i}].")
    elif resource_type in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        yield from _rules(get(props, "egress"), "egress", None)
    elif resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if get(props, "type") != "ingress":
            yield from _rules([props], "rule", None)
    elif resource_type == "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":
        yield from _rules([props], "rule", None)
    elif resource_type in ("aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"):
        yield from _rules(get(props, "egress"), "egress", "action")
    elif resource_type == "aws:ec2/networkAclRule:NetworkAclRule":
        if get(props, "egress") is not False:
            yield from _rules([props], "rule", "ruleAction")
    elif resource_type == "aws:ec2/vpcEndpoint:VpcEndpoint":
        service = get(props, "serviceName")
        if is_unknown(service):
            yield f"serviceName is unknown at preview; use an AWS service endpoint of {region}"
        elif service is MISSING and get(props, "vpcEndpointType") in ("Resource", "ServiceNetwork"):
            pass  # VPC Lattice endpoints name their target by ARN, which the scan checks
        elif not (isinstance(service, str) and service.startswith(f"com.amazonaws.{region}.")):
            yield (
                f"serviceName = {service!r} is not an AWS service of {region}: endpoints to other "
                f"services or regions carry data out; use com.amazonaws.{region}.<service>"
            )


# --------------------------------------------------------------------------- names in inputs


# What each kind of hit outside the site is, as a message (``{prop}``, ``{value}``, ``{token}``,
# ``{detail}`` from the hit; ``{region}`` the site's).
HIT_MESSAGES = {
    scan.URL: (
        "{prop}: {detail}:// URL {token!r} goes to {value}, outside AWS's {region} endpoints and the site's VPC: "
        "a way out of the site; remove it (only AWS endpoints of the region or names in the site's private hosted "
        "zones are reachable)"
    ),
    scan.HOST: (
        "{prop}: host {value!r} is outside AWS's {region} endpoints and the site's VPC: a way out of the site; "
        "remove it or use a name in a private hosted zone of the site's VPC"
    ),
    scan.EMAIL: "{prop}: e-mail address {value!r} sends data out of the site by SMTP: remove it",
    scan.PUBLIC_IP: "{prop}: {value} is a public internet address, outside the site: remove it",
    scan.GLOBAL_ENDPOINT: (
        "{prop}: {token!r} is an AWS endpoint without a region ({value}), served from us-east-1 or worldwide: "
        "use the {region} endpoint"
    ),
    scan.EDGE: "{prop}: {value!r} is an AWS edge-network name, served worldwide: remove it",
    scan.REGION: "{prop}: {token!r} is an endpoint in {value}, outside the site's region: use the {region} endpoint",
    scan.HTTP_TASK: (
        "{prop}: the state machine calls {token!r}, an HTTP task that reaches any HTTPS endpoint on the internet: "
        "remove it"
    ),
    scan.API_DESTINATION: (
        "{prop}: {token!r} is an EventBridge API destination, which sends events to an HTTP endpoint: remove it"
    ),
    scan.PUBLIC_SWITCH: "{prop}: {value} = {token} gives it an internet address: set it false (or DISABLED)",
    scan.UNREADABLE: (
        "{value} is not readable text (compressed or binary), so the pack cannot see what it reaches: pass plain text"
    ),
}


def hit_findings(res: Any, index: StackIndex) -> Iterator[str]:
    """Messages for the endpoints outside the site that one resource's inputs name."""
    for hit in index.hits(res):
        template = HIT_MESSAGES.get(hit.kind)
        if template is None or hit.effect is not None:
            continue  # a policy statement names principals and conditions, not destinations
        if hit.kind == scan.REGION and hit.detail not in ("url", "host"):
            continue  # a region named, not an endpoint reached: the region perimeter's
        if hit.kind in (scan.URL, scan.HOST) and index.in_private_zone(hit.value):
            continue
        yield template.format(**hit._asdict(), region=index.site.region)


# --------------------------------------------------------------------------- services outside the VPC


def _in_site_subnets(res: Any, index: StackIndex, prop: str, ids: Any, what: str) -> str | None:
    """Why ``ids`` (subnet ids under top-level ``prop``) are not provably subnets of the site."""
    values = items(ids)
    if not values:
        return f"{what}: without subnets it runs outside the VPC with AWS-managed internet access; place it in the site's private subnets"
    deps = [d for d in res.property_dependencies.get(prop, []) if d.resource_type == SUBNET]
    for value in values:
        target = index.by_ref.get(value) if isinstance(value, str) else None
        if target is not None and target.resource_type == SUBNET:
            if not index.in_site(target):
                return f"{what}: subnet {value!r} ({target.urn}) is not provably in the site's region and accounts"
        elif not deps:
            shown = "a subnet unknown at preview" if is_unknown(value) else f"subnet {value!r}"
            return f"{what}: {shown} is not a subnet of this program, so the pack cannot prove it is in the site's VPC"
    for dep in deps:
        if not index.in_site(dep):
            return f"{what}: subnet {dep.urn} is not provably in the site's region and accounts"
    return None


def _lambda(res: Any, index: StackIndex) -> Iterator[str]:
    vpc = get(res.props, "vpcConfig")
    problem = _in_site_subnets(res, index, "vpcConfig", get(vpc, "subnetIds"), "vpc_config.subnet_ids")
    if problem:
        yield f"a function without the site's subnets runs outside the VPC with internet access ({problem})"
    elif not items(get(vpc, "securityGroupIds")):
        yield "vpc_config.security_group_ids is empty: give the function the site's workload security group"


def _snake(key: str) -> str:
    """An input's Python argument name, as the reader writes it (``directInternetAccess`` -> ``direct_internet_access``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


def _setting_and_subnets(key: str, wanted: str, why: str, subnets: str) -> Any:
    """A check that ``key`` is ``wanted`` (AWS's default gives internet access) and ``subnets`` are the site's."""

    def check(res: Any, index: StackIndex) -> Iterator[str]:
        value = get(res.props, key)
        if value != wanted:
            yield f"{_snake(key)} = {value!r}: {why}; set {wanted!r}"
        problem = _in_site_subnets(res, index, subnets, get(res.props, subnets), _snake(subnets))
        if problem:
            yield problem

    return check


def _model(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "enableNetworkIsolation") is True:
        return
    vpc = get(res.props, "vpcConfig")
    problem = _in_site_subnets(res, index, "vpcConfig", get(vpc, "subnets"), "vpc_config.subnets")
    if problem:
        yield f"the model's containers get internet access unless isolated: set enable_network_isolation=True or vpc_config ({problem})"


def _vpc_config(key: str, subnets: str | None, why: str = "") -> Any:
    """A check that the subnets at ``key.subnets`` (or ``key`` itself) are the site's (``why``: what it means if not)."""

    def check(res: Any, index: StackIndex) -> Iterator[str]:
        value = get(res.props, key, subnets) if subnets else get(res.props, key)
        problem = _in_site_subnets(res, index, key, value, _snake(f"{key}.{subnets}" if subnets else key))
        if problem:
            yield f"{why} ({problem})" if why else problem

    return check


def _glue_job(res: Any, index: StackIndex) -> Iterator[str]:
    connections = items(get(res.props, "connections"))
    if not connections:
        yield "a Glue job without a connection runs in AWS's network with internet access: add a NETWORK connection in the site's subnets"
        return
    by_name = index.memo.get("glue-connections")
    if by_name is None:
        by_name = index.memo["glue-connections"] = {
            get(r.props, "name"): r for r in index.of_type("aws:glue/connection:Connection")
        }
    for name in connections:
        if is_unknown(name):
            continue  # a connection of this program (by dependency); its own check places it
        conn = by_name.get(name)
        if conn is None:
            yield f"connection {name!r} is not a Glue connection of this program, so the pack cannot prove it is in the site's VPC"


def _glue_connection(res: Any, index: StackIndex) -> Iterator[str]:
    kind = get(res.props, "connectionType")
    if kind not in (MISSING, "JDBC", "NETWORK", "KAFKA", "MONGODB"):
        yield f"connection_type = {kind!r} connects Glue to a service outside the site: use NETWORK, JDBC, KAFKA or MONGODB in the site's VPC"
    physical = get(res.props, "physicalConnectionRequirements")
    problem = _in_site_subnets(
        res,
        index,
        "physicalConnectionRequirements",
        get(physical, "subnetId"),
        "physical_connection_requirements.subnet_id",
    )
    if problem:
        yield problem


def _emr_cluster(res: Any, index: StackIndex) -> Iterator[str]:
    attrs = get(res.props, "ec2Attributes")
    subnets = items(get(attrs, "subnetIds")) or items(get(attrs, "subnetId"))
    problem = _in_site_subnets(res, index, "ec2Attributes", subnets, "ec2_attributes.subnet_id")
    if problem:
        yield problem


def _serverless_security_policy(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "type") != "network":
        return
    policy = get(res.props, "policy")
    if is_unknown(policy):
        yield "policy is unknown at preview: write the network policy from known values"
        return
    try:
        rules = json.loads(policy) if isinstance(policy, str) else plain(policy)
    except ValueError:
        yield "policy is not valid JSON"
        return
    for i, rule in enumerate(rules if isinstance(rules, list) else [rules]):
        if not isinstance(rule, dict) or rule.get("AllowFromPublic") is not False:
            yield f"network policy rule {i} allows access from the internet: set AllowFromPublic false with SourceVPCEs of the site"


def _rest_api(res: Any, index: StackIndex) -> Iterator[str]:
    types = items(get(res.props, "endpointConfiguration", "types"))
    if types != ["PRIVATE"]:
        yield (
            f"endpoint types {types or ['EDGE (the default)']} are reachable from the internet: set "
            "endpoint_configuration types ['PRIVATE'] with the site's execute-api VPC endpoint"
        )


def _must_be(key: str, wanted: Any, why: str) -> Any:
    path = key.split(".")

    def check(res: Any, index: StackIndex) -> Iterator[str]:
        value = get(res.props, *path)
        if value != wanted:
            shown = "not set" if value is MISSING else repr(value)
            yield f"{key} is {shown}: {why}; set it to {wanted!r}"

    return check


def _msk(res: Any, index: StackIndex) -> Iterator[str]:
    kind = get(res.props, "brokerNodeGroupInfo", "connectivityInfo", "publicAccess", "type")
    if kind not in (MISSING, "DISABLED"):
        yield f"broker public access type {kind!r} gives the brokers internet addresses: set 'DISABLED'"


def _apprunner(res: Any, index: StackIndex) -> Iterator[str]:
    network = get(res.props, "networkConfiguration")
    if get(network, "egressConfiguration", "egressType") != "VPC":
        yield "App Runner's default egress is the internet: set network_configuration.egress_configuration egress_type 'VPC' with a VPC connector in the site"
    if get(network, "ingressConfiguration", "isPubliclyAccessible") is not False:
        yield "the service is publicly accessible by default: set ingress_configuration.is_publicly_accessible=False"


def _batch(res: Any, index: StackIndex) -> Iterator[str]:
    compute = get(res.props, "computeResources")
    if compute is MISSING or compute is None:
        return  # unmanaged: the instances are the program's own, checked as such
    problem = _in_site_subnets(res, index, "computeResources", get(compute, "subnets"), "compute_resources.subnets")
    if problem:
        yield problem


def _transfer_server(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "endpointType") != "VPC":
        yield "a Transfer Family server with a PUBLIC endpoint (the default) is reachable from the internet: set endpoint_type 'VPC'"
    if items(get(res.props, "endpointDetails", "addressAllocationIds")):
        yield "endpoint_details.address_allocation_ids gives the server Elastic IPs on the internet: remove them"


# SNS protocols whose endpoints are AWS resources the scan can place (an ARN); the others deliver
# to HTTP(S) endpoints, e-mail, SMS or mobile push services outside the site.
SNS_PROTOCOLS = frozenset({"sqs", "lambda", "firehose"})
# Firehose destinations inside AWS, named by ARNs the scan places; the others are HTTP endpoints or SaaS.
FIREHOSE_DESTINATIONS = frozenset(
    {"extended_s3", "s3", "redshift", "opensearch", "opensearchserverless", "elasticsearch", "iceberg"}
)


def _sns_subscription(res: Any, index: StackIndex) -> Iterator[str]:
    protocol = get(res.props, "protocol")
    if protocol not in SNS_PROTOCOLS:
        yield f"protocol {protocol!r} delivers messages outside the site (HTTP, e-mail, SMS or push): subscribe an SQS queue, Lambda function or Firehose stream of the site"


def _firehose(res: Any, index: StackIndex) -> Iterator[str]:
    destination = get(res.props, "destination")
    if destination not in FIREHOSE_DESTINATIONS:
        yield f"destination {destination!r} delivers records to an endpoint outside AWS: deliver to S3, Redshift, OpenSearch or Iceberg in the site"


def _load_balancer(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "internal") is not True:
        yield "the load balancer is internet-facing unless internal=True: set internal=True"


def _graphql(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "visibility") != "PRIVATE":
        yield "a GraphQL API is public unless visibility is 'PRIVATE': set visibility='PRIVATE'"


def _mwaa(res: Any, index: StackIndex) -> Iterator[str]:
    mode = get(res.props, "webserverAccessMode")
    if mode != "PRIVATE_ONLY":
        yield f"webserver_access_mode {mode!r}: the Airflow UI must be PRIVATE_ONLY"
    network = get(res.props, "networkConfiguration")
    problem = _in_site_subnets(
        res, index, "networkConfiguration", get(network, "subnetIds"), "network_configuration.subnet_ids"
    )
    if problem:
        yield problem


def _zone(res: Any, index: StackIndex) -> Iterator[str]:
    if not items(get(res.props, "vpcs")):
        yield "a public hosted zone publishes the site's names on the internet: associate it with the site's VPC (vpcs) to make it private"


def _resolver_endpoint(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "direction") != "INBOUND":
        yield "an OUTBOUND resolver endpoint forwards DNS queries out of the VPC: remove it"


def _resolver_rule(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "ruleType") != "SYSTEM":
        yield "a FORWARD (or RECURSIVE) resolver rule sends DNS queries to servers outside the VPC: only SYSTEM rules are allowed"


def _program_target(prop: str, wanted: str, what: str, why: str) -> Any:
    """An association that must name a ``wanted`` resource of this program (which the pack then checks)."""

    def check(res: Any, index: StackIndex) -> Iterator[str]:
        if not index.refs(res, prop, wanted):
            yield (
                f"{prop} {get(res.props, prop)!r} is not a {what} of this program, so the pack cannot see {why}: "
                f"create the {what} in this program (the pack checks it) and associate that one"
            )

    return check


def _dhcp_options(res: Any, index: StackIndex) -> Iterator[str]:
    servers = get(res.props, "domainNameServers")
    if servers is not MISSING and plain(servers) != ["AmazonProvidedDNS"]:
        yield (
            f"domainNameServers {plain(servers)!r}: instances would send DNS queries to those servers instead of the "
            "Route 53 Resolver, around the site's DNS firewall and query logs; use ['AmazonProvidedDNS'] (or omit it)"
        )


def _access_point(res: Any, index: StackIndex) -> Iterator[str]:
    problem = _in_vpc(res, index, "vpcConfiguration", get(res.props, "vpcConfiguration", "vpcId"))
    if problem:
        yield f"an access point without vpc_configuration accepts requests from the internet ({problem})"


def _in_vpc(res: Any, index: StackIndex, prop: str, vpc_id: Any) -> str | None:
    if vpc_id is MISSING or vpc_id in (None, ""):
        return "no VPC"
    if is_unknown(vpc_id):
        deps = [d for d in res.property_dependencies.get(prop, []) if d.resource_type == VPC]
        return None if deps else "its VPC is unknown at preview and not a VPC of this program"
    target = index.by_ref.get(vpc_id)
    return None if target is not None and target.resource_type == VPC else f"{vpc_id!r} is not a VPC of this program"


def _dms_instance(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "publiclyAccessible") is not False:
        yield "DMS makes a replication instance publicly accessible unless publicly_accessible=False: set it"


def _prefix_list(res: Any, index: StackIndex) -> Iterator[str]:
    for i, entry in enumerate(items(get(res.props, "entries"))):
        problem = cidr_problem(f"entries[{i}].cidr", get(entry, "cidr"))
        if problem:
            yield problem
    problem = cidr_problem("cidr", get(res.props, "cidr"))
    if problem:
        yield problem


def _eks(res: Any, index: StackIndex) -> Iterator[str]:
    if get(res.props, "vpcConfig", "endpointPublicAccess") is not False:
        yield "an EKS API endpoint is public unless vpc_config.endpoint_public_access=False: set it (and endpoint_private_access=True)"


TYPE_CHECKS = {
    "aws:lambda/function:Function": _lambda,
    "aws:sagemaker/notebookInstance:NotebookInstance": _setting_and_subnets(
        "directInternetAccess", "Disabled", "AWS's default gives the notebook internet access", "subnetId"
    ),
    "aws:sagemaker/domain:Domain": _setting_and_subnets(
        "appNetworkAccessType",
        "VpcOnly",
        "the default PublicInternetOnly gives Studio apps internet access",
        "subnetIds",
    ),
    "aws:sagemaker/model:Model": _model,
    "aws:codebuild/project:Project": _vpc_config("vpcConfig", "subnets"),
    "aws:glue/job:Job": _glue_job,
    "aws:glue/connection:Connection": _glue_connection,
    "aws:glue/devEndpoint:DevEndpoint": _vpc_config("subnetId", None),
    "aws:emrserverless/application:Application": _vpc_config("networkConfiguration", "subnetIds"),
    "aws:emr/cluster:Cluster": _emr_cluster,
    "aws:opensearch/domain:Domain": _vpc_config(
        "vpcOptions", "subnetIds", "a domain without vpc_options has a public endpoint"
    ),
    "aws:elasticsearch/domain:Domain": _vpc_config(
        "vpcOptions", "subnetIds", "a domain without vpc_options has a public endpoint"
    ),
    "aws:opensearch/serverlessSecurityPolicy:ServerlessSecurityPolicy": _serverless_security_policy,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/domainName:DomainName": _rest_api,
    "aws:dms/replicationInstance:ReplicationInstance": _dms_instance,
    "aws:msk/cluster:Cluster": _msk,
    "aws:eks/cluster:Cluster": _eks,
    "aws:apprunner/service:Service": _apprunner,
    "aws:batch/computeEnvironment:ComputeEnvironment": _batch,
    "aws:transfer/server:Server": _transfer_server,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:elb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:appsync/graphQLApi:GraphQLApi": _graphql,
    "aws:mwaa/environment:Environment": _mwaa,
    "aws:route53/zone:Zone": _zone,
    "aws:route53/resolverEndpoint:ResolverEndpoint": _resolver_endpoint,
    "aws:route53/resolverRule:ResolverRule": _resolver_rule,
    # A rule or zone not of this program may be another account's (shared through RAM, or authorised for
    # association): a FORWARD rule sends the VPC's queries out, a zone answers its names as its owner likes.
    "aws:route53/resolverRuleAssociation:ResolverRuleAssociation": _program_target(
        "resolverRuleId", "aws:route53/resolverRule:ResolverRule", "resolver rule", "where it forwards queries"
    ),
    "aws:route53/zoneAssociation:ZoneAssociation": _program_target(
        "zoneId", "aws:route53/zone:Zone", "hosted zone", "whose names it answers and where they point"
    ),
    "aws:ec2/vpcDhcpOptions:VpcDhcpOptions": _dhcp_options,
    "aws:s3/accessPoint:AccessPoint": _access_point,
    "aws:ec2/managedPrefixList:ManagedPrefixList": _prefix_list,
    "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry": _prefix_list,
    "aws:ec2/serialConsoleAccess:SerialConsoleAccess": _must_be(
        "enabled", False, "the EC2 serial console reaches instances around the network's rules"
    ),
    "aws:ec2/vpcBlockPublicAccessOptions:VpcBlockPublicAccessOptions": _must_be(
        "internetGatewayBlockMode",
        "block-bidirectional",
        "the account's block on internet gateways is a control of the site",
    ),
    "aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration": _must_be(
        "blockPublicSecurityGroupRules", True, "EMR's account block on public security groups is a control of the site"
    ),
}


# --------------------------------------------------------------------------- DNS firewall


def allowed_domain_problem(domain: Any, index: StackIndex) -> str | None:
    """Why a domain that a DNS firewall rule admits is not an AWS name of the site's region (None if it is)."""
    if not isinstance(domain, str) or is_unknown(domain):
        return f"{domain!r} is not a known domain name"
    name = domain.lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    if name in ("", "*"):
        return f"{domain!r} admits every name"
    if index.in_private_zone(name):
        return None
    info = host_info(name)
    region = index.site.region
    if info.regions and all(r == region for r in info.regions) and (info.aws or info.internal):
        return None
    return (
        f"{domain!r} is not an AWS name of {region} (only <service>.{region}.amazonaws.com-style names may be allowed)"
    )


def _group_verdict(group: Any, index: StackIndex) -> tuple[bool, tuple[str, ...]]:
    """Whether a rule group blocks ``*``, and the problems of its admitting rules (once per group and stack)."""
    key = ("dns-group", group.urn)
    if key in index.memo:
        return index.memo[key]
    blocks_all = False
    problems: list[str] = []
    for rule in index.referrers(group, FIREWALL_RULE, "firewallRuleGroupId"):
        action = get(rule.props, "action")
        targets = index.refs(rule, "firewallDomainListId", FIREWALL_LIST)
        if action == "BLOCK":
            blocks_all = blocks_all or any("*" in items(get(lst.props, "domains")) for lst in targets)
        elif action in ("ALLOW", "ALERT") and not targets and is_set(get(rule.props, "firewallDomainListId")):
            problems.append(f"rule {rule.name} ({action}) admits a domain list that is not in this program")
    verdict = index.memo[key] = (blocks_all, tuple(problems))
    return verdict


def dns_firewall_findings(vpc: Any, index: StackIndex) -> Iterator[str]:
    """Why one VPC that resolves DNS is not behind a DNS firewall that blocks every name but the region's AWS names."""
    if get(vpc.props, "enableDnsSupport") is False:
        return
    associations = index.referrers(vpc, FIREWALL_ASSOCIATION, "vpcId")
    fix = (
        "associate a Route 53 Resolver DNS Firewall rule group that BLOCKs a domain list containing '*' and ALLOWs "
        f"only AWS names of {index.site.region}, with a ResolverFirewallConfig (firewall_fail_open 'DISABLED'), or "
        "set enable_dns_support=False"
    )
    if not associations:
        yield f"the VPC resolves DNS (enable_dns_support is not false), so DNS queries can carry data out: {fix}"
        return
    blocks_all = False
    unprotected: list[str] = []
    for assoc in associations:
        groups = index.refs(assoc, "firewallRuleGroupId", FIREWALL_GROUP)
        if not groups:
            yield f"DNS firewall association {assoc.name} names a rule group that is not in this program, so the pack cannot prove what it allows: {fix}"
            continue
        for group in groups:
            blocks, problems = _group_verdict(group, index)
            if blocks and get(assoc.props, "mutationProtection") != "ENABLED":
                # Without mutation protection the data account can disassociate the group (Route 53 Resolver
                # API, DisassociateFirewallRuleGroup) and every name resolves again.
                unprotected.append(assoc.name)
            else:
                blocks_all = blocks_all or blocks
            yield from problems
    if not blocks_all and unprotected:
        yield (
            f"the DNS firewall association(s) {', '.join(unprotected)} that block '*' are not mutation-protected, so "
            "the data account can disassociate them and let every name resolve: set mutation_protection 'ENABLED'"
        )
    elif not blocks_all:
        yield f"no DNS firewall rule group on the VPC BLOCKs a domain list containing '*', so names outside AWS resolve: {fix}"
    configs = index.referrers(vpc, FIREWALL_CONFIG, "resourceId")
    if not configs:
        yield f"the VPC has no ResolverFirewallConfig, so whether DNS fails open is not stated: {fix}"
    for config in configs:
        if get(config.props, "firewallFailOpen") != "DISABLED":
            yield (
                f"ResolverFirewallConfig {config.name} firewall_fail_open is {get(config.props, 'firewallFailOpen')!r}: "
                "with fail-open, queries pass unfiltered whenever the firewall is impaired; set 'DISABLED'"
            )


def firewall_rule_findings(rule: Any, index: StackIndex) -> Iterator[str]:
    """An ALLOW (or ALERT, which also lets the query through) rule may admit only the region's AWS names."""
    action = get(rule.props, "action")
    if action not in ("ALLOW", "ALERT"):
        return
    if get(rule.props, "firewallDomainRedirectionAction") == "TRUST_REDIRECTION_DOMAIN":
        yield (
            f"the {action} rule trusts redirection domains, so a CNAME from an admitted name to any other name "
            "resolves unfiltered: use INSPECT_REDIRECTION_DOMAIN (the default)"
        )
    for lst in index.refs(rule, "firewallDomainListId", FIREWALL_LIST):
        for domain in items(get(lst.props, "domains")):
            problem = allowed_domain_problem(domain, index)
            if problem:
                yield f"the {action} rule admits {problem}: DNS queries for it leave the site; allow only AWS names of {index.site.region}"


SPECIAL_TYPES = frozenset({*TYPE_CHECKS, VPC, FIREWALL_RULE, *FORBIDDEN_TYPES}) | {
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/defaultRouteTable:DefaultRouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/networkAcl:NetworkAcl",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
    "aws:ec2/networkAclRule:NetworkAclRule",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
}
"""Types this rule checks by their own inputs, beyond the scan every resource gets."""


def findings(res: Any, index: StackIndex, require_dns_firewall: bool = True) -> Iterator[str]:
    """Every way out of the site one resource opens."""
    typ = res.resource_type
    yield from network_findings(typ, res.props, index.site.region)
    if typ in FORBIDDEN_TYPES:
        return
    yield from hit_findings(res, index)
    check = TYPE_CHECKS.get(typ)
    if check is not None:
        yield from check(res, index)
    if typ == VPC and require_dns_firewall:
        yield from dns_firewall_findings(res, index)
    elif typ == FIREWALL_RULE:
        yield from firewall_rule_findings(res, index)


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    site = site_of(args)
    if site.region is None:
        report_violation(missing_config_message(NAME, "allowedRegion"))
        return
    require_dns_firewall = args.get_config().get("requireDnsFirewall", True) is not False
    report_each(
        args,
        site,
        report_violation,
        lambda res, index: findings(res, index, require_dns_firewall),
        lambda typ: typ.startswith("aws:"),
        SPECIAL_TYPES,
    )


POLICY = StackValidationPolicy(
    name=NAME,
    description="The site has no way out: no network path, no endpoint outside the region's AWS names, no service outside the VPC, DNS filtered.",
    validate=exceptions.stack_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(
        {
            "requireDnsFirewall": {
                "type": "boolean",
                "default": True,
                "description": "Require Route 53 Resolver DNS Firewall on every VPC that resolves DNS.",
            }
        },
        required=["allowedRegion"],
        accounts=True,
    ),
)
