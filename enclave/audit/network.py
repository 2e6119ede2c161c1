"""The network: no way out of any VPC of the region, endpoint policies inside the site, flow logs on.

Every VPC of the data account in the site region is in scope (a second VPC made
by hand is audited like the site's own). Each check yields one result per VPC
(or per route table, network ACL, security group, endpoint).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from enclave.audit.base import Audit, Check, Family, arn_account, arn_region, ec2_arn, register
from enclave.audit.common import call, pages
from enclave.audit.policy import label, policy_outsiders, resources_outside, statements

CHECKS = register(
    Check(
        "vpc-no-internet-gateway",
        "No internet gateway is attached to the VPC",
        "no internet gateway attached",
        "aws ec2 detach-internet-gateway and delete-internet-gateway (the site has no internet path).",
    ),
    Check(
        "vpc-no-nat-gateway",
        "The VPC has no NAT gateway",
        "no NAT gateway",
        "aws ec2 delete-nat-gateway --nat-gateway-id ID.",
    ),
    Check(
        "vpc-no-egress-only-gateway",
        "No egress-only internet gateway is attached to the VPC",
        "no egress-only internet gateway",
        "aws ec2 delete-egress-only-internet-gateway --egress-only-internet-gateway-id ID.",
    ),
    Check(
        "vpc-no-peering",
        "The VPC has no peering connection",
        "no active or pending peering connection",
        "aws ec2 delete-vpc-peering-connection --vpc-peering-connection-id ID.",
    ),
    Check(
        "vpc-no-endpoint-service",
        "The account offers no VPC endpoint service",
        "no endpoint service configuration (PrivateLink) in the site region: each lets the VPCs of the accounts "
        "it allows connect into the site's network, and the program defines none",
        "aws ec2 delete-vpc-endpoint-service-configurations --service-ids ID, then find who created it "
        "(CreateVpcEndpointServiceConfiguration in CloudTrail).",
    ),
    Check(
        "vpc-no-transit-or-vpn-gateway",
        "No transit gateway attachment or virtual private gateway connects the VPC",
        "no transit gateway VPC attachment and no virtual private gateway attached (each joins the VPC to "
        "networks outside it; a propagated route needs no change to the route tables)",
        "aws ec2 delete-transit-gateway-vpc-attachment --transit-gateway-attachment-id ID, or "
        "aws ec2 detach-vpn-gateway --vpn-gateway-id ID --vpc-id VPC_ID; then find who added it in CloudTrail.",
    ),
    Check(
        "vpc-no-route-out",
        "No route leaves the VPC",
        "only local routes (and gateway endpoint prefix-list routes); no route to 0.0.0.0/0 or ::/0",
        "aws ec2 delete-route on each listed route; pulumi up restores the site's route tables.",
    ),
    Check(
        "vpc-nacl-egress-inside",
        "Network ACL egress allows only destinations inside the VPC",
        "every effective egress allow rule targets a CIDR inside the VPC",
        "aws ec2 delete-network-acl-entry --egress for each listed rule; pulumi up restores the site's ACL.",
    ),
    Check(
        "vpc-sg-egress-inside",
        "Security group egress stays inside the VPC",
        "egress only to security groups or CIDRs inside the VPC",
        "aws ec2 revoke-security-group-egress for each listed rule.",
    ),
    Check(
        "vpc-endpoint-policy-site-only",
        "Every VPC endpoint reaches only the region's AWS services, for the site's principals and resources",
        "an Interface or Gateway endpoint of a com.amazonaws.<region> service whose policy admits only the "
        "site's accounts and names only resources of the site's accounts (or pins aws:ResourceAccount)",
        "Restore the endpoint policy (pulumi up) so it names the site's resources and conditions on "
        "aws:PrincipalAccount; delete an endpoint the program does not define (aws ec2 delete-vpc-endpoints).",
    ),
    Check(
        "vpc-flow-log-all-traffic",
        "The VPC's flow log records all traffic into the audit-logs bucket, and no flow log leaves the site",
        "an ACTIVE flow log with TrafficType ALL into the site's audit-logs bucket; every other flow log "
        "delivers inside the data account and the site region",
        "Run pulumi up (restores the flow log); delete a flow log that delivers elsewhere (aws ec2 delete-flow-logs).",
    ),
    Check(
        "vpc-flow-log-delivering",
        "The VPC's flow log into the audit-logs bucket is delivering",
        "DeliverLogsStatus SUCCESS, no DeliverLogsErrorMessage",
        "Read DeliverLogsErrorMessage (aws ec2 describe-flow-logs): usually the audit bucket's policy or the "
        "operator key's policy no longer admits delivery.logs.amazonaws.com; pulumi up restores both.",
    ),
)

PERMISSIONS = (
    "ec2:DescribeEgressOnlyInternetGateways",
    "ec2:DescribeFlowLogs",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpnGateways",
)

_GONE_ENDPOINT_STATES = ("deleted", "deleting", "rejected", "failed", "expired")


def vpc_cidrs(vpc: dict) -> list:
    cidrs = [
        ipaddress.ip_network(a["CidrBlock"])
        for a in vpc.get("CidrBlockAssociationSet", [{"CidrBlock": vpc["CidrBlock"]}])
        if a.get("CidrBlockState", {}).get("State", "associated") == "associated"
    ]
    return cidrs + [
        ipaddress.ip_network(a["Ipv6CidrBlock"])
        for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
        if a.get("Ipv6CidrBlockState", {}).get("State", "associated") == "associated"
    ]


def run(audit: Audit) -> None:
    ec2 = audit.client("ec2")
    where = audit.where
    services = [
        s
        for p in pages(ec2, "DescribeVpcEndpointServiceConfigurations", where)
        for s in p.get("ServiceConfigurations", [])
        if str(s.get("ServiceState", "")).lower() not in ("deleted", "deleting", "failed")
    ]
    for service in sorted(services, key=lambda s: str(s.get("ServiceId"))):
        ident = str(service.get("ServiceId"))
        balancers = [*service.get("NetworkLoadBalancerArns", []), *service.get("GatewayLoadBalancerArns", [])]
        audit.add(
            "vpc-no-endpoint-service",
            False,
            [ec2_arn(audit, "vpc-endpoint-service", ident), *balancers],
            f"endpoint service {service.get('ServiceName', ident)} in front of {', '.join(balancers) or 'no balancer'}",
        )
    if not services:
        audit.add("vpc-no-endpoint-service", True, [audit.scope()], "no endpoint service")
    vpcs = audit.vpcs()
    if not vpcs:
        return
    igws = [g for p in pages(ec2, "DescribeInternetGateways", where) for g in p.get("InternetGateways", [])]
    nats = [
        n
        for p in pages(ec2, "DescribeNatGateways", where)
        for n in p.get("NatGateways", [])
        if n.get("State") not in ("deleted", "deleting", "failed")
    ]
    eigws = [
        g
        for p in pages(ec2, "DescribeEgressOnlyInternetGateways", where)
        for g in p.get("EgressOnlyInternetGateways", [])
    ]
    peerings = [
        c
        for p in pages(ec2, "DescribeVpcPeeringConnections", where)
        for c in p.get("VpcPeeringConnections", [])
        if c.get("Status", {}).get("Code") in ("active", "pending-acceptance", "provisioning", "initiating-request")
    ]
    transit = [
        a
        for p in pages(ec2, "DescribeTransitGatewayVpcAttachments", where)
        for a in p.get("TransitGatewayVpcAttachments", [])
        if a.get("State") not in ("deleted", "deleting", "failed", "rejected")
    ]
    vgws = [
        g
        for p in pages(ec2, "DescribeVpnGateways", where)
        for g in p.get("VpnGateways", [])
        if g.get("State") != "deleted"
    ]
    tables = [t for p in pages(ec2, "DescribeRouteTables", where) for t in p.get("RouteTables", [])]
    acls = [a for p in pages(ec2, "DescribeNetworkAcls", where) for a in p.get("NetworkAcls", [])]
    groups = [g for p in pages(ec2, "DescribeSecurityGroups", where) for g in p.get("SecurityGroups", [])]
    flow_logs = [f for p in pages(ec2, "DescribeFlowLogs", where) for f in p.get("FlowLogs", [])]
    endpoints = [e for e in audit.endpoints() if e.get("State", "").lower() not in _GONE_ENDPOINT_STATES]
    s3_lists = _s3_prefix_lists(audit, ec2)

    for vpc in sorted(vpcs, key=lambda v: v["VpcId"]):
        vpc_id = vpc["VpcId"]
        vpc_arn = ec2_arn(audit, "vpc", vpc_id)
        cidrs = vpc_cidrs(vpc)

        attached = [
            g["InternetGatewayId"]
            for g in igws
            if any(a.get("VpcId") == vpc_id for a in g.get("Attachments", []) if a.get("State") != "detached")
        ]
        _gateway_result(audit, "vpc-no-internet-gateway", vpc_arn, "internet-gateway", attached, "internet gateway")
        mine = [n["NatGatewayId"] for n in nats if n.get("VpcId") == vpc_id]
        _gateway_result(audit, "vpc-no-nat-gateway", vpc_arn, "natgateway", mine, "NAT gateway")
        mine = [
            g["EgressOnlyInternetGatewayId"]
            for g in eigws
            if any(a.get("VpcId") == vpc_id for a in g.get("Attachments", []) if a.get("State") != "detached")
        ]
        _gateway_result(
            audit, "vpc-no-egress-only-gateway", vpc_arn, "egress-only-internet-gateway", mine, "egress-only gateway"
        )
        mine = [
            c["VpcPeeringConnectionId"]
            for c in peerings
            if vpc_id in (c.get("RequesterVpcInfo", {}).get("VpcId"), c.get("AccepterVpcInfo", {}).get("VpcId"))
        ]
        _gateway_result(audit, "vpc-no-peering", vpc_arn, "vpc-peering-connection", mine, "peering connection")
        joined_to = sorted(
            [
                *(
                    ("transit-gateway-attachment", a["TransitGatewayAttachmentId"])
                    for a in transit
                    if a.get("VpcId") == vpc_id
                ),
                *(
                    ("vpn-gateway", g["VpnGatewayId"])
                    for g in vgws
                    if any(
                        a.get("VpcId") == vpc_id and a.get("State") != "detached" for a in g.get("VpcAttachments") or []
                    )
                ),
            ]
        )
        audit.add(
            "vpc-no-transit-or-vpn-gateway",
            not joined_to,
            [vpc_arn, *(ec2_arn(audit, kind, ident) for kind, ident in joined_to)],
            f"joined to {', '.join(ident for _, ident in joined_to)}"
            if joined_to
            else "no transit gateway or VPN gateway",
        )

        _routes_result(audit, vpc_arn, [t for t in tables if t.get("VpcId") == vpc_id])
        for acl in sorted((a for a in acls if a.get("VpcId") == vpc_id), key=lambda a: a["NetworkAclId"]):
            _acl_result(audit, vpc_arn, acl, cidrs)
        vpc_groups = {g["GroupId"] for g in groups if g.get("VpcId") == vpc_id}
        for group in sorted((g for g in groups if g.get("VpcId") == vpc_id), key=lambda g: g["GroupId"]):
            _sg_result(audit, vpc_arn, group, cidrs, s3_lists, vpc_groups)
        for ep in sorted((e for e in endpoints if e.get("VpcId") == vpc_id), key=lambda e: e["VpcEndpointId"]):
            _endpoint_result(audit, vpc_arn, ep)
        _flow_log_results(audit, vpc_arn, vpc_id, [f for f in flow_logs if f.get("ResourceId") == vpc_id])


def _s3_prefix_lists(audit: Audit, ec2: Any) -> set[str]:
    """The region's AWS-managed S3 prefix list ids: reachable only through an S3 endpoint."""
    name = f"com.amazonaws.{audit.cfg.region}.s3"
    lists = call(
        ec2,
        "DescribeManagedPrefixLists",
        f"prefix list {name}",
        Filters=[{"Name": "prefix-list-name", "Values": [name]}],
    ).get("PrefixLists", [])
    return {pl["PrefixListId"] for pl in lists if pl.get("OwnerId") == "AWS" and pl.get("PrefixListName") == name}


