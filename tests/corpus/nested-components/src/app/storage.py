"""A bucket for order exports, with versioning in a nested component."""

import pulumi
import pulumi_aws as aws


class Versioning(pulumi.ComponentResource):
    def __init__(self, name: str, bucket: aws.s3.Bucket, opts=None):
        super().__init__("nested:storage:Versioning", name, None, opts)
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


class Store(pulumi.ComponentResource):
    def __init__(self, name: str, opts=None):
        super().__init__("nested:storage:Store", name, None, opts)
        self.bucket = aws.s3.Bucket(f"{name}-exports", opts=pulumi.ResourceOptions(parent=self))
        Versioning(name, self.bucket, opts=pulumi.ResourceOptions(parent=self))
        self.bucket_name = self.bucket.bucket
        self.register_outputs({"bucket_name": self.bucket_name})
