"""S3: every bucket of the data account, its access points and Multi-Region Access Points.

Every bucket of the account is checked for its region (the data account holds
one site, so a bucket anywhere else is data outside it); every bucket located
in the site region for its replication, encryption, public access, policy and
ACL. What a policy *allows* is read with ``enclave.audit.policy``.
"""

from __future__ import annotations

from typing import Any

from components.transfer_export import EXPORTS
from enclave.audit import grants
from enclave.audit.base import Audit, Check, Family, arn_account, arn_region, register, scp_exemption_fix
from enclave.audit.common import AccessDeniedError, call, pages
from enclave.audit.policy import covers, is_everyone_principal, policy_outsiders, statements

CHECKS = register(
    Check(
        "s3-bucket-in-region",
        "Every bucket of the data account lives in the site region",
        "bucket located in the site region",
        "Copy what it holds back into the site by an audited one-off (never by replication), empty the bucket "
        "and delete it; S3 cannot move a bucket, and the data account holds one site only.",
    ),
    Check(
        "s3-no-replication",
        "The bucket has no replication configuration",
        "no replication configuration",
        "Remove it: aws s3api delete-bucket-replication --bucket BUCKET; then find who added it in CloudTrail.",
    ),
    Check(
        "s3-sse-kms-operator-key",
        "Default encryption is SSE-KMS with a key of the operator's account",
        "SSE-KMS with a key ARN of the operator account in the site region",
        "Run pulumi up from the deployment role (restores the site's encryption), or "
        "aws s3api put-bucket-encryption with the operator key ARN for a bucket outside the program.",
    ),
    Check(
        "s3-public-access-blocked",
        "All four public access block settings are on",
        "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets all true",
        "aws s3api put-public-access-block --bucket BUCKET --public-access-block-configuration "
        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
    ),
    Check(
        "s3-policy-denies",
        "The bucket policy denies non-TLS access and replication to everyone",
        "Deny s3:* to * when aws:SecureTransport is false; Deny s3:PutReplicationConfiguration to * unconditionally",
        "Run pulumi up from the deployment role; for a hand-made bucket add both Deny statements "
        "(see docs/bootstrap-and-audit.md).",
    ),
    Check(
        "s3-policy-site-only",
        "The bucket policy allows no principal outside the site",
        "every Allow admits only the site's accounts (data, operator, auditor), or AWS services confined to "
        "them by aws:SourceAccount/aws:SourceArn",
        "Remove the listed statements (pulumi up restores the site's policy); a grant to another account is "
        "a transfer and needs a reviewed transfer grant.",
    ),
    Check(
        "s3-acl-site-only",
        "The bucket ACL grants nothing to another account or group",
        "only the bucket owner in the ACL (object ownership BucketOwnerEnforced keeps it so)",
        "aws s3api put-bucket-ownership-controls --bucket BUCKET --ownership-controls "
        "Rules=[{ObjectOwnership=BucketOwnerEnforced}] (disables ACLs), or pulumi up.",
    ),
    Check(
        "s3-no-access-point",
        "The account has no S3 access point in the site region",
        "no access point: the program defines none, and each is a second way into a bucket, with its own "
        "policy and network origin (possibly the internet)",
        "aws s3control delete-access-point --account-id ACCOUNT --name NAME, then find who created it "
        "(CreateAccessPoint in CloudTrail); an access point the site needs is added to the program by review.",
    ),
    Check(
        "s3-no-multi-region-access-point",
        "The account has no Multi-Region Access Point",
        "no Multi-Region Access Point (it routes requests to buckets in other regions)",
        "aws s3control delete-multi-region-access-point --region us-west-2 --account-id ACCOUNT "
        "--details Name=NAME, then find who created it.",
    ),
    Check(
        "s3-object-ownership-enforced",
        "The bucket's object ownership is BucketOwnerEnforced (ACLs off)",
        "ObjectOwnership BucketOwnerEnforced: every ACL, the objects' included, is disabled; with ObjectWriter or "
        "BucketOwnerPreferred an object ACL can grant another account's canonical user, which no public access "
        "block stops",
        "aws s3api put-bucket-ownership-controls --bucket BUCKET --ownership-controls "
        "Rules=[{ObjectOwnership=BucketOwnerEnforced}], or pulumi up.",
    ),
    Check(
        "s3-versioning-enabled",
        "The bucket's versioning is enabled",
        "versioning Enabled (a version overwritten or deleted stays recoverable)",
        "aws s3api put-bucket-versioning --bucket BUCKET --versioning-configuration Status=Enabled, or pulumi up.",
    ),
    Check(
        "s3-access-logging",
        "The user-data bucket's server access logs go into the access-logs bucket",
        "server access logging of the user-data bucket into the site's access-logs bucket",
        "Run pulumi up (restores the bucket's logging), or aws s3api put-bucket-logging --bucket USER_DATA_BUCKET "
        "with TargetBucket the access-logs bucket.",
    ),
    Check(
        "s3-no-outside-destination",
        "No inventory report or event notification of the bucket goes outside the site",
        "every inventory configuration delivers into a bucket of the data account in the site region, and every "
        "event notification targets a topic, queue or function of the data account in the site region (both "
        "carry object keys and metadata)",
        "aws s3api delete-bucket-inventory-configuration --bucket BUCKET --id ID, or put-bucket-notification-"
        "configuration without the outside target; then find who added it in CloudTrail.",
    ),
)

