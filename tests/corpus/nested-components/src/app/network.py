"""A VPC with one private subnet per zone, each zone a nested component."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from app.subnets import ZoneSubnet


@dataclass(frozen=True)
class NetworkArgs:
    cidr: str
    """The VPC's CIDR."""
    zones: int
    """How many zones get a subnet."""


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("nested:net:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True, opts=child)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        self.subnets = [
            ZoneSubnet(f"{name}-{i}", self.vpc, zones.names[i], index=i, opts=child) for i in range(args.zones)
        ]
        self.vpc_id = self.vpc.id
        self.subnet_ids = pulumi.Output.all(*[s.subnet.id for s in self.subnets])
        self.register_outputs({"vpc_id": self.vpc_id})
