import pulumi_aws as aws

for site in ["dublin", "hamar"]:
    # The name does not vary with the loop: the engine refuses the second bucket.
    aws.s3.Bucket("data", tags={"site": site})
