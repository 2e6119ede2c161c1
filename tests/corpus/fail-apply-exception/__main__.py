import pulumi
import pulumi_aws as aws
from naming import owner_tag

logs = aws.s3.Bucket("logs")
# The check runs inside an apply: the SDK rewraps its error ("While processing input: ...").
data = aws.s3.Bucket("data", tags={"owner": logs.bucket.apply(owner_tag)})
pulumi.export("data", data.bucket)