def _gateway_result(audit: Audit, check_id: str, vpc_arn: str, kind: str, ids: list[str], what: str) -> None:
    arns = [ec2_arn(audit, kind, i) for i in sorted(ids)]
    found = f"{what} {', '.join(sorted(ids))}" if ids else f"no {what}"
    audit.add(check_id, not ids, [vpc_arn, *arns], found)


_LEAVING_TARGETS = (
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "NetworkInterfaceId",
    "InstanceId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)


def _routes_result(audit: Audit, vpc_arn: str, tables: list[dict]) -> None:
    bad: list[str] = []
    arns = [vpc_arn]
    for table in sorted(tables, key=lambda t: t["RouteTableId"]):
        for route in table.get("Routes", []):
            dest = (
                route.get("DestinationCidrBlock")
                or route.get("DestinationIpv6CidrBlock")
                or route.get("DestinationPrefixListId", "?")
            )
            gateway = route.get("GatewayId", "")
            targets = [route[k] for k in _LEAVING_TARGETS if route.get(k)]
            # A gateway endpoint (S3, DynamoDB) routes its service's prefix list; a vpce- target
            # for an address range is a Gateway Load Balancer endpoint: traffic to an appliance.
            endpoint_route = gateway.startswith("vpce-") and route.get("DestinationPrefixListId")
            if gateway and gateway != "local" and not endpoint_route:
                targets.append(gateway)
            if dest in ("0.0.0.0/0", "::/0") and not targets:
                targets.append(gateway or "?")
            if targets:
                bad.append(f"{table['RouteTableId']}: {dest} -> {', '.join(targets)}")
                arns.append(ec2_arn(audit, "route-table", table["RouteTableId"]))
    found = "; ".join(bad) if bad else "local routes only"
    audit.add("vpc-no-route-out", not bad, sorted(set(arns), key=arns.index), found)


def _inside(cidr: str | None, cidrs: list) -> bool:
    if not cidr:
        return False
    net = ipaddress.ip_network(cidr, strict=False)
    return any(net.version == c.version and net.subnet_of(c) for c in cidrs)


def _acl_result(audit: Audit, vpc_arn: str, acl: dict, cidrs: list) -> None:
    entries = sorted((e for e in acl.get("Entries", []) if e.get("Egress")), key=lambda e: e["RuleNumber"])
    bad = []
    for i, entry in enumerate(entries):
        if entry.get("RuleAction") != "allow":
            continue
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        if _inside(cidr, cidrs):
            continue
        # An allow behind a lower-numbered deny of all traffic to a wider block never matches.
        net = ipaddress.ip_network(cidr, strict=False)
        shadowed = any(
            earlier.get("RuleAction") == "deny"
            and earlier.get("Protocol") == "-1"
            and (earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock"))
            and net.version == ipaddress.ip_network(earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock")).version
            and net.subnet_of(ipaddress.ip_network(earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock")))
            for earlier in entries[:i]
        )
        if not shadowed:
            bad.append(f"rule {entry['RuleNumber']} allows egress to {cidr}")
    acl_arn = ec2_arn(audit, "network-acl", acl["NetworkAclId"])
    audit.add("vpc-nacl-egress-inside", not bad, [acl_arn, vpc_arn], "; ".join(bad) or "egress stays inside the VPC")


def _sg_result(audit: Audit, vpc_arn: str, group: dict, cidrs: list, s3_lists: set[str], vpc_groups: set[str]) -> None:
    bad = []
    for perm in group.get("IpPermissionsEgress", []):
        ports = _ports(perm)
        for r in perm.get("IpRanges", []):
            if not _inside(r.get("CidrIp"), cidrs):
                bad.append(f"{ports} to {r.get('CidrIp')}")
        for r in perm.get("Ipv6Ranges", []):
            if not _inside(r.get("CidrIpv6"), cidrs):
                bad.append(f"{ports} to {r.get('CidrIpv6')}")
        for pl in perm.get("PrefixListIds", []):
            if pl.get("PrefixListId") not in s3_lists:
                bad.append(f"{ports} to prefix list {pl.get('PrefixListId')}")
        for pair in perm.get("UserIdGroupPairs", []):
            if pair.get("GroupId") not in vpc_groups:
                bad.append(f"{ports} to security group {pair.get('GroupId')} outside the VPC")
    sg_arn = ec2_arn(audit, "security-group", group["GroupId"])
    audit.add("vpc-sg-egress-inside", not bad, [sg_arn, vpc_arn], "; ".join(bad) or "egress stays inside the VPC")


def _ports(perm: dict) -> str:
    proto = perm.get("IpProtocol")
    if proto in ("-1", -1, None):
        return "all traffic"
    low, high = perm.get("FromPort"), perm.get("ToPort")
    return f"{proto} {low}" if low == high else f"{proto} {low}-{high}"


def _endpoint_result(audit: Audit, vpc_arn: str, ep: dict) -> None:
    region = audit.cfg.region
    service, kind = ep.get("ServiceName", "?"), ep.get("VpcEndpointType", "?")
    problems = []
    if not service.startswith(f"com.amazonaws.{region}."):
        problems.append(f"endpoint to {service}, not an AWS service of {region}")
    if kind not in ("Interface", "Gateway"):
        problems.append(f"{kind} endpoint (sends traffic to a target no endpoint policy governs)")
    document = ep.get("PolicyDocument")
    if kind in ("Interface", "Gateway"):
        if not document:
            problems.append("no policy (full access)")
        perimeter = audit.perimeter()
        problems += policy_outsiders(document, perimeter, default_anyone=True)
        for i, s in enumerate(statements(document)):
            outside = resources_outside(s, perimeter)
            if outside:
                problems.append(f"{label(s, i)} reaches {', '.join(outside)}")
    ep_arn = ec2_arn(audit, "vpc-endpoint", ep["VpcEndpointId"])
    found = "; ".join(problems) or f"{service}: only the site's principals and resources"
    audit.add("vpc-endpoint-policy-site-only", not problems, [ep_arn, vpc_arn], found)


def _flow_log_results(audit: Audit, vpc_arn: str, vpc_id: str, flow_logs: list[dict]) -> None:
    cfg = audit.cfg
    bucket_arn = cfg.bucket_arn("audit-logs")
    site_logs = [
        f
        for f in flow_logs
        if f.get("TrafficType") == "ALL"
        and f.get("LogDestinationType") == "s3"
        and (f.get("LogDestination") == bucket_arn or str(f.get("LogDestination", "")).startswith(f"{bucket_arn}/"))
        and f.get("FlowLogStatus", "ACTIVE") == "ACTIVE"
    ]
    elsewhere = sorted(
        f"{f['FlowLogId']} to {f.get('LogDestination') or f.get('LogGroupName')}"
        for f in flow_logs
        if not _delivers_inside(audit, f)
    )
    ids = [f"flow-log {f['FlowLogId']}" for f in site_logs]
    problems = ([] if site_logs else [f"no ACTIVE flow log of all traffic into {bucket_arn}"]) + [
        f"delivers outside the site: {e}" for e in elsewhere
    ]
    audit.add(
        "vpc-flow-log-all-traffic",
        not problems,
        [vpc_arn, *sorted(ec2_arn(audit, "vpc-flow-log", f["FlowLogId"]) for f in site_logs)],
        "; ".join(problems) or f"{', '.join(ids)}: all traffic into {bucket_arn}",
    )
    if not site_logs:
        audit.add("vpc-flow-log-delivering", True, [vpc_arn], "no site flow log (see vpc-flow-log-all-traffic)")
        return
    for f in site_logs:
        failing = f.get("DeliverLogsStatus") != "SUCCESS" or f.get("DeliverLogsErrorMessage")
        audit.add(
            "vpc-flow-log-delivering",
            not failing,
            [ec2_arn(audit, "vpc-flow-log", f["FlowLogId"]), vpc_arn],
            f"DeliverLogsStatus {f.get('DeliverLogsStatus')}"
            + (f": {f['DeliverLogsErrorMessage']}" if f.get("DeliverLogsErrorMessage") else ""),
        )


def _delivers_inside(audit: Audit, flow_log: dict) -> bool:
    """The destination is the data account's, in the site region (a bucket there, or a log group)."""
    cfg = audit.cfg
    kind = flow_log.get("LogDestinationType", "cloud-watch-logs")
    destination = str(flow_log.get("LogDestination") or "")
    if kind == "s3":
        name = destination.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        return any(b["Name"] == name and b["Region"] == cfg.region for b in audit.buckets())
    if kind == "cloud-watch-logs" and not destination:
        return True  # a log group named without an ARN is the account's own, in the region
    return arn_account(destination) == audit.account and arn_region(destination) == cfg.region


FAMILY = Family("network", CHECKS, PERMISSIONS, run)
