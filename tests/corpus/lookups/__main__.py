"""Reads existing resources (Resource.get, data sources by ARN) and builds on them, with an async entry point."""

import pulumi
import pulumi_aws as aws

legacy = aws.s3.Bucket.get("legacy", "acme-legacy-exports")
vpc = aws.ec2.Vpc.get("shared", "vpc-0123456789abcdef0")
shared_key = aws.kms.get_key(key_id="arn:aws:kms:eu-north-1:555566667777:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
alias = aws.kms.get_alias(name="alias/exports")

aws.s3.BucketServerSideEncryptionConfiguration(
    "legacy",
    bucket=legacy.id,
    rules=[
        {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": shared_key.arn}}
    ],
)
subnet = aws.ec2.Subnet("extra", vpc_id=vpc.id, cidr_block=vpc.cidr_block.apply(lambda c: c or "10.0.9.0/24"))


async def main():
    # An entry point run after the module, as pulumi.run allows.
    peer = await aws.ec2.get_vpc(id="vpc-0123456789abcdef0")
    return {"peer_vpc": peer.id, "alias_target": alias.target_key_arn}


pulumi.run(main)
pulumi.export("legacy_arn", legacy.arn)
pulumi.export("shared_key_account", shared_key.aws_account_id)
