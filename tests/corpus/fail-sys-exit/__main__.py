import sys

import pulumi_aws as aws

aws.s3.Bucket("first")
if aws.get_region().region != "us-east-1":
    sys.exit(3)
