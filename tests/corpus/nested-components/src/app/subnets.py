"""One private subnet in one zone (a component nested inside Network)."""

import ipaddress

import pulumi
import pulumi_aws as aws


class ZoneSubnet(pulumi.ComponentResource):
    def __init__(self, name: str, vpc: aws.ec2.Vpc, zone: pulumi.Input[str], index: int, opts=None):
        super().__init__("nested:net:ZoneSubnet", name, None, opts)
        cidr = vpc.cidr_block.apply(lambda c: str(list(ipaddress.ip_network(c).subnets(new_prefix=24))[index]))
        self.subnet = aws.ec2.Subnet(
            f"{name}-subnet",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # No register_outputs: the engine does not need it, and neither may the harness.
