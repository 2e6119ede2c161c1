"""no-egress: the site's network has no path out: no gateways, peering, VPNs or rules to the internet."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .values import MISSING, config_value, get, is_set, is_unknown, items, missing_config_message

NAME = "no-egress"

# Types that exist only to connect the VPC to the internet or to other networks.
FORBIDDEN_TYPES: dict[str, str] = {
    "aws:ec2/internetGateway:InternetGateway": "an internet gateway connects the VPC to the internet",
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment": "it attaches an internet gateway",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "an egress-only gateway lets IPv6 traffic out to the internet",
    "aws:ec2/natGateway:NatGateway": "a NAT gateway lets traffic out of private subnets",
    "aws:ec2/natGatewayEipAssociation:NatGatewayEipAssociation": "it gives a NAT gateway a public address",
    "aws:ec2/carrierGateway:CarrierGateway": "a carrier gateway connects the VPC to a telecom network",
    "aws:ec2/eip:Eip": "an Elastic IP is a public internet address",
    "aws:ec2/eipAssociation:EipAssociation": "it gives a resource a public internet address",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "peering connects the VPC to another network",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": "peering connects the VPC to another network",
    "aws:ec2/peeringConnectionOptions:PeeringConnectionOptions": "peering connects the VPC to another network",
    "aws:ec2/transitGatewayPeeringAttachmentAccepter:TransitGatewayPeeringAttachmentAccepter": "transit gateway peering connects to other regions or accounts",
    "aws:ec2/customerGateway:CustomerGateway": "a customer gateway is the far end of a VPN",
    "aws:ec2/vpnGateway:VpnGateway": "a VPN gateway connects the VPC to outside networks",
    "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment": "it attaches a VPN gateway",
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": "it routes traffic to a VPN gateway",
    "aws:ec2/vpnConnection:VpnConnection": "a VPN connection carries traffic out of the site",
    "aws:ec2/vpnConnectionRoute:VpnConnectionRoute": "it routes traffic over a VPN",
    "aws:ec2/vpnConcentrator:VpnConcentrator": "a VPN concentrator carries traffic out of the site",
    "aws:odb/networkPeeringConnection:NetworkPeeringConnection": "peering connects the VPC to an Oracle Database@AWS network",
    "aws:ec2/localGatewayRoute:LocalGatewayRoute": "it routes traffic to an on-premises network",
    "aws:ec2/localGatewayRouteTableVpcAssociation:LocalGatewayRouteTableVpcAssociation": "it routes traffic to an on-premises network",
}
# Whole services that exist to connect networks.
FORBIDDEN_MODULES: dict[str, str] = {
    "aws:ec2transitgateway/": "a transit gateway connects the VPC to other networks",
    "aws:ec2clientvpn/": "a client VPN lets outside clients into the VPC and traffic out",
    "aws:directconnect/": "Direct Connect links the site to outside networks",
    "aws:networkmanager/": "Cloud WAN and Network Manager attachments connect the VPC to other networks",
}

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


def findings(resource_type: str, props: Any, region: str) -> Iterator[str]:
    """Every way one resource opens a path out of the site."""
    if resource_type in FORBIDDEN_TYPES:
        yield f"{resource_type} is not allowed: {FORBIDDEN_TYPES[resource_type]}; the site has no egress. Remove it"
        return
    for module, why in FORBIDDEN_MODULES.items():
        if resource_type.startswith(module):
            yield f"{resource_type} is not allowed: {why}; the site has no egress. Remove it"
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
        elif not (isinstance(service, str) and service.startswith(f"com.amazonaws.{region}.")):
            yield (
                f"serviceName = {service!r} is not an AWS service of {region}: endpoints to other "
                f"services or regions carry data out; use com.amazonaws.{region}.<service>"
            )
    elif resource_type in (
        "aws:ec2/subnet:Subnet",
        "aws:ec2/instance:Instance",
        "aws:ec2/launchTemplate:LaunchTemplate",
    ):
        for key in ("mapPublicIpOnLaunch", "associatePublicIpAddress", "assignIpv6AddressOnCreation"):
            value = get(props, key)
            if value is True or is_unknown(value):
                yield f"{key} = {value!r} gives instances internet addresses: set it false"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resource_type.startswith("aws:"):
        return
    region = config_value(args, "allowedRegion")
    if region is None:
        report_violation(missing_config_message(NAME, "allowedRegion"))
        return
    for message in findings(args.resource_type, args.props, region):
        report_violation(message)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="The site has no network path out: no internet, NAT or egress-only gateway, peering, transit gateway, VPN or egress to public addresses.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"allowedRegion": {"type": "string", "description": "The site's one AWS region."}},
        required=["allowedRegion"],
    ),
)
