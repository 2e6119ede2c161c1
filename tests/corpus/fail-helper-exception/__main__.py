import pulumi_aws as aws
from naming import bucket_name

aws.s3.Bucket("data", bucket=bucket_name("data", {"team": "payments"}))
