"""Tags on everything and protection on data, applied by transforms rather than at each resource."""

import pulumi
import pulumi_aws as aws

DATA_TYPES = {"aws:s3/bucket:Bucket", "aws:dynamodb/table:Table"}


def organisation_tags(args: pulumi.ResourceTransformArgs):
    if not args.type_.startswith("aws:") or args.type_.startswith("aws:iam/"):
        return None
    props = dict(args.props)
    props["tags"] = {**(props.get("tags") or {}), "cost-centre": "eu-4711"}
    return pulumi.ResourceTransformResult(props, args.opts)


def protect_data(args: pulumi.ResourceTransformArgs):
    if args.type_ in DATA_TYPES:
        return pulumi.ResourceTransformResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True))
        )
    return None


pulumi.runtime.register_stack_transform(organisation_tags)


class Archive(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("example:storage:Archive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-objects", opts=child)
        self.index = aws.dynamodb.Table(
            f"{name}-index",
            hash_key="id",
            attributes=[{"name": "id", "type": "S"}],
            billing_mode="PAY_PER_REQUEST",
            opts=child,
        )
        self.register_outputs({})


archive = Archive("archive", opts=pulumi.ResourceOptions(transforms=[protect_data]))
scratch = aws.s3.Bucket("scratch", tags={"purpose": "tmp"})

pulumi.export("archive_bucket", archive.bucket.bucket)
