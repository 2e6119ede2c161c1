"""operator-held-encryption: data at rest is encrypted with a KMS key held in the operator's account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
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
from .values import MISSING, arn_parts, config_value, decode_json, get, is_unknown, items, missing_config_message

NAME = names.ENCRYPTION

KMS_KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
# The actions that decide who may use an operator key, or whether it exists: whoever holds one of them
# holds the key (AWS KMS developer guide, "Key policies": PutKeyPolicy replaces the whole policy,
# CreateGrant delegates use, ScheduleKeyDeletion/DisableKey end it, EnableKey undoes the operator's
# kill switch, ReplicateKey/UpdatePrimaryRegion move it, key material imports replace it).
KEY_CONTROL_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:DisableKeyRotation",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
)
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


KINESIS_STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"


def _firehose(props: Any) -> Iterator[KeyRef]:
    if get(props, "kinesisSourceConfiguration") not in (MISSING, None):
        # AWS: with a Kinesis data stream as its source, Firehose stores nothing at rest (the data stays in
        # the stream, encrypted with the stream's key) and refuses server-side encryption of its own
        # (Firehose developer guide, "Server-side encryption with Kinesis Data Streams as the data source").
        # The stream's key decides; validate() requires the stream to be one of this stack's.
        return
    sse = get(props, "serverSideEncryption")
    if get(sse, "enabled") is not True or get(sse, "keyType") != "CUSTOMER_MANAGED_CMK":
        yield "serverSideEncryption", "serverSideEncryption", ("SSE", "an AWS-owned key")
        return
    yield "serverSideEncryption", "serverSideEncryption.keyArn", get(sse, "keyArn")


def _mq(props: Any) -> Iterator[KeyRef]:
    # Amazon MQ encrypts at rest with an AWS-owned key unless use_aws_owned_key is false (the SDK's default
    # is true; false without kms_key_id makes an AWS-managed aws/mq key in the data account).
    options = get(props, "encryptionOptions")
    if get(options, "useAwsOwnedKey") is not False:
        yield "encryptionOptions", "encryptionOptions.useAwsOwnedKey", ("SSE", "an AWS-owned key")
        return
    yield "encryptionOptions", "encryptionOptions.kmsKeyId", get(options, "kmsKeyId")


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
    "aws:mq/broker:Broker": _mq,
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
    FIREHOSE: _firehose,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _simple("kmsKeyArn"),
    "aws:sagemaker/notebookInstance:NotebookInstance": _simple("kmsKeyId"),
    "aws:backup/vault:Vault": _simple("kmsKeyArn"),
    "aws:timestreamwrite/database:Database": _simple("kmsKeyId"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": _simple("kmsKeyId"),
    "aws:fsx/ontapFileSystem:OntapFileSystem": _simple("kmsKeyId"),
    "aws:fsx/openZfsFileSystem:OpenZfsFileSystem": _simple("kmsKeyId"),
    "aws:fsx/windowsFileSystem:WindowsFileSystem": _simple("kmsKeyId"),
}
SPECIAL_TYPES = frozenset({*KEY_REFS, KMS_KEY, KEY_POLICY})
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


def _source_stream_problem(res: PolicyResource, streams: dict[str, str]) -> str | None:
    """Why a Firehose stream's Kinesis source is not provably a stream of this stack (whose key this rule checks)."""
    source = get(res.props, "kinesisSourceConfiguration")
    if source in (MISSING, None):
        return None
    deps = res.property_dependencies.get("kinesisSourceConfiguration", [])
    arn = get(source, "kinesisStreamArn")
    if any(d.resource_type == KINESIS_STREAM for d in deps) or (isinstance(arn, str) and arn in streams):
        return None
    return (
        f"kinesisSourceConfiguration.kinesisStreamArn {arn!r} is not a Kinesis stream of this stack: a stream-sourced "
        "Firehose stream stores its data in the source stream, so the pack can prove the operator key only for a "
        "stream this program creates (aws.kinesis.Stream with the operator key)"
    )


def _principal_accounts(statement: dict) -> list[str]:
    """Who an Allow statement admits: an account id per AWS principal, '*' for everyone, the name of any other."""
    principal = statement.get("Principal")
    if principal is None or "NotPrincipal" in statement:
        return ["*"]
    if principal == "*":
        return ["*"]
    out: list[str] = []
    for kind, values in principal.items() if isinstance(principal, dict) else [("AWS", principal)]:
        for value in values if isinstance(values, list) else [values]:
            if kind != "AWS" or not isinstance(value, str):
                out.append(str(value))
            elif value.isdigit():
                out.append(value)
            else:
                parts = arn_parts(value)
                out.append(parts[2] if parts else value)
    return out


