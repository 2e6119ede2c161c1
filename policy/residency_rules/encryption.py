"""operator-held-encryption: data at rest is encrypted with a KMS key held in the operator's account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import exceptions, names
from .stack import provider_accounts
from .values import MISSING, arn_parts, config_value, get, is_unknown, items, missing_config_message

NAME = names.ENCRYPTION

KMS_KEY = "aws:kms/key:Key"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
SSE_CONFIG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_CONFIG_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"

KeyRef = tuple[str, str, Any]
"""(top-level property, path shown to the reader, key value)."""


def _simple(prop: str) -> Callable[[Any], Iterator[KeyRef]]:
    def refs(props: Any) -> Iterator[KeyRef]:
        yield prop, prop, get(props, prop)

    return refs


def _simple_path(block: str, key: str) -> Callable[[Any], Iterator[KeyRef]]:
    def refs(props: Any) -> Iterator[KeyRef]:
        yield block, f"{block}.{key}", get(props, block, key)

    return refs


def _sse_rules(props: Any) -> Iterator[KeyRef]:
    rules = items(get(props, "rules"))
    if not rules:
        yield "rules", "rules", MISSING
    for i, rule in enumerate(rules):
        base = f"rules[{i}].applyServerSideEncryptionByDefault"
        algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
        if is_unknown(algorithm):
            yield (
                "rules",
                f"{base}.sseAlgorithm",
                ("SSE", "an algorithm unknown at preview (set it literally to 'aws:kms')"),
            )
            continue
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            yield "rules", f"{base}.sseAlgorithm", ("SSE", algorithm)
            continue
        yield "rules", f"{base}.kmsMasterKeyId", get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")


def _inline_bucket_sse(props: Any) -> Iterator[KeyRef]:
    inline = get(props, "serverSideEncryptionConfiguration")
    if inline is MISSING or inline is None:
        return  # a separate BucketServerSideEncryptionConfiguration is required instead (checked per stack)
    for _prop, path, value in _sse_rules({"rules": items(get(inline, "rule"))}):
        yield "serverSideEncryptionConfiguration", f"serverSideEncryptionConfiguration.{path}", value


def _dynamodb(props: Any) -> Iterator[KeyRef]:
    if get(props, "serverSideEncryption", "enabled") is not True:
        yield "serverSideEncryption", "serverSideEncryption.enabled", ("SSE", "AWS owned key")
        return
    yield "serverSideEncryption", "serverSideEncryption.kmsKeyArn", get(props, "serverSideEncryption", "kmsKeyArn")


def _enabled_key(flag: str, key: str, block: str | None = None) -> Callable[[Any], Iterator[KeyRef]]:
    """A store encrypted at rest only when ``flag`` is true, with its key at ``key`` (inside ``block``)."""
    top = block or key

    def refs(props: Any) -> Iterator[KeyRef]:
        base = get(props, block) if block else props
        path = f"{block}." if block else ""
        if get(base, flag) is not True:
            yield top, f"{path}{flag}", ("SSE", "no encryption at rest (or an AWS-owned key)")
            return
        yield top, f"{path}{key}", get(base, key)

    return refs


def _firehose(props: Any) -> Iterator[KeyRef]:
    sse = get(props, "serverSideEncryption")
    if get(sse, "enabled") is not True or get(sse, "keyType") != "CUSTOMER_MANAGED_CMK":
        yield "serverSideEncryption", "serverSideEncryption", ("SSE", "an AWS-owned key")
        return
    yield "serverSideEncryption", "serverSideEncryption.keyArn", get(sse, "keyArn")


def _ecr(props: Any) -> Iterator[KeyRef]:
    configs = items(get(props, "encryptionConfigurations"))
    if not configs or get(configs[0], "encryptionType") != "KMS":
        yield "encryptionConfigurations", "encryptionConfigurations[0].encryptionType", ("SSE", "AES256")
        return
    yield "encryptionConfigurations", "encryptionConfigurations[0].kmsKey", get(configs[0], "kmsKey")


# Data-at-rest resources and where each names its key. A missing key means an
# AWS-owned or AWS-managed key, which the operator does not hold.
KEY_REFS: dict[str, Callable[[Any], Iterator[KeyRef]]] = {
    SSE_CONFIG: _sse_rules,
    SSE_CONFIG_V2: _sse_rules,
    "aws:s3/bucket:Bucket": _inline_bucket_sse,
    "aws:s3/bucketV2:BucketV2": _inline_bucket_sse,
    "aws:secretsmanager/secret:Secret": _simple("kmsKeyId"),
    "aws:cloudtrail/trail:Trail": _simple("kmsKeyId"),
    "aws:cloudwatch/logGroup:LogGroup": _simple("kmsKeyId"),
    "aws:sns/topic:Topic": _simple("kmsMasterKeyId"),
    "aws:sqs/queue:Queue": _simple("kmsMasterKeyId"),
    "aws:ebs/volume:Volume": _simple("kmsKeyId"),
    "aws:efs/fileSystem:FileSystem": _simple("kmsKeyId"),
    "aws:rds/instance:Instance": _simple("kmsKeyId"),
    "aws:rds/cluster:Cluster": _simple("kmsKeyId"),
    "aws:kinesis/stream:Stream": _simple("kmsKeyId"),
    "aws:dynamodb/table:Table": _dynamodb,
    "aws:ecr/repository:Repository": _ecr,
    "aws:elasticache/replicationGroup:ReplicationGroup": _enabled_key("atRestEncryptionEnabled", "kmsKeyId"),
    "aws:elasticache/serverlessCache:ServerlessCache": _simple("kmsKeyId"),
    "aws:memorydb/cluster:Cluster": _simple("kmsKeyArn"),
    "aws:opensearch/domain:Domain": _enabled_key("enabled", "kmsKeyId", "encryptAtRest"),
    "aws:elasticsearch/domain:Domain": _enabled_key("enabled", "kmsKeyId", "encryptAtRest"),
    "aws:redshift/cluster:Cluster": _enabled_key("encrypted", "kmsKeyId"),
    "aws:redshiftserverless/namespace:Namespace": _simple("kmsKeyId"),
    "aws:docdb/cluster:Cluster": _enabled_key("storageEncrypted", "kmsKeyId"),
    "aws:neptune/cluster:Cluster": _enabled_key("storageEncrypted", "kmsKeyArn"),
    "aws:msk/cluster:Cluster": _simple_path("encryptionInfo", "encryptionAtRestKmsKeyArn"),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _firehose,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _simple("kmsKeyArn"),
    "aws:sagemaker/notebookInstance:NotebookInstance": _simple("kmsKeyId"),
    "aws:backup/vault:Vault": _simple("kmsKeyArn"),
    "aws:timestreamwrite/database:Database": _simple("kmsKeyId"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": _simple("kmsKeyId"),
    "aws:fsx/ontapFileSystem:OntapFileSystem": _simple("kmsKeyId"),
    "aws:fsx/openZfsFileSystem:OpenZfsFileSystem": _simple("kmsKeyId"),
    "aws:fsx/windowsFileSystem:WindowsFileSystem": _simple("kmsKeyId"),
}
SPECIAL_TYPES = frozenset(KEY_REFS)
"""Types this rule checks by their own inputs."""


def key_problem(
    value: Any, deps: list[PolicyResource], region: str | None, operator: str, data: str | None
) -> str | None:
    """Why the key reference ``value`` is not an operator-held key, or None when it is."""
    if isinstance(value, tuple):
        return f"uses {value[1] or 'the default'} encryption, not a KMS key of the operator: use sse_algorithm 'aws:kms' with the operator key"
    if value is MISSING or value in (None, ""):
        return "names no KMS key, so AWS uses an AWS-managed key: set it to the operator key's ARN"
    if is_unknown(value):
        keys = [d for d in deps if d.resource_type == KMS_KEY]
        if not keys:
            return (
                "the key is unknown at preview and does not come from a KMS key of this stack: "
                "pass the operator key's ARN (aws.kms.Key on the operator provider)"
            )
        for key in keys:
            if provider_accounts(key) != [operator]:
                return (
                    f"the key comes from {key.urn}, whose provider is not pinned to the operator account "
                    f"{operator} (allowedAccountIds {provider_accounts(key)}): create the key with the operator provider"
                )
        return None
    if not isinstance(value, str):
        return f"key reference {value!r} is not a KMS key ARN: use the operator key's ARN"
    if value.startswith("alias/aws/") or ":alias/aws/" in value:
        return f"{value!r} is an AWS-managed key, not held by the operator: use the operator key's ARN"
    parts = arn_parts(value)
    if parts is None or parts[0] != "kms":
        return (
            f"{value!r} is a bare key id or alias, which resolves in the data account: use the full ARN of the "
            f"operator key (account {operator})"
        )
    _service, key_region, account, _resource = parts
    if account != operator:
        whose = "the data account" if account == data else f"account {account}"
        return f"{value!r} is a key of {whose}, not of the operator {operator}: use the operator key's ARN"
    if region and key_region != region:
        return (
            f"{value!r} is a key in {key_region}, outside the site's region {region}: use the operator key in {region}"
        )
    return None


def _bucket_name(resource: PolicyResource) -> Any:
    return get(resource.props, "bucket")


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    operator = config_value(args, "operatorAccountId")
    if operator is None:
        report_violation(missing_config_message(NAME, "operatorAccountId"))
        return
    data = config_value(args, "dataAccountId")
    region = config_value(args, "allowedRegion")

    encrypted_buckets: set[Any] = set()
    encrypted_bucket_urns: set[str] = set()
    for res in args.resources:
        refs = KEY_REFS.get(res.resource_type)
        if refs is None:
            continue
        for prop, path, value in refs(res.props):
            problem = key_problem(value, res.property_dependencies.get(prop, []), region, operator, data)
            if problem:
                report_violation(f"{path}: {problem}", res.urn)
        if res.resource_type in (SSE_CONFIG, SSE_CONFIG_V2):
            name = _bucket_name(res)
            if isinstance(name, str) and not is_unknown(name):
                encrypted_buckets.add(name)
            encrypted_bucket_urns.update(d.urn for d in res.property_dependencies.get("bucket", []))

    # A bucket without its own encryption configuration gets SSE-S3 (AES256) by default.
    for res in args.resources:
        if res.resource_type not in BUCKET_TYPES:
            continue
        if get(res.props, "serverSideEncryptionConfiguration") not in (MISSING, None):
            continue
        if res.urn in encrypted_bucket_urns or _bucket_name(res) in encrypted_buckets:
            continue
        report_violation(
            "bucket has no BucketServerSideEncryptionConfiguration, so S3 encrypts it with SSE-S3 (AES256): "
            "add one with sse_algorithm 'aws:kms' and the operator key",
            res.urn,
        )


POLICY = StackValidationPolicy(
    name=NAME,
    description="Data at rest is encrypted with a KMS key of the operator's account, never an AWS-managed or data-account key.",
    validate=exceptions.stack_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(required=["operatorAccountId", "allowedRegion"], accounts=True),
)
