import pulumi
import pulumi_aws as aws

config = pulumi.Config()
aws.s3.Bucket("data", bucket=config.require("bucketName"))