PERMISSIONS = (
    "s3:GetBucketAcl",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketNotification",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketVersioning",
    "s3:GetInventoryConfiguration",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:ListAllMyBuckets",
    "s3:ListAccessPoints",
    "s3:ListMultiRegionAccessPoints",
)

PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
"""The four settings of a public access block (a bucket's or the account's)."""

MRAP_CONTROL_REGION = "us-west-2"
"""AWS serves the Multi-Region Access Point control plane from US West (Oregon) only."""


def state_bucket_name(cfg: Any) -> str:
    """The Pulumi state bucket ``bootstrap`` creates (encrypted with a data-account key)."""
    return f"{cfg.name_prefix}-pulumi-state-{cfg.data_account_id}"


def state_key_alias(cfg: Any) -> str:
    return f"alias/{cfg.name_prefix}-pulumi-state"


def run(audit: Audit) -> None:
    cfg = audit.cfg
    s3 = audit.client("s3")
    for listed in audit.buckets():
        name, region = listed["Name"], listed["Region"]
        arn = f"arn:aws:s3:::{name}"
        audit.add("s3-bucket-in-region", region == cfg.region, [arn], f"bucket in {region}")
        if region == cfg.region:
            _check_bucket(audit, s3, name, arn)
    _check_access_points(audit)
    _check_multi_region_access_points(audit)


def _check_bucket(audit: Audit, s3: Any, name: str, arn: str) -> None:
    target = f"bucket {name}"

    repl = call(s3, "GetBucketReplication", target, none_codes=("ReplicationConfigurationNotFoundError",), Bucket=name)
    if repl is None:
        audit.add("s3-no-replication", True, [arn], "no replication configuration")
    else:
        rules = repl.get("ReplicationConfiguration", {}).get("Rules", [])
        dests = sorted({r.get("Destination", {}).get("Bucket", "?") for r in rules})
        audit.add(
            "s3-no-replication",
            False,
            [arn, *dests],
            f"{len(rules)} replication rule(s) to {', '.join(dests) or 'no destination'}",
        )

    _encryption_result(audit, s3, name, arn)

    pab = call(s3, "GetPublicAccessBlock", target, none_codes=("NoSuchPublicAccessBlockConfiguration",), Bucket=name)
    conf = (pab or {}).get("PublicAccessBlockConfiguration", {})
    off = [f for f in PUBLIC_ACCESS_FLAGS if conf.get(f) is not True]
    found = "no public access block" if pab is None else ("all four on" if not off else f"off: {', '.join(off)}")
    audit.add("s3-public-access-blocked", not off, [arn], found)

    pol = call(s3, "GetBucketPolicy", target, none_codes=("NoSuchBucketPolicy",), Bucket=name)
    document = (pol or {}).get("Policy")
    missing = missing_bucket_denies(statements(document), arn)
    if pol is None:
        found = "no bucket policy"
    else:
        found = "both deny statements present" if not missing else f"missing: {'; '.join(missing)}"
    audit.add("s3-policy-denies", not missing, [arn], found)
    # The export bucket's Allows for transfer recipients are what declared transfer grants say.
    explained: list[str] = []
    if name == audit.cfg.bucket_name(EXPORTS) and pol is not None:
        grants.observe(audit, "transfer", arn, document)
        document, explained = audit.explained(document, "export-bucket-policy")
    outside = policy_outsiders(document, audit.perimeter())
    note = f"; explained by declared transfer grants: {', '.join(explained)}" if explained else ""
    audit.add(
        "s3-policy-site-only",
        not outside,
        [arn],
        ("; ".join(outside) or ("no bucket policy" if pol is None else "every Allow stays inside the site")) + note,
    )

    acl = call(s3, "GetBucketAcl", target, Bucket=name)
    owner = (acl.get("Owner") or {}).get("ID")
    others = sorted(
        f"{grant.get('Permission')} to {_grantee(grant.get('Grantee') or {})}"
        for grant in acl.get("Grants", [])
        if (grant.get("Grantee") or {}).get("ID") != owner
    )
    audit.add("s3-acl-site-only", not others, [arn], "; ".join(others) or "only the owner")
    _settings_results(audit, s3, name, arn)


