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
from .values import MISSING, get, is_unknown, items, plain

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
KMS_DELETION_WINDOW_DAYS = 30
DEFAULT_MIN_RETENTION_DAYS = 90


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


def protected_findings(
    resource_type: str, props: Any, protect: bool, sandbox: bool = False, min_days: int = DEFAULT_MIN_RETENTION_DAYS
) -> Iterator[str]:
    """Why one data-bearing resource could be deleted too easily (``sandbox``: a sandbox stack's relaxations)."""
    if resource_type in OBJECT_LOCK_TYPES:
        yield from _retention(get(props, "rule"), sandbox, min_days)
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
    if args.resource_type not in DATA_TYPES and args.resource_type not in OBJECT_LOCK_TYPES:
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
SPECIAL_PROTECTED_TYPES = frozenset({*DATA_TYPES, *OBJECT_LOCK_TYPES})


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
