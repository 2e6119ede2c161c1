"""Structured config: an object, typed scalars with defaults, and a project-level value."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
cluster = config.require_object("cluster")
replicas = config.require_int("replicas")
public = config.get_bool("publicAccess")
owners = config.get_object("owners")
environment = config.require("environment")
region = pulumi.Config("aws").require("region")

vpc = aws.ec2.Vpc(cluster["name"], cidr_block=cluster["cidr"], tags={"env": environment, "owners": ",".join(owners)})
for i, cidr in enumerate(cluster["subnets"]):
    aws.ec2.Subnet(f"{cluster['name']}-{i}", vpc_id=vpc.id, cidr_block=cidr, map_public_ip_on_launch=public)
if cluster.get("flowLogs"):
    logs = aws.cloudwatch.LogGroup(f"{cluster['name']}-flows", retention_in_days=30)
    aws.ec2.FlowLog(f"{cluster['name']}-flows", vpc_id=vpc.id, traffic_type="ALL", log_destination=logs.arn)
for i in range(replicas):
    aws.sqs.Queue(f"{cluster['name']}-work-{i}")

pulumi.export("region", region)