def _settings_results(audit: Audit, s3: Any, name: str, arn: str) -> None:
    """Ownership, versioning, access logging, and the reports and notifications that leave the bucket."""
    cfg, target = audit.cfg, f"bucket {name}"
    controls = call(
        s3, "GetBucketOwnershipControls", target, none_codes=("OwnershipControlsNotFoundError",), Bucket=name
    )
    rules = ((controls or {}).get("OwnershipControls") or {}).get("Rules") or []
    ownership = [r.get("ObjectOwnership") for r in rules]
    audit.add(
        "s3-object-ownership-enforced",
        ownership == ["BucketOwnerEnforced"],
        [arn],
        f"ObjectOwnership {', '.join(map(str, ownership))}" if ownership else "no ownership controls (ACLs on)",
    )
    status = call(s3, "GetBucketVersioning", target, Bucket=name).get("Status")
    audit.add("s3-versioning-enabled", status == "Enabled", [arn], f"versioning {status or 'never enabled'}")
    if name == cfg.bucket_name("user-data"):
        logging = call(s3, "GetBucketLogging", target, Bucket=name).get("LoggingEnabled") or {}
        into = logging.get("TargetBucket")
        audit.add(
            "s3-access-logging",
            into == cfg.bucket_name("access-logs"),
            [arn, *([f"arn:aws:s3:::{into}"] if into else [])],
            f"server access logs into {into}" if into else "server access logging off",
        )
    inside = {b["Name"] for b in audit.buckets() if b["Region"] == cfg.region}
    outside = []
    for inv in _inventories(s3, name, target):
        dest = (inv.get("Destination") or {}).get("S3BucketDestination") or {}
        dest_bucket = str(dest.get("Bucket", "")).removeprefix("arn:aws:s3:::")
        dest_account = dest.get("AccountId") or audit.account
        if dest_account != audit.account or dest_bucket not in inside:
            outside.append(f"inventory {inv.get('Id')} into {dest.get('Bucket')} of account {dest_account}")
    notifications = call(s3, "GetBucketNotificationConfiguration", target, Bucket=name)
    for kind, field in (
        ("TopicConfigurations", "TopicArn"),
        ("QueueConfigurations", "QueueArn"),
        ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
    ):
        for conf in notifications.get(kind) or []:
            dest = str(conf.get(field, ""))
            if arn_account(dest) != audit.account or arn_region(dest) != cfg.region:
                outside.append(f"notification {conf.get('Id', '?')} to {dest}")
    audit.add(
        "s3-no-outside-destination",
        not outside,
        [arn],
        "; ".join(outside) or "no inventory or notification outside the site",
    )


def _inventories(s3: Any, name: str, target: str) -> list[dict]:
    """Every inventory configuration (S3 pages them by ContinuationToken, which botocore does not paginate)."""
    out: list[dict] = []
    token: dict[str, str] = {}
    while True:
        page = call(s3, "ListBucketInventoryConfigurations", target, Bucket=name, **token)
        out.extend(page.get("InventoryConfigurationList") or [])
        if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
            return out
        token = {"ContinuationToken": page["NextContinuationToken"]}


def _grantee(grantee: dict) -> str:
    return grantee.get("URI") or grantee.get("EmailAddress") or f"canonical user {grantee.get('ID', '?')}"


def _encryption_result(audit: Audit, s3: Any, name: str, arn: str) -> None:
    cfg = audit.cfg
    enc = call(
        s3,
        "GetBucketEncryption",
        f"bucket {name}",
        none_codes=("ServerSideEncryptionConfigurationNotFoundError",),
        Bucket=name,
    )
    is_state = name == state_bucket_name(cfg)
    owner = cfg.data_account_id if is_state else cfg.operator_account_id
    expected = (
        f"SSE-KMS with the Pulumi state key ({state_key_alias(cfg)}) of the data account {owner} in {cfg.region}"
        if is_state
        else f"SSE-KMS with a key ARN of the operator account {owner} in {cfg.region}"
    )
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    algorithm = default.get("SSEAlgorithm")
    key = default.get("KMSMasterKeyID") or ""
    if not algorithm:
        audit.add("s3-sse-kms-operator-key", False, [arn], "no default encryption", expected)
    elif algorithm not in ("aws:kms", "aws:kms:dsse"):
        audit.add("s3-sse-kms-operator-key", False, [arn], f"{algorithm} (S3-managed keys)", expected)
    elif not key:
        audit.add("s3-sse-kms-operator-key", False, [arn], f"{algorithm} with the AWS managed key aws/s3", expected)
    elif not key.startswith("arn:"):
        audit.add(
            "s3-sse-kms-operator-key",
            False,
            [arn],
            f"{algorithm} with {key}: a key id or alias, which resolves in the bucket's own account",
            expected,
        )
    else:
        ok = arn_account(key) == owner and arn_region(key) == cfg.region
        audit.add("s3-sse-kms-operator-key", ok, [arn, key], f"{algorithm} with {key}", expected)
        if ok:
            audit.keys.setdefault(key, owner)


