"""A single web server in the default VPC: AMI, VPC, subnets and zones are all looked up."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
instance_type = config.get("instanceType")

ami = aws.ec2.get_ami(
    most_recent=True,
    owners=["137112412989"],
    filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-2023.*-x86_64"])],
)
vpc = aws.ec2.get_vpc(default=True)
subnets = aws.ec2.get_subnets(filters=[{"name": "vpc-id", "values": [vpc.id]}])
zones = aws.get_availability_zones(state="available")

with open("user_data.sh") as f:
    user_data = f.read()

group = aws.ec2.SecurityGroup(
    "web-secgrp",
    description="Enable HTTP access from inside the VPC",
    vpc_id=vpc.id,
    ingress=[
        aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=80, to_port=80, cidr_blocks=[vpc.cidr_block]),
    ],
)

server = aws.ec2.Instance(
    "web-server-www",
    instance_type=instance_type,
    vpc_security_group_ids=[group.id],
    ami=ami.id,
    subnet_id=subnets.ids[0],
    availability_zone=zones.names[0],
    user_data=user_data,
    tags={"Name": f"web-{ami.name.split('-')[0]}"},
)

pulumi.export("ami", ami.id)
pulumi.export("zones", zones.names[:2])
pulumi.export("public_dns", server.public_dns)
