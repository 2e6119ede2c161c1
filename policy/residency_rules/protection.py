"""no-public-data and data-protected: nothing is public, and data stores cannot be deleted by accident."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import exceptions, names
from .registry import forbidden_by
from .scan import is_star_principal
from .values import _PROXIES, _UNKNOWN_SENTINELS, MISSING, get, is_unknown, items, plain

PUBLIC_NAME = names.PUBLIC
PROTECTED_NAME = names.PROTECTED

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PAB = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
SSM_SETTING = "aws:ssm/serviceSetting:ServiceSetting"
SSM_PUBLIC_SHARING = "/ssm/documents/console/public-sharing-permission"
# Account-wide blocks on public sharing, and the state each must keep.
ACCOUNT_BLOCKS = {
    "aws:ebs/snapshotBlockPublicAccess:SnapshotBlockPublicAccess": "block-all-sharing",
    "aws:ec2/imageBlockPublicAccess:ImageBlockPublicAccess": "block-new-sharing",
}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)

# Resource policies whose document is in the given property.
POLICY_DOCUMENTS = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:s3/bucket:Bucket": "policy",
    "aws:kms/key:Key": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:secretsmanager/secret:Secret": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
}
PUBLIC_TYPES = forbidden_by(PUBLIC_NAME)
"""Types that are public by design (from the registry)."""

# Data-bearing types: protect=True so `pulumi destroy` or a rename cannot delete them.
DATA_TYPES = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:kms/externalKey:ExternalKey",
    "aws:secretsmanager/secret:Secret",
    "aws:dynamodb/table:Table",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:efs/fileSystem:FileSystem",
    "aws:ebs/volume:Volume",
    "aws:docdb/cluster:Cluster",
    "aws:neptune/cluster:Cluster",
    "aws:redshift/cluster:Cluster",
    "aws:redshiftserverless/namespace:Namespace",
    "aws:opensearch/domain:Domain",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/serverlessCache:ServerlessCache",
    "aws:memorydb/cluster:Cluster",
    "aws:backup/vault:Vault",
    "aws:timestreamwrite/database:Database",
    "aws:fsx/lustreFileSystem:LustreFileSystem",
    "aws:fsx/ontapFileSystem:OntapFileSystem",
    "aws:fsx/openZfsFileSystem:OpenZfsFileSystem",
    "aws:fsx/windowsFileSystem:WindowsFileSystem",
)
OBJECT_LOCK_TYPES = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
KMS_DELETION_WINDOW_DAYS = 30
DEFAULT_MIN_RETENTION_DAYS = 90

# --------------------------------------------------------------------------- settings AWS keeps once per target

_S3 = "aws:s3/"
# Settings AWS holds once per bucket, key, queue, topic, secret, repository, bus or VPC: each Put*
# call replaces the whole setting (S3 API reference: PutBucketPolicy, PutPublicAccessBlock,
# PutBucketEncryption, PutBucketVersioning, PutObjectLockConfiguration, PutBucketReplication,
# PutBucketLogging, PutBucketLifecycleConfiguration, PutBucketAcl, PutBucketOwnershipControls; KMS
# PutKeyPolicy; SQS SetQueueAttributes Policy; SNS SetTopicAttributes Policy; Secrets Manager
# PutResourcePolicy; ECR SetRepositoryPolicy; EventBridge PutPermission on the bus policy; Route 53
# Resolver UpdateFirewallConfig). Two resources for one target fight: whichever applies last silently
# drops the other's statements or flags, so what the pack checked on one is not what AWS holds.
# type -> (setting family, the input naming the target).
SINGLE_SETTINGS: dict[str, tuple[str, str]] = {
    f"{_S3}bucketPolicy:BucketPolicy": ("bucket policy", "bucket"),
    PAB: ("public access block", "bucket"),
    f"{_S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "default encryption",
        "bucket",
    ),
    f"{_S3}bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": (
        "default encryption",
        "bucket",
    ),
    VERSIONING_TYPES[0]: ("versioning", "bucket"),
    VERSIONING_TYPES[1]: ("versioning", "bucket"),
    OBJECT_LOCK_TYPES[0]: ("Object Lock configuration", "bucket"),
    OBJECT_LOCK_TYPES[1]: ("Object Lock configuration", "bucket"),
    f"{_S3}bucketReplicationConfig:BucketReplicationConfig": ("replication configuration", "bucket"),
    f"{_S3}bucketLogging:BucketLogging": ("access logging", "bucket"),
    f"{_S3}bucketLoggingV2:BucketLoggingV2": ("access logging", "bucket"),
    f"{_S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("lifecycle configuration", "bucket"),
    f"{_S3}bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": ("lifecycle configuration", "bucket"),
    f"{_S3}bucketAcl:BucketAcl": ("ACL", "bucket"),
    f"{_S3}bucketAclV2:BucketAclV2": ("ACL", "bucket"),
    f"{_S3}bucketOwnershipControls:BucketOwnershipControls": ("ownership controls", "bucket"),
    "aws:kms/keyPolicy:KeyPolicy": ("key policy", "keyId"),
    "aws:sqs/queuePolicy:QueuePolicy": ("queue policy", "queueUrl"),
    "aws:sns/topicPolicy:TopicPolicy": ("topic policy", "arn"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": ("secret policy", "secretArn"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("repository policy", "repository"),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": ("event bus policy", "eventBusName"),
    "aws:route53/resolverFirewallConfig:ResolverFirewallConfig": ("DNS firewall configuration", "resourceId"),
}
# Resources that carry the same setting inline: (setting family, inline input).
INLINE_SETTINGS: dict[str, tuple[str, str]] = {
    "aws:s3/bucket:Bucket": ("bucket policy", "policy"),
    "aws:s3/bucketV2:BucketV2": ("bucket policy", "policy"),
    "aws:kms/key:Key": ("key policy", "policy"),
    "aws:sqs/queue:Queue": ("queue policy", "policy"),
    "aws:sns/topic:Topic": ("topic policy", "policy"),
    "aws:secretsmanager/secret:Secret": ("secret policy", "policy"),
}
_TARGET_REFS = ("id", "arn", "bucket", "url", "keyId", "name")


def overridden_settings(resources: list) -> Iterator[tuple[str, str]]:
    """``(message, urn)`` for each resource that sets what another resource already set on the same target."""
    refs: dict[str, str] = {}
    for r in resources:
        props = r.props["__target"] if type(r.props) in _PROXIES else r.props
        for key in _TARGET_REFS:
            value = props.get(key)
            if type(value) is str and value and value not in _UNKNOWN_SENTINELS:
                refs.setdefault(value, r.urn)
    groups: dict[tuple[str, str], list] = {}
    for r in resources:
        inline = INLINE_SETTINGS.get(r.resource_type)
        if inline is not None and get(r.props, inline[1]) not in (MISSING, None, ""):
            groups.setdefault((inline[0], r.urn), []).append(r)
    for r in resources:
        single = SINGLE_SETTINGS.get(r.resource_type)
        if single is None:
            continue
        family, prop = single
        value = get(r.props, prop)
        deps = r.property_dependencies.get(prop, [])
        if deps:
            target = deps[0].urn
        elif _known(value):
            target = refs.get(value, value)
        elif value is MISSING and prop == "eventBusName":
            target = "default"  # the account's default bus
        else:
            continue  # unknown at preview and from no resource: nothing to compare with
        groups.setdefault((family, target), []).append(r)
    # Which one AWS ends up holding depends on the order the engine applies them in: each is reported.
    for (family, target), members in groups.items():
        if len(members) < 2:
            continue
        shown = target.rsplit("::", 1)[-1]
        for r in members:
            others = [m.urn for m in members if m is not r]
            others = others[0] if len(others) == 1 else f"{others[0]} (and {len(others) - 1} more)"
            yield (
                f"{r.resource_type} sets the {family} of {shown!r}, which {others} also sets: AWS keeps one "
                f"{family} per target, so whichever applies last silently replaces the other and what the pack "
                "checked is not what AWS holds; merge them into one resource",
                r.urn,
            )


def document_findings(path: str, document: Any, guarded: bool = False) -> Iterator[str]:
    """Allow statements that open a resource to everyone (principal ``*`` without a condition).

    ``guarded``: AWS itself rejects a public document here (S3 BlockPublicPolicy
    on the bucket, Secrets Manager block_public_policy), so a document unknown
    at preview (built from computed ARNs, as on every first deployment) passes.
    """
    if document is MISSING or document in (None, ""):
        return
    if is_unknown(document):
        if not guarded:
            yield f"{path} is unknown at preview, so the pack cannot prove it is not public: build it from known values"
        return
    doc = plain(document)
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError:
            yield f"{path} is not valid JSON"
            return
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    for i, st in enumerate(statements if isinstance(statements, list) else [statements]):
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        if (is_star_principal(st.get("Principal")) or "NotPrincipal" in st) and not st.get("Condition"):
            sid = st.get("Sid", i)
            yield f"{path} statement {sid!r} allows everyone (Principal '*', no Condition): name the principals"


def public_findings(resource_type: str, props: Any, guarded: bool = False) -> Iterator[str]:
    """Everything that makes one resource public."""
    if resource_type in PUBLIC_TYPES:
        yield f"{resource_type} is not allowed: {PUBLIC_TYPES[resource_type]}. Remove it"
        return
    if resource_type == PAB:
        for flag in PAB_FLAGS:
            value = get(props, flag)
            if value is not True:
                yield f"{flag} = {value!r}: set all four public-access-block flags to true"
    if resource_type in (
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:s3/bucketAcl:BucketAcl",
        "aws:s3/bucketAclV2:BucketAclV2",
    ):
        acl = get(props, "acl")
        if is_unknown(acl) or acl in PUBLIC_ACLS:
            yield f"acl = {acl!r} makes objects readable outside the site: use 'private' or BucketOwnerEnforced"
        grants = [plain(get(props, key)) for key in ("grants", "accessControlPolicy")]
        text = json.dumps([g for g in grants if g is not MISSING])
        if any(group in text for group in _PUBLIC_GROUPS):
            yield "a grant to AllUsers or AuthenticatedUsers makes objects public: remove it"
    if resource_type == SSM_SETTING and str(get(props, "settingId")).endswith(SSM_PUBLIC_SHARING):
        if get(props, "settingValue") != "Disable":
            yield f"settingValue = {get(props, 'settingValue')!r} lets SSM documents be shared publicly: set 'Disable'"
    block = ACCOUNT_BLOCKS.get(resource_type)
    if block is not None and get(props, "state") != block:
        yield f"state = {get(props, 'state')!r} loosens the account's block on public sharing: set {block!r}"
    if resource_type == ACCOUNT_PAB:
        for flag in PAB_FLAGS:
            if get(props, flag) is False:
                yield f"{flag} = false weakens the account's public access block: set it true"
    if resource_type == "aws:rds/instance:Instance":
        value = get(props, "publiclyAccessible")
        if value is True or is_unknown(value):
            yield "publiclyAccessible must be false: the database must not be reachable from the internet"
    key = POLICY_DOCUMENTS.get(resource_type)
    if key:
        yield from document_findings(key, get(props, key), guarded)


def _known(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_unknown(value)


def validate_public(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = {get(r.props, "bucket"): r.urn for r in args.resources if r.resource_type in BUCKET_TYPES}
    buckets.pop(MISSING, None)

    def targets(res) -> set[str]:
        """URNs of the buckets a bucket-level resource applies to: by dependency, or by a known name."""
        urns = {d.urn for d in res.property_dependencies.get("bucket", [])}
        name = get(res.props, "bucket")
        if _known(name) and name in buckets:
            urns.add(buckets[name])
        return urns

    blocked: set[str] = set()
    fully_blocked: set[str] = set()
    for res in args.resources:
        if res.resource_type == PAB:
            blocked |= targets(res)
            if all(get(res.props, flag) is True for flag in PAB_FLAGS):
                fully_blocked |= targets(res)
    for res in args.resources:
        if not res.resource_type.startswith("aws:"):
            continue
        guarded = False
        if res.resource_type == "aws:s3/bucketPolicy:BucketPolicy":
            guarded = bool(targets(res) & fully_blocked)
        elif res.resource_type == "aws:secretsmanager/secretPolicy:SecretPolicy":
            guarded = get(res.props, "blockPublicPolicy") is True
        for message in public_findings(res.resource_type, res.props, guarded):
            report_violation(message, res.urn)
        if res.resource_type in BUCKET_TYPES and res.urn not in blocked:
            report_violation("bucket has no BucketPublicAccessBlock: add one with all four flags true", res.urn)
    for message, urn in overridden_settings(args.resources):
        report_violation(message, urn)


def _retention(rule: Any, sandbox: bool, min_days: int) -> Iterator[str]:
    """A default Object Lock retention that an account can shorten, or that is too short, is not protection."""
    retention = get(rule, "defaultRetention")
    if retention is MISSING or retention is None:
        yield "Object Lock has no default retention, so new objects are not locked: set rule.default_retention"
        return
    if sandbox:
        return
    mode = get(retention, "mode")
    if mode != "COMPLIANCE":
        yield (
            f"Object Lock mode {mode!r}: GOVERNANCE lets any principal with s3:BypassGovernanceRetention delete "
            "locked objects; use COMPLIANCE (only a sandbox stack's policy config may allow GOVERNANCE)"
        )
    days, years = get(retention, "days"), get(retention, "years")
    total = days if isinstance(days, (int, float)) else (years * 365 if isinstance(years, (int, float)) else None)
    if total is None or total < min_days:
        shown = "unknown" if total is None else f"{total:g} days"
        yield f"default retention is {shown}, shorter than the site's minimum of {min_days} days: lengthen it"


def _rotatable(props: Any) -> bool:
    spec = get(props, "keySpec")
    spec = get(props, "customerMasterKeySpec") if spec in (MISSING, None) else spec
    usage = get(props, "keyUsage")
    return spec in (MISSING, None, "SYMMETRIC_DEFAULT") and usage in (MISSING, None, "ENCRYPT_DECRYPT")


def protected_findings(
    resource_type: str, props: Any, protect: bool, sandbox: bool = False, min_days: int = DEFAULT_MIN_RETENTION_DAYS
) -> Iterator[str]:
    """Why one data-bearing resource could be deleted too easily (``sandbox``: a sandbox stack's relaxations)."""
    if resource_type in OBJECT_LOCK_TYPES:
        yield from _retention(get(props, "rule"), sandbox, min_days)
        return
    if resource_type in VERSIONING_TYPES:
        status = get(props, "versioningConfiguration", "status")
        if status != "Enabled":
            yield (
                f"versioning status {status!r}: a suspended bucket lets any overwrite or delete destroy an object "
                "for good (and Object Lock needs versioning); set versioning_configuration status 'Enabled'"
            )
        return
    if resource_type not in DATA_TYPES:
        return
    if not protect and not sandbox:
        yield "a data-bearing resource must have protect=True so no update or destroy can delete it"
    if resource_type in BUCKET_TYPES:
        if get(props, "forceDestroy") is True or is_unknown(get(props, "forceDestroy")):
            yield "forceDestroy = true deletes every object with the bucket: remove it"
        inline = get(props, "objectLockConfiguration")
        if inline not in (MISSING, None):
            for rule in items(get(inline, "rule")):
                yield from _retention(rule, sandbox, min_days)
    if resource_type == "aws:kms/key:Key" and _rotatable(props) and get(props, "enableKeyRotation") is not True:
        # AWS rotates only symmetric encryption keys (KMS developer guide, "Rotate AWS KMS keys").
        yield "enableKeyRotation is not true: the site's symmetric keys rotate their material yearly; set it true"
    if resource_type in ("aws:kms/key:Key", "aws:kms/externalKey:ExternalKey"):
        window = get(props, "deletionWindowInDays")
        if is_unknown(window) or (window is not MISSING and window != KMS_DELETION_WINDOW_DAYS):
            yield f"deletionWindowInDays = {window!r}: set it to {KMS_DELETION_WINDOW_DAYS} (the longest) so a deletion can be cancelled"
    if resource_type == "aws:secretsmanager/secret:Secret":
        window = get(props, "recoveryWindowInDays")
        if is_unknown(window) or (window is not MISSING and window != 30):
            yield f"recoveryWindowInDays = {window!r}: set it to 30 so a deleted secret can be restored"
    if resource_type in ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        if get(props, "deletionProtection") is not True:
            yield "deletionProtection must be true"
    if resource_type == "aws:dynamodb/table:Table":
        if get(props, "deletionProtectionEnabled") is not True:
            yield "deletionProtectionEnabled must be true"


def validate_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in SPECIAL_PROTECTED_TYPES:
        return
    config = args.get_config()
    sandbox = config.get("sandbox") is True
    min_days = config.get("minRetentionDays")
    min_days = (
        min_days
        if isinstance(min_days, (int, float)) and not isinstance(min_days, bool)
        else DEFAULT_MIN_RETENTION_DAYS
    )
    for message in protected_findings(args.resource_type, args.props, bool(args.opts.protect), sandbox, min_days):
        report_violation(message)


SPECIAL_PUBLIC_TYPES = frozenset(
    {*POLICY_DOCUMENTS, *PUBLIC_TYPES, PAB, ACCOUNT_PAB, *BUCKET_TYPES, *ACCOUNT_BLOCKS, SSM_SETTING}
)
SPECIAL_PUBLIC_TYPES |= {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2", "aws:rds/instance:Instance"}
SPECIAL_PUBLIC_TYPES |= {*SINGLE_SETTINGS, *INLINE_SETTINGS}
SPECIAL_PROTECTED_TYPES = frozenset({*DATA_TYPES, *OBJECT_LOCK_TYPES, *VERSIONING_TYPES})


PUBLIC_POLICY = StackValidationPolicy(
    name=PUBLIC_NAME,
    description="No data is public: every bucket blocks public access and no ACL, policy or resource type opens data to everyone.",
    validate=exceptions.stack_policy(PUBLIC_NAME, validate_public),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(),
)

PROTECTED_POLICY = ResourceValidationPolicy(
    name=PROTECTED_NAME,
    description="Data-bearing resources are protected from deletion, KMS keys keep the 30-day window, and Object Lock is compliance-mode with a long retention.",
    validate=exceptions.resource_policy(PROTECTED_NAME, validate_protected),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema(
        {
            "sandbox": {
                "type": "boolean",
                "default": False,
                "description": "A sandbox stack: no protect, GOVERNANCE-mode Object Lock and short retention allowed. Never set it for a site.",
            },
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_MIN_RETENTION_DAYS,
                "description": "The shortest default Object Lock retention allowed, in days.",
            },
        }
    ),
)