def missing_bucket_denies(document_statements: list[dict], arn: str) -> list[str]:
    tls = replication = False
    for s in document_statements:
        if s.get("Effect") != "Deny" or not is_everyone_principal(s.get("Principal")) or "NotPrincipal" in s:
            continue
        if "NotAction" in s or "NotResource" in s:
            continue
        cond = s.get("Condition") or {}
        secure = (cond.get("Bool") or {}).get("aws:SecureTransport")
        if (
            covers(s.get("Action"), "s3:GetObject")
            and covers(s.get("Action"), "s3:PutObject")
            and covers(s.get("Resource"), arn)
            and covers(s.get("Resource"), f"{arn}/x")
            and list(cond) == ["Bool"]
            and list(cond["Bool"]) == ["aws:SecureTransport"]
            and str(secure).lower() == "false"
        ):
            tls = True
        if not cond and covers(s.get("Action"), "s3:PutReplicationConfiguration") and covers(s.get("Resource"), arn):
            replication = True
    missing = []
    if not tls:
        missing.append("Deny s3:* to * when aws:SecureTransport is false")
    if not replication:
        missing.append("unconditional Deny s3:PutReplicationConfiguration to *")
    return missing


# --------------------------------------------------------------------------- access points


def _check_access_points(audit: Audit) -> None:
    cfg = audit.cfg
    s3control = audit.client("s3control")
    points = [
        ap
        for page in pages(s3control, "ListAccessPoints", f"access points of {audit.where}", AccountId=audit.account)
        for ap in page.get("AccessPointList", [])
    ]
    if not points:
        audit.add("s3-no-access-point", True, [audit.scope()], "no access point")
        return
    buckets = {b["Name"] for b in audit.buckets()}
    for ap in sorted(points, key=lambda p: p["Name"]):
        name = ap["Name"]
        # Build the ARN from the documented form (moto answers another region in AccessPointArn).
        arn = f"arn:aws:s3:{cfg.region}:{audit.account}:accesspoint/{name}"
        bucket = ap.get("Bucket", "?")
        owner = ap.get("BucketAccountId") or (audit.account if bucket in buckets else "another account")
        origin = ap.get("NetworkOrigin", "?")
        vpc = (ap.get("VpcConfiguration") or {}).get("VpcId")
        where = f"VPC {vpc}" if origin == "VPC" else f"{origin} (reachable from outside any VPC)"
        audit.add(
            "s3-no-access-point",
            False,
            [arn, f"arn:aws:s3:::{bucket}"],
            f"access point {name} on bucket {bucket} of {owner}, network origin {where}",
        )


def _check_multi_region_access_points(audit: Audit) -> None:
    s3control = audit.client("s3control", region=MRAP_CONTROL_REGION)
    try:
        points = [
            ap
            for page in pages(
                s3control,
                "ListMultiRegionAccessPoints",
                f"Multi-Region Access Points of account {audit.account}",
                AccountId=audit.account,
            )
            for ap in page.get("AccessPoints", [])
        ]
    except AccessDeniedError as exc:
        if exc.by_scp:
            audit.unverified(
                "s3-no-multi-region-access-point",
                [audit.scope(MRAP_CONTROL_REGION)],
                f"not readable: a service control policy denies {exc.action} in {MRAP_CONTROL_REGION} (the "
                "guardrails' region deny is in force there)",
                scp_exemption_fix(audit, [exc.action]),
            )
            return
        audit.add(
            "s3-no-multi-region-access-point",
            False,
            [audit.scope(MRAP_CONTROL_REGION)],
            f"not readable: {exc.action} denied in {MRAP_CONTROL_REGION}",
            fix=f"Let the auditor role call {exc.action} in {MRAP_CONTROL_REGION} (AWS serves it there only): "
            "exempt it from the permissions boundary's and the guardrails' region deny, then run again.",
        )
        return
    names = sorted(ap.get("Name", "?") for ap in points)
    arns = [f"arn:aws:s3::{audit.account}:accesspoint/{ap.get('Alias', ap.get('Name'))}" for ap in points]
    audit.add(
        "s3-no-multi-region-access-point",
        not points,
        [audit.scope(MRAP_CONTROL_REGION), *sorted(arns)],
        f"Multi-Region Access Point(s): {', '.join(names)}" if points else "none",
    )


FAMILY = Family("buckets and access points", CHECKS, PERMISSIONS, run)
