import pulumi_aws as aws
import pulumi_gcp as gcp

aws.s3.Bucket("aws-side")
gcp.storage.Bucket("gcp-side", location="EU")