def _confined_to(statement: dict, account: str) -> bool:
    """Whether a condition admits only callers of ``account`` (for Principal '*')."""
    for operator, keys in (statement.get("Condition") or {}).items():
        if operator.lower() not in ("stringequals", "arnequals") or not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            if key.lower() in ("kms:calleraccount", "aws:principalaccount"):
                if (values if isinstance(values, list) else [values]) == [account]:
                    return True
    return False


def _control_actions(statement: dict) -> list[str]:
    """The key-control actions an Allow statement grants (NotAction grants all it does not name)."""
    if "NotAction" in statement:
        excluded = [a.lower() for a in items(statement["NotAction"]) if isinstance(a, str)]
        return [a for a in KEY_CONTROL_ACTIONS if not any(fnmatchcase(a.lower(), e) for e in excluded)]
    granted = [a.lower() for a in items(statement.get("Action")) if isinstance(a, str)]
    found = [a for a in KEY_CONTROL_ACTIONS if any(fnmatchcase(a.lower(), g) for g in granted)]
    if "kms:CreateGrant" in found:
        # The grant an AWS service makes for a resource it encrypts (EBS, RDS) delegates no control.
        bools = {k.lower(): v for k, v in ((statement.get("Condition") or {}).get("Bool") or {}).items()}
        if str(bools.get("kms:grantisforawsresource", "")).lower() == "true":
            found.remove("kms:CreateGrant")
    return found


def key_control_findings(policy: Any, operator: str) -> Iterator[str]:
    """Why a key policy lets someone other than the operator account decide over an operator key."""
    document = decode_json(policy)
    if not isinstance(document, dict):
        return
    for i, statement in enumerate(items(document.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        others = [a for a in _principal_accounts(statement) if a != operator]
        if others == ["*"] and _confined_to(statement, operator):
            others = []
        actions = _control_actions(statement) if others else []
        if actions:
            sid = statement.get("Sid", str(i))
            yield (
                f"policy statement {sid!r} lets {', '.join(others)} {', '.join(actions)} on a key of the operator "
                f"{operator}: whoever holds these holds the key (can rewrite its policy, delegate it, disable or "
                "delete it), so the operator would no longer hold it. Grant other accounts only key use (Encrypt, "
                "Decrypt, GenerateDataKey) under kms:ViaService and kms:CallerAccount conditions"
            )


def _operator_key_policies(args: StackValidationArgs, operator: str) -> Iterator[tuple[PolicyResource, Any]]:
    """(resource, policy document) of every key policy on a key of the operator account."""
    keys = {get(r.props, k): r for r in args.resources if r.resource_type == KMS_KEY for k in ("arn", "id", "keyId")}
    for res in args.resources:
        if res.resource_type == KMS_KEY:
            if provider_accounts(res) == [operator]:
                yield res, get(res.props, "policy")
        elif res.resource_type == KEY_POLICY:
            key_id = get(res.props, "keyId")
            parts = arn_parts(key_id)
            targets = [d for d in res.property_dependencies.get("keyId", []) if d.resource_type == KMS_KEY]
            target = keys.get(key_id) if isinstance(key_id, str) else None
            if target is not None:
                targets.append(target)
            if (
                provider_accounts(res) == [operator]
                or (parts is not None and parts[2] == operator)
                or any(provider_accounts(t) == [operator] for t in targets)
            ):
                yield res, get(res.props, "policy")


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
    streams = {
        arn: r.urn
        for r in args.resources
        if r.resource_type == KINESIS_STREAM and isinstance(arn := get(r.props, "arn"), str) and not is_unknown(arn)
    }
    for res in args.resources:
        refs = KEY_REFS.get(res.resource_type)
        if refs is None:
            continue
        if res.resource_type == FIREHOSE:
            problem = _source_stream_problem(res, streams)
            if problem:
                report_violation(problem, res.urn)
        for prop, path, value in refs(res.props):
            problem = key_problem(value, res.property_dependencies.get(prop, []), region, operator, data)
            if problem:
                report_violation(f"{path}: {problem}", res.urn)
        if res.resource_type in (SSE_CONFIG, SSE_CONFIG_V2):
            name = _bucket_name(res)
            if isinstance(name, str) and not is_unknown(name):
                encrypted_buckets.add(name)
            encrypted_bucket_urns.update(d.urn for d in res.property_dependencies.get("bucket", []))

    for res, policy in _operator_key_policies(args, operator):
        for message in key_control_findings(policy, operator):
            report_violation(message, res.urn)
        if get(res.props, "bypassPolicyLockoutSafetyCheck") is True:
            report_violation(
                "bypassPolicyLockoutSafetyCheck = true: AWS's lockout check is what keeps the operator able to "
                "administer its key; remove it",
                res.urn,
            )

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
