"""A key in a dedicated keys account whose policy names that account, by identity, region and partition."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
keys_account = config.require("keysAccount")
region = aws.get_region().region

keys = aws.Provider("keys", region=region, allowed_account_ids=[keys_account])
on_keys = pulumi.InvokeOptions(provider=keys)
me = aws.get_caller_identity(opts=on_keys)
partition = aws.get_partition(opts=on_keys)
here = aws.get_region(opts=on_keys)
kms = aws.get_service(service_id="kms", opts=on_keys)

root = f"arn:{partition.partition}:iam::{me.account_id}:root"
policy = aws.iam.get_policy_document(
    statements=[
        {
            "sid": "KeyAdmin",
            "principals": [{"type": "AWS", "identifiers": [root]}],
            "actions": ["kms:*"],
            "resources": ["*"],
        },
        {
            "sid": "UseViaS3InRegion",
            "principals": [{"type": "AWS", "identifiers": ["*"]}],
            "actions": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "resources": ["*"],
            "conditions": [
                {
                    "test": "StringEquals",
                    "variable": "kms:ViaService",
                    "values": [f"s3.{here.region}.{partition.dns_suffix}"],
                },
                {"test": "StringEquals", "variable": "kms:CallerAccount", "values": [me.account_id]},
            ],
        },
    ]
)
key = aws.kms.Key("data", policy=policy.json, deletion_window_in_days=30, opts=pulumi.ResourceOptions(provider=keys))
parsed = aws.get_arn(arn=me.arn)

pulumi.export("caller", me.arn)
pulumi.export("caller_service", parsed.service)
pulumi.export("key_arn", key.arn)
pulumi.export("kms_endpoint", kms.dns_name)
pulumi.export("region_name", here.description)
