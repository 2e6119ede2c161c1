"""Subnets, security groups and even the region come from the network team's stack."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
network = pulumi.StackReference(config.require("networkStack"))
vpc_id = network.require_output("vpcId")
subnet_ids = network.get_output("privateSubnetIds")

provider = aws.Provider("shared", region=network.get_output("region"), allowed_account_ids=["999988887777"])
opts = pulumi.ResourceOptions(provider=provider)

group = aws.ec2.SecurityGroup("app", vpc_id=vpc_id, opts=opts)
queue = aws.sqs.Queue("jobs", opts=opts)
lambda_role = aws.iam.Role(
    "worker",
    assume_role_policy=pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
            ],
        }
    ),
    opts=opts,
)

pulumi.export("queue_url", queue.url)
pulumi.export("first_subnet", subnet_ids.apply(lambda ids: ids[0] if ids else None))
