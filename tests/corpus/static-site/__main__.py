"""A static site: files and the bucket policy template are read relative to the program."""

import json
import mimetypes
import os

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
reader = config.require("readerRole")

site = aws.s3.Bucket("site")
aws.s3.BucketPublicAccessBlock(
    "site",
    bucket=site.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)

for name in sorted(os.listdir("www")):
    path = os.path.join("www", name)
    aws.s3.BucketObject(
        name,
        bucket=site.id,
        key=name,
        source=pulumi.FileAsset(path),
        content_type=mimetypes.guess_type(path)[0],
    )

with open("bucket-policy.json") as f:
    template = f.read()


def render(arn: str) -> str:
    document = json.loads(template.replace("{reader}", reader).replace("{bucket_arn}", arn))
    return json.dumps(document)


aws.s3.BucketPolicy("site", bucket=site.id, policy=site.arn.apply(render))

pulumi.export("bucket", site.bucket)
