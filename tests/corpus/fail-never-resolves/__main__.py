"""An output backed by a future nothing ever completes: the engine would wait for ever too."""

import asyncio

import pulumi
import pulumi_aws as aws

approval = asyncio.get_event_loop().create_future()
name = pulumi.Output.from_input(approval)
aws.s3.Bucket("ready")
aws.s3.Bucket("approved", bucket=name)
pulumi.export("approved_name", name)
