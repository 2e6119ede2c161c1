"""Passes whole resources where ids are expected: the provider receives their ids (components: URNs)."""

import pulumi
import pulumi_aws as aws


class Tagged(pulumi.ComponentResource):
    def __init__(self, name: str):
        super().__init__("example:index:Tagged", name)
        self.register_outputs({})


bucket = aws.s3.Bucket("assets")
aws.s3.BucketVersioning("assets", bucket=bucket, versioning_configuration={"status": "Enabled"})

role = aws.iam.Role(
    "reader",
    assume_role_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}]}',
)
aws.iam.RolePolicyAttachment("reader", role=role, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")

vpc = aws.ec2.Vpc("main", cidr_block="10.1.0.0/16")
group = aws.ec2.SecurityGroup("web", vpc_id=vpc)
subnet = aws.ec2.Subnet("web", vpc_id=vpc, cidr_block="10.1.1.0/24")
aws.ec2.Instance(
    "web", ami="ami-0abcdef1234567890", instance_type="t3.micro", subnet_id=subnet, vpc_security_group_ids=[group]
)

owner = Tagged("owner")
aws.ssm.Parameter("owner", type="String", value=owner)

pulumi.export("bucket", bucket)
