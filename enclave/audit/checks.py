"""The live checks: read-only boto3 calls against the data account in the site's region.

Scope is the account and region, not Pulumi's state: every bucket located in
the region, every VPC of the region, every role named with the site prefix and
every secret of the region are checked, so a resource made by hand is audited
like one the program made. Each check yields one ``Result`` per resource.

Where moto and AWS differ, the code follows AWS (see docs/bootstrap-and-audit.md):
an absent ``MultiRegion`` is false, the "not configured" error codes mean "none",
``ListRoles`` carries no permissions boundary (so each role is read with
``GetRole``) and ``ListSecrets`` no replication status (so each secret is
described).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from components.config import ACCESS_TICKET_TAG, SiteConfig
from enclave.audit.common import call, pages


@dataclass(frozen=True)
class Check:
    """One guarantee the audit verifies."""

    id: str
    title: str
    expected: str
    fix: str


CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check(
            "s3-bucket-in-region",
            "A bucket named with the site prefix lives in the site region",
            "bucket located in the site region",
            "Empty the bucket, delete it and recreate it in the site region (S3 cannot move a bucket).",
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
            "kms-key-single-region",
            "The key is a single-region key in the site region",
            "MultiRegion false, key in the site region",
            "A multi-region key cannot be converted: create a single-region key, re-encrypt with it "
            "(pulumi up), then schedule the old key's deletion.",
        ),
        Check(
            "kms-key-enabled",
            "The key is enabled",
            "KeyState Enabled",
            "The operator enables it: aws kms enable-key --key-id KEY (from the operator account).",
        ),
        Check(
            "kms-key-rotation",
            "Automatic key rotation is on",
            "key rotation enabled",
            "The operator runs aws kms enable-key-rotation --key-id KEY.",
        ),
        Check(
            "kms-key-not-pending-deletion",
            "The key is not scheduled for deletion",
            "no deletion scheduled",
            "The operator runs aws kms cancel-key-deletion --key-id KEY, then aws kms enable-key --key-id KEY.",
        ),
        Check(
            "kms-key-operator-administered",
            "The key is a customer managed key held by the operator's account",
            "customer managed key in the operator account",
            "Encrypt with the operator's key (pulumi up); a key of the data account is not third-party custody.",
        ),
        Check(
            "vpc-no-internet-gateway",
            "No internet gateway is attached to the VPC",
            "no internet gateway attached",
            "aws ec2 detach-internet-gateway and delete-internet-gateway (the site has no internet path).",
        ),
        Check(
            "vpc-no-nat-gateway",
            "The VPC has no NAT gateway",
            "no NAT gateway",
            "aws ec2 delete-nat-gateway --nat-gateway-id ID.",
        ),
        Check(
            "vpc-no-egress-only-gateway",
            "No egress-only internet gateway is attached to the VPC",
            "no egress-only internet gateway",
            "aws ec2 delete-egress-only-internet-gateway --egress-only-internet-gateway-id ID.",
        ),
        Check(
            "vpc-no-peering",
            "The VPC has no peering connection",
            "no active or pending peering connection",
            "aws ec2 delete-vpc-peering-connection --vpc-peering-connection-id ID.",
        ),
        Check(
            "vpc-no-route-out",
            "No route leaves the VPC",
            "only local routes (and S3 gateway endpoint routes); no route to 0.0.0.0/0 or ::/0",
            "aws ec2 delete-route on each listed route; pulumi up restores the site's route tables.",
        ),
        Check(
            "vpc-nacl-egress-inside",
            "Network ACL egress allows only destinations inside the VPC",
            "every effective egress allow rule targets a CIDR inside the VPC",
            "aws ec2 delete-network-acl-entry --egress for each listed rule; pulumi up restores the site's ACL.",
        ),
        Check(
            "vpc-sg-egress-inside",
            "Security group egress stays inside the VPC",
            "egress only to security groups or CIDRs inside the VPC",
            "aws ec2 revoke-security-group-egress for each listed rule.",
        ),
        Check(
            "vpc-s3-endpoint-restricted",
            "The S3 endpoint policy is restricted",
            "no Allow statement on every resource without a condition",
            "Restore the endpoint policy (pulumi up) so it names the site's buckets or conditions on aws:ResourceAccount.",
        ),
        Check(
            "trail-logging",
            "The site's trail is logging",
            "trail exists and IsLogging true",
            "aws cloudtrail start-logging --name TRAIL (and find who stopped it: StopLogging in CloudTrail).",
        ),
        Check(
            "trail-single-region",
            "The trail is a single-region trail",
            "IsMultiRegionTrail false",
            "aws cloudtrail update-trail --name TRAIL --no-is-multi-region-trail, or pulumi up.",
        ),
        Check(
            "trail-log-validation",
            "Log file validation is on",
            "LogFileValidationEnabled true",
            "aws cloudtrail update-trail --name TRAIL --enable-log-file-validation, or pulumi up.",
        ),
        Check(
            "trail-log-bucket-object-lock",
            "The trail logs into the site's audit-logs bucket under Object Lock",
            "the site's audit-logs bucket, Object Lock enabled, COMPLIANCE retention of at least auditLogRetentionDays",
            "Point the trail at the audit-logs bucket (pulumi up); Object Lock can only be enabled on a new bucket.",
        ),
        Check(
            "iam-staff-trust-mfa",
            "The staff-access role's trust policy requires MFA",
            "every statement allowing sts:AssumeRole requires Bool aws:MultiFactorAuthPresent true",
            "Run pulumi up from the deployment role to restore the trust policy.",
        ),
        Check(
            "iam-staff-trust-ticket",
            "The staff-access role's trust policy requires the access-ticket session tag",
            f"every statement allowing sts:AssumeRole requires the aws:RequestTag/{ACCESS_TICKET_TAG} session tag",
            "Run pulumi up from the deployment role to restore the trust policy.",
        ),
        Check(
            "iam-role-boundary",
            "The site's role carries the site's permissions boundary",
            "PermissionsBoundary = the site's boundary policy",
            "aws iam put-role-permissions-boundary --role-name ROLE --permissions-boundary BOUNDARY_ARN, "
            "or delete a role the program does not define.",
        ),
        Check(
            "secret-no-replicas",
            "The secret has no replica in another region",
            "no replica regions; primary in the site region",
            "aws secretsmanager remove-regions-from-replication --secret-id SECRET --remove-replica-regions REGION.",
        ),
    )
}


MISSING_FIX = (
    "The resource does not exist: deploy the site (pulumi up from the deployment role), and check that "
    "the stack config used for the audit is the deployed one."
)
MISSING_KEY_FIX = (
    "No key answers to this name: check operatorAccountId and that the operator created the key "
    "(pulumi up); a deleted key cannot be recovered, so treat it as an incident."
)

REQUIRED_PERMISSIONS = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "ec2:DescribeEgressOnlyInternetGateways",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "iam:GetRole",
    "iam:ListRoles",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "s3:GetBucketLocation",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:ListAllMyBuckets",
    "secretsmanager:DescribeSecret",
    "secretsmanager:ListSecrets",
)
"""Every IAM permission the audit uses (besides sts:GetCallerIdentity, which needs none).

The bucket reads apply to every bucket of the account, ``secretsmanager:DescribeSecret``
to every secret of the region, and the KMS reads to the operator's keys, whose key
policy must grant them too (a cross-account call needs both sides). ``GetKeyPolicy``
is used only where it can work: on keys of the account the key reader acts in.
"""


@dataclass
class Result:
    """One check on one resource."""

    id: str
    status: str  # "pass" | "fail"
    resources: list[str]
    expected: str
    found: str
    fix: str
    """How to repair a failure (the check's remedy, or how to restore a missing resource)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "resources": list(self.resources),
            "expected": self.expected,
            "found": self.found,
            "fix": self.fix,
        }


@dataclass
class Audit:
    """The clients and what has been found so far."""

    cfg: SiteConfig
    account: str
    session: Any
    key_session: Any
    key_account: str
    """The account ``key_session`` acts in: key policies of that account are readable."""
    results: list[Result] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    """Key reference (ARN or alias ARN) -> the account expected to hold it."""
    clients: dict[tuple[str, bool], Any] = field(default_factory=dict)

    def client(self, service: str, operator: bool = False) -> Any:
        """A client in the site region; ``operator=True`` for the operator's keys (``key_session``)."""
        if (service, operator) not in self.clients:
            session = self.key_session if operator else self.session
            self.clients[service, operator] = session.client(service, region_name=self.cfg.region)
        return self.clients[service, operator]

    def add(
        self,
        check_id: str,
        ok: bool,
        resources: list[str],
        found: str,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.results.append(
            Result(
                check_id,
                "pass" if ok else "fail",
                resources,
                expected or CHECKS[check_id].expected,
                found,
                fix or CHECKS[check_id].fix,
            )
        )


def run_checks(cfg: SiteConfig, session: Any, account: str, key_session: Any | None = None) -> list[Result]:
    """Every check of the site, in a stable order."""
    if key_session is None or key_session is session:
        key_session, key_account = session, account
    else:
        sts = key_session.client("sts", region_name=cfg.region)
        key_account = call(sts, "GetCallerIdentity", "the operator profile's caller")["Account"]
    audit = Audit(cfg, account, session, key_session, key_account)
    _check_buckets(audit)
    _check_trail(audit)
    _check_secrets(audit)
    _check_vpcs(audit)
    _check_roles(audit)
    _check_keys(audit)
    return sorted(audit.results, key=lambda r: (r.id, r.resources))


# --------------------------------------------------------------------------- helpers


def state_bucket_name(cfg: SiteConfig) -> str:
    """The Pulumi state bucket ``bootstrap`` creates (encrypted with a data-account key)."""
    return f"{cfg.name_prefix}-pulumi-state-{cfg.data_account_id}"


def state_key_alias(cfg: SiteConfig) -> str:
    return f"alias/{cfg.name_prefix}-pulumi-state"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _policy(document: Any) -> dict:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return {}
    return document if isinstance(document, dict) else {}


def policy_statements(document: Any) -> list[dict]:
    return [s for s in _as_list(_policy(document).get("Statement")) if isinstance(s, dict)]


def is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def covers(patterns: Any, value: str) -> bool:
    """Whether an IAM ``Action``/``Resource`` list (with wildcards) covers ``value``."""
    return any(fnmatch.fnmatchcase(value.lower(), str(p).lower()) for p in _as_list(patterns))


def _is_true(value: Any) -> bool:
    return all(str(v).lower() == "true" for v in _as_list(value)) and bool(_as_list(value))


def _is_false(value: Any) -> bool:
    return all(str(v).lower() == "false" for v in _as_list(value)) and bool(_as_list(value))


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None


def _ec2_arn(audit: Audit, kind: str, ident: str) -> str:
    return f"arn:aws:ec2:{audit.cfg.region}:{audit.account}:{kind}/{ident}"


# --------------------------------------------------------------------------- S3


def _bucket_region(s3: Any, name: str, listed: dict) -> str:
    if listed.get("BucketRegion"):
        return listed["BucketRegion"]
    loc = call(s3, "GetBucketLocation", f"bucket {name}", Bucket=name).get("LocationConstraint")
    # The API answers null for us-east-1 and the legacy "EU" for eu-west-1.
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)


def _check_buckets(audit: Audit) -> None:
    cfg = audit.cfg
    s3 = audit.client("s3")
    buckets = []
    for page in pages(s3, "ListBuckets", f"account {audit.account}"):
        buckets.extend(page.get("Buckets", []))
    for listed in buckets:
        name = listed["Name"]
        arn = f"arn:aws:s3:::{name}"
        region = _bucket_region(s3, name, listed)
        if name.startswith(f"{cfg.name_prefix}-"):
            audit.add("s3-bucket-in-region", region == cfg.region, [arn], f"bucket in {region}")
        if region != cfg.region:
            continue  # another region is another site's (or no site's) business
        _check_bucket(audit, s3, name, arn)


def _check_bucket(audit: Audit, s3: Any, name: str, arn: str) -> None:
    cfg = audit.cfg
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

    enc = call(
        s3, "GetBucketEncryption", target, none_codes=("ServerSideEncryptionConfigurationNotFoundError",), Bucket=name
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
        ok = _arn_account(key) == owner and _arn_region(key) == cfg.region
        audit.add("s3-sse-kms-operator-key", ok, [arn, key], f"{algorithm} with {key}", expected)
        if ok:
            audit.keys.setdefault(key, owner)

    pab = call(s3, "GetPublicAccessBlock", target, none_codes=("NoSuchPublicAccessBlockConfiguration",), Bucket=name)
    conf = (pab or {}).get("PublicAccessBlockConfiguration", {})
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [f for f in flags if conf.get(f) is not True]
    found = "no public access block" if pab is None else ("all four on" if not off else f"off: {', '.join(off)}")
    audit.add("s3-public-access-blocked", not off, [arn], found)

    pol = call(s3, "GetBucketPolicy", target, none_codes=("NoSuchBucketPolicy",), Bucket=name)
    missing = missing_bucket_denies(policy_statements((pol or {}).get("Policy")), arn)
    if pol is None:
        found = "no bucket policy"
    else:
        found = "both deny statements present" if not missing else f"missing: {'; '.join(missing)}"
    audit.add("s3-policy-denies", not missing, [arn], found)


def missing_bucket_denies(statements: list[dict], arn: str) -> list[str]:
    tls = replication = False
    for s in statements:
        if s.get("Effect") != "Deny" or not is_everyone(s.get("Principal")) or "NotPrincipal" in s:
            continue
        if "NotAction" in s or "NotResource" in s:
            continue
        cond = s.get("Condition") or {}
        if (
            covers(s.get("Action"), "s3:GetObject")
            and covers(s.get("Action"), "s3:PutObject")
            and covers(s.get("Resource"), arn)
            and covers(s.get("Resource"), f"{arn}/x")
            and list(cond) == ["Bool"]
            and list(cond["Bool"]) == ["aws:SecureTransport"]
            and _is_false(cond["Bool"]["aws:SecureTransport"])
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


# --------------------------------------------------------------------------- CloudTrail


def _check_trail(audit: Audit) -> None:
    cfg = audit.cfg
    ct = audit.client("cloudtrail")
    described = call(
        ct,
        "DescribeTrails",
        f"trail {cfg.trail_name}",
        none_codes=("TrailNotFoundException",),
        trailNameList=[cfg.trail_name],
        includeShadowTrails=False,
    )
    trails = (described or {}).get("trailList", [])
    trail = next((t for t in trails if t.get("Name") == cfg.trail_name), None)
    ids = ("trail-logging", "trail-single-region", "trail-log-validation", "trail-log-bucket-object-lock")
    if trail is None:
        for check_id in ids:
            audit.add(
                check_id, False, [cfg.trail_arn], f"no trail named {cfg.trail_name} in {cfg.region}", fix=MISSING_FIX
            )
        return
    arn = trail.get("TrailARN", cfg.trail_arn)
    status = call(ct, "GetTrailStatus", f"trail {arn}", Name=arn)
    logging = status.get("IsLogging") is True
    audit.add("trail-logging", logging, [arn], "logging" if logging else "not logging (stopped)")
    multi = trail.get("IsMultiRegionTrail") is True
    audit.add("trail-single-region", not multi, [arn], "multi-region trail" if multi else "single-region trail")
    valid = trail.get("LogFileValidationEnabled") is True
    audit.add("trail-log-validation", valid, [arn], "validation on" if valid else "validation off")
    if trail.get("KmsKeyId", "").startswith("arn:") and _arn_account(trail["KmsKeyId"]) == cfg.operator_account_id:
        audit.keys.setdefault(trail["KmsKeyId"], cfg.operator_account_id)

    bucket = trail.get("S3BucketName") or ""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if bucket != cfg.bucket_name("audit-logs"):
        audit.add(
            "trail-log-bucket-object-lock",
            False,
            [arn, bucket_arn],
            f"logs into {bucket or 'no bucket'}, not {cfg.bucket_name('audit-logs')}",
        )
        return
    s3 = audit.client("s3")
    lock = call(
        s3,
        "GetObjectLockConfiguration",
        f"bucket {bucket}",
        none_codes=("ObjectLockConfigurationNotFoundError",),
        Bucket=bucket,
    )
    conf = (lock or {}).get("ObjectLockConfiguration", {})
    retention = conf.get("Rule", {}).get("DefaultRetention", {})
    days = retention.get("Days") or 365 * (retention.get("Years") or 0)
    ok = (
        conf.get("ObjectLockEnabled") == "Enabled"
        and retention.get("Mode") == "COMPLIANCE"
        and days >= cfg.audit_log_retention_days
    )
    if conf.get("ObjectLockEnabled") != "Enabled":
        found = "Object Lock not enabled"
    elif not retention:
        found = "Object Lock enabled without a default retention"
    else:
        found = f"Object Lock {retention.get('Mode')} for {days} days"
    audit.add(
        "trail-log-bucket-object-lock",
        ok,
        [arn, bucket_arn],
        found,
        f"{bucket}: Object Lock enabled, COMPLIANCE default retention of at least {cfg.audit_log_retention_days} days",
    )


# --------------------------------------------------------------------------- Secrets Manager


def _check_secrets(audit: Audit) -> None:
    cfg = audit.cfg
    sm = audit.client("secretsmanager")
    pepper = f"{cfg.name_prefix}-pseudonym-pepper"
    names: list[str] = []
    for page in pages(sm, "ListSecrets", f"secrets of {audit.account} in {cfg.region}"):
        names.extend(s["ARN"] for s in page.get("SecretList", []))
    found_pepper = False
    for secret_id in names:
        desc = call(sm, "DescribeSecret", f"secret {secret_id}", SecretId=secret_id)
        found_pepper = found_pepper or desc.get("Name") == pepper
        _check_secret(audit, desc)
    if not found_pepper:
        audit.add(
            "secret-no-replicas",
            False,
            [f"arn:aws:secretsmanager:{cfg.region}:{audit.account}:secret:{pepper}"],
            f"no secret named {pepper} in {cfg.region}",
            "the pseudonymisation secret exists, with no replica regions",
            MISSING_FIX,
        )


def _check_secret(audit: Audit, desc: dict) -> None:
    cfg = audit.cfg
    arn = desc["ARN"]
    replicas = sorted(r.get("Region", "?") for r in desc.get("ReplicationStatus") or [])
    primary = desc.get("PrimaryRegion")
    problems = []
    if replicas:
        problems.append(f"replicated to {', '.join(replicas)}")
    if primary and primary != cfg.region:
        problems.append(f"a replica of a secret whose primary region is {primary}")
    audit.add("secret-no-replicas", not problems, [arn], "; ".join(problems) or "no replicas")
    key = desc.get("KmsKeyId") or ""
    if key.startswith("arn:") and _arn_account(key) == cfg.operator_account_id:
        audit.keys.setdefault(key, cfg.operator_account_id)


# --------------------------------------------------------------------------- EC2 / VPC


def _check_vpcs(audit: Audit) -> None:
    cfg = audit.cfg
    ec2 = audit.client("ec2")
    where = f"account {audit.account} in {cfg.region}"
    vpcs = [v for p in pages(ec2, "DescribeVpcs", where) for v in p.get("Vpcs", [])]
    if not vpcs:
        return
    igws = [g for p in pages(ec2, "DescribeInternetGateways", where) for g in p.get("InternetGateways", [])]
    nats = [
        n
        for p in pages(ec2, "DescribeNatGateways", where)
        for n in p.get("NatGateways", [])
        if n.get("State") not in ("deleted", "deleting", "failed")
    ]
    eigws = [
        g
        for p in pages(ec2, "DescribeEgressOnlyInternetGateways", where)
        for g in p.get("EgressOnlyInternetGateways", [])
    ]
    peerings = [
        c
        for p in pages(ec2, "DescribeVpcPeeringConnections", where)
        for c in p.get("VpcPeeringConnections", [])
        if c.get("Status", {}).get("Code") in ("active", "pending-acceptance", "provisioning", "initiating-request")
    ]
    tables = [t for p in pages(ec2, "DescribeRouteTables", where) for t in p.get("RouteTables", [])]
    acls = [a for p in pages(ec2, "DescribeNetworkAcls", where) for a in p.get("NetworkAcls", [])]
    groups = [g for p in pages(ec2, "DescribeSecurityGroups", where) for g in p.get("SecurityGroups", [])]
    endpoints = [e for p in pages(ec2, "DescribeVpcEndpoints", where) for e in p.get("VpcEndpoints", [])]
    s3_lists = _s3_prefix_lists(audit, ec2)

    for vpc in sorted(vpcs, key=lambda v: v["VpcId"]):
        vpc_id = vpc["VpcId"]
        vpc_arn = _ec2_arn(audit, "vpc", vpc_id)
        cidrs = [
            ipaddress.ip_network(a["CidrBlock"])
            for a in vpc.get("CidrBlockAssociationSet", [{"CidrBlock": vpc["CidrBlock"]}])
            if a.get("CidrBlockState", {}).get("State", "associated") == "associated"
        ]
        cidrs += [
            ipaddress.ip_network(a["Ipv6CidrBlock"])
            for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
            if a.get("Ipv6CidrBlockState", {}).get("State", "associated") == "associated"
        ]

        attached = [
            g["InternetGatewayId"]
            for g in igws
            if any(a.get("VpcId") == vpc_id for a in g.get("Attachments", []) if a.get("State") != "detached")
        ]
        _gateway_result(audit, "vpc-no-internet-gateway", vpc_arn, "internet-gateway", attached, "internet gateway")
        mine = [n["NatGatewayId"] for n in nats if n.get("VpcId") == vpc_id]
        _gateway_result(audit, "vpc-no-nat-gateway", vpc_arn, "natgateway", mine, "NAT gateway")
        mine = [
            g["EgressOnlyInternetGatewayId"]
            for g in eigws
            if any(a.get("VpcId") == vpc_id for a in g.get("Attachments", []) if a.get("State") != "detached")
        ]
        _gateway_result(
            audit, "vpc-no-egress-only-gateway", vpc_arn, "egress-only-internet-gateway", mine, "egress-only gateway"
        )
        mine = [
            c["VpcPeeringConnectionId"]
            for c in peerings
            if vpc_id in (c.get("RequesterVpcInfo", {}).get("VpcId"), c.get("AccepterVpcInfo", {}).get("VpcId"))
        ]
        _gateway_result(audit, "vpc-no-peering", vpc_arn, "vpc-peering-connection", mine, "peering connection")

        _routes_result(audit, vpc_arn, [t for t in tables if t.get("VpcId") == vpc_id])
        for acl in sorted((a for a in acls if a.get("VpcId") == vpc_id), key=lambda a: a["NetworkAclId"]):
            _acl_result(audit, vpc_arn, acl, cidrs)
        for group in sorted((g for g in groups if g.get("VpcId") == vpc_id), key=lambda g: g["GroupId"]):
            _sg_result(
                audit, vpc_arn, group, cidrs, s3_lists, {g["GroupId"] for g in groups if g.get("VpcId") == vpc_id}
            )
        for ep in endpoints:
            if ep.get("VpcId") == vpc_id and ep.get("ServiceName") == f"com.amazonaws.{cfg.region}.s3":
                _endpoint_result(audit, vpc_arn, ep)


def _s3_prefix_lists(audit: Audit, ec2: Any) -> set[str]:
    """The region's AWS-managed S3 prefix list ids: reachable only through an S3 endpoint."""
    name = f"com.amazonaws.{audit.cfg.region}.s3"
    lists = call(
        ec2,
        "DescribeManagedPrefixLists",
        f"prefix list {name}",
        Filters=[{"Name": "prefix-list-name", "Values": [name]}],
    ).get("PrefixLists", [])
    return {pl["PrefixListId"] for pl in lists if pl.get("OwnerId") == "AWS" and pl.get("PrefixListName") == name}


def _gateway_result(audit: Audit, check_id: str, vpc_arn: str, kind: str, ids: list[str], what: str) -> None:
    arns = [_ec2_arn(audit, kind, i) for i in sorted(ids)]
    found = f"{what} {', '.join(sorted(ids))}" if ids else f"no {what}"
    audit.add(check_id, not ids, [vpc_arn, *arns], found)


_LEAVING_TARGETS = (
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "NetworkInterfaceId",
    "InstanceId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)


def _routes_result(audit: Audit, vpc_arn: str, tables: list[dict]) -> None:
    bad: list[str] = []
    arns = [vpc_arn]
    for table in sorted(tables, key=lambda t: t["RouteTableId"]):
        for route in table.get("Routes", []):
            dest = (
                route.get("DestinationCidrBlock")
                or route.get("DestinationIpv6CidrBlock")
                or route.get("DestinationPrefixListId", "?")
            )
            gateway = route.get("GatewayId", "")
            targets = [route[k] for k in _LEAVING_TARGETS if route.get(k)]
            if gateway and gateway != "local" and not gateway.startswith("vpce-"):
                targets.append(gateway)
            if dest in ("0.0.0.0/0", "::/0") and not targets:
                targets.append(gateway or "?")
            if targets:
                bad.append(f"{table['RouteTableId']}: {dest} -> {', '.join(targets)}")
                arns.append(_ec2_arn(audit, "route-table", table["RouteTableId"]))
    found = "; ".join(bad) if bad else "local routes only"
    audit.add("vpc-no-route-out", not bad, sorted(set(arns), key=arns.index), found)


def _inside(cidr: str | None, cidrs: list) -> bool:
    if not cidr:
        return False
    net = ipaddress.ip_network(cidr, strict=False)
    return any(net.version == c.version and net.subnet_of(c) for c in cidrs)


def _acl_result(audit: Audit, vpc_arn: str, acl: dict, cidrs: list) -> None:
    entries = sorted((e for e in acl.get("Entries", []) if e.get("Egress")), key=lambda e: e["RuleNumber"])
    bad = []
    for i, entry in enumerate(entries):
        if entry.get("RuleAction") != "allow":
            continue
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        if _inside(cidr, cidrs):
            continue
        # An allow behind a lower-numbered deny of all traffic to a wider block never matches.
        net = ipaddress.ip_network(cidr, strict=False)
        shadowed = any(
            earlier.get("RuleAction") == "deny"
            and earlier.get("Protocol") == "-1"
            and (earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock"))
            and net.version == ipaddress.ip_network(earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock")).version
            and net.subnet_of(ipaddress.ip_network(earlier.get("CidrBlock") or earlier.get("Ipv6CidrBlock")))
            for earlier in entries[:i]
        )
        if not shadowed:
            bad.append(f"rule {entry['RuleNumber']} allows egress to {cidr}")
    acl_arn = _ec2_arn(audit, "network-acl", acl["NetworkAclId"])
    audit.add("vpc-nacl-egress-inside", not bad, [acl_arn, vpc_arn], "; ".join(bad) or "egress stays inside the VPC")


def _sg_result(audit: Audit, vpc_arn: str, group: dict, cidrs: list, s3_lists: set[str], vpc_groups: set[str]) -> None:
    bad = []
    for perm in group.get("IpPermissionsEgress", []):
        ports = _ports(perm)
        for r in perm.get("IpRanges", []):
            if not _inside(r.get("CidrIp"), cidrs):
                bad.append(f"{ports} to {r.get('CidrIp')}")
        for r in perm.get("Ipv6Ranges", []):
            if not _inside(r.get("CidrIpv6"), cidrs):
                bad.append(f"{ports} to {r.get('CidrIpv6')}")
        for pl in perm.get("PrefixListIds", []):
            if pl.get("PrefixListId") not in s3_lists:
                bad.append(f"{ports} to prefix list {pl.get('PrefixListId')}")
        for pair in perm.get("UserIdGroupPairs", []):
            if pair.get("GroupId") not in vpc_groups:
                bad.append(f"{ports} to security group {pair.get('GroupId')} outside the VPC")
    sg_arn = _ec2_arn(audit, "security-group", group["GroupId"])
    audit.add("vpc-sg-egress-inside", not bad, [sg_arn, vpc_arn], "; ".join(bad) or "egress stays inside the VPC")


def _ports(perm: dict) -> str:
    proto = perm.get("IpProtocol")
    if proto in ("-1", -1, None):
        return "all traffic"
    low, high = perm.get("FromPort"), perm.get("ToPort")
    return f"{proto} {low}" if low == high else f"{proto} {low}-{high}"


def _endpoint_result(audit: Audit, vpc_arn: str, ep: dict) -> None:
    open_statements = [
        s.get("Sid") or f"statement {i + 1}"
        for i, s in enumerate(policy_statements(ep.get("PolicyDocument")))
        if s.get("Effect") == "Allow"
        and not s.get("Condition")
        and (
            "NotResource" in s
            or covers(s.get("Resource"), "arn:aws:s3:::any-bucket-anywhere")
            or covers(s.get("Resource"), "arn:aws:s3:::any-bucket-anywhere/key")
        )
    ]
    if not ep.get("PolicyDocument"):
        open_statements = ["no policy (full access)"]
    ep_arn = _ec2_arn(audit, "vpc-endpoint", ep["VpcEndpointId"])
    found = f"unrestricted: {', '.join(open_statements)}" if open_statements else "restricted"
    audit.add("vpc-s3-endpoint-restricted", not open_statements, [ep_arn, vpc_arn], found)


# --------------------------------------------------------------------------- IAM


def _check_roles(audit: Audit) -> None:
    cfg = audit.cfg
    iam = audit.client("iam")
    boundary = f"arn:aws:iam::{cfg.data_account_id}:policy/{cfg.name_prefix}-boundary"
    names = [
        r["RoleName"]
        for p in pages(iam, "ListRoles", f"roles of {audit.account}")
        for r in p.get("Roles", [])
        if r["RoleName"].startswith(f"{cfg.name_prefix}-")
    ]
    staff_name = cfg.role_name("staff-access")
    staff = None
    for name in sorted(names):
        role = call(iam, "GetRole", f"role {name}", RoleName=name)["Role"]
        got = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        ok = _arn_account(got or "") == cfg.data_account_id and (got or "").endswith(f"/{cfg.name_prefix}-boundary")
        audit.add(
            "iam-role-boundary",
            ok,
            [role["Arn"]],
            f"boundary {got}" if got else "no permissions boundary",
            f"PermissionsBoundary = {boundary}",
        )
        if name == staff_name:
            staff = role
    if staff is None:
        for check_id in ("iam-staff-trust-mfa", "iam-staff-trust-ticket"):
            audit.add(check_id, False, [cfg.role_arn("staff-access")], f"no role named {staff_name}", fix=MISSING_FIX)
        return
    _staff_trust_results(audit, staff)


def _staff_trust_results(audit: Audit, role: dict) -> None:
    tag_key = f"aws:RequestTag/{ACCESS_TICKET_TAG}"
    no_mfa, no_ticket, granting = [], [], 0
    for i, s in enumerate(policy_statements(role.get("AssumeRolePolicyDocument"))):
        if s.get("Effect") != "Allow":
            continue
        if "NotAction" in s or any(
            covers(s.get("Action"), a)
            for a in ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
        ):
            granting += 1
            label = s.get("Sid") or f"statement {i + 1}"
            cond = s.get("Condition") or {}
            if not _is_true((cond.get("Bool") or {}).get("aws:MultiFactorAuthPresent")):
                no_mfa.append(label)
            # Only positive operators fail when the tag is absent; "IfExists" and negated forms do not.
            requires_tag = any(
                op in ("StringEquals", "StringLike", "StringEqualsIgnoreCase") and values.get(tag_key)
                for op, values in cond.items()
                if isinstance(values, dict)
            ) or _is_false((cond.get("Null") or {}).get(tag_key))
            if not requires_tag:
                no_ticket.append(label)
    arn = role["Arn"]
    if not granting:
        note = "no statement allows sts:AssumeRole"
        audit.add("iam-staff-trust-mfa", True, [arn], note)
        audit.add("iam-staff-trust-ticket", True, [arn], note)
        return
    audit.add(
        "iam-staff-trust-mfa",
        not no_mfa,
        [arn],
        f"no MFA condition in {', '.join(no_mfa)}" if no_mfa else "MFA required in every statement",
    )
    audit.add(
        "iam-staff-trust-ticket",
        not no_ticket,
        [arn],
        f"no {tag_key} condition in {', '.join(no_ticket)}" if no_ticket else "ticket tag required in every statement",
    )


# --------------------------------------------------------------------------- KMS


def _check_keys(audit: Audit) -> None:
    """The operator key (by alias, cross-account) and every operator key a resource uses."""
    cfg = audit.cfg
    alias_arn = f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:{cfg.key_alias}"
    wanted = {alias_arn: cfg.operator_account_id, **audit.keys}
    seen: set[str] = set()
    for ref, owner in sorted(wanted.items()):
        operator = owner == cfg.operator_account_id
        kms = audit.client("kms", operator=operator)
        desc = call(kms, "DescribeKey", f"key {ref}", none_codes=("NotFoundException",), KeyId=ref)
        if desc is None:
            for check_id in (
                "kms-key-single-region",
                "kms-key-enabled",
                "kms-key-rotation",
                "kms-key-not-pending-deletion",
                "kms-key-operator-administered",
            ):
                audit.add(check_id, False, [ref], "key not found", fix=MISSING_KEY_FIX)
            continue
        meta = desc["KeyMetadata"]
        if meta["Arn"] in seen:
            continue
        seen.add(meta["Arn"])
        _key_results(audit, kms, meta, owner, audit.key_account if operator else audit.account)


def _key_results(audit: Audit, kms: Any, meta: dict, owner: str, reader: str) -> None:
    cfg = audit.cfg
    arn = meta["Arn"]
    # AWS always answers MultiRegion; moto omits it on ordinary keys. Absent means false.
    multi = meta.get("MultiRegion") is True
    region = _arn_region(arn)
    audit.add(
        "kms-key-single-region",
        not multi and region == cfg.region,
        [arn],
        f"{'multi-region' if multi else 'single-region'} key in {region}",
    )
    state = meta.get("KeyState", "?")
    # A key pending deletion is reported by kms-key-not-pending-deletion alone, so that
    # each drift fails the one check whose fix undoes it.
    audit.add(
        "kms-key-enabled",
        state in ("Enabled", "PendingDeletion"),
        [arn],
        f"KeyState {state}" + (" (see kms-key-not-pending-deletion)" if state == "PendingDeletion" else ""),
    )
    pending = state in ("PendingDeletion", "PendingReplicaDeletion") or bool(meta.get("DeletionDate"))
    audit.add(
        "kms-key-not-pending-deletion",
        not pending,
        [arn],
        f"deletion scheduled for {meta.get('DeletionDate')}" if pending else "no deletion scheduled",
    )
    # AWS may refuse GetKeyRotationStatus in some key states (KMSInvalidStateException).
    status = call(kms, "GetKeyRotationStatus", f"key {arn}", none_codes=("KMSInvalidStateException",), KeyId=arn)
    rotating = None if status is None else status.get("KeyRotationEnabled")
    audit.add(
        "kms-key-rotation",
        rotating is True,
        [arn],
        "rotation on"
        if rotating
        else ("rotation off" if rotating is False else f"rotation not readable in state {state}"),
    )
    holder = meta.get("AWSAccountId")
    who = "operator" if owner == cfg.operator_account_id else "data (Pulumi state key)"
    found = f"{meta.get('KeyManager', '?').lower()} managed key in account {holder}"
    ok = holder == owner and meta.get("KeyManager") == "CUSTOMER"
    if holder == reader:
        # GetKeyPolicy works only in the key's own account (--operator-profile for operator keys).
        doc = call(kms, "GetKeyPolicy", f"key {arn}", KeyId=arn, PolicyName="default")["Policy"]
        outsiders = _key_administrators_outside(doc, owner)
        if outsiders:
            ok = False
            found += f"; key policy lets {', '.join(outsiders)} administer it"
        else:
            found += f"; key policy lets only account {owner} administer it"
    else:
        found += "; key policy not readable from this account (run with --operator-profile to check it)"
    audit.add(
        "kms-key-operator-administered",
        ok,
        [arn],
        found,
        f"customer managed key in the {who} account {owner}, administered only by it",
    )


# Actions that decide who holds the key: its policy, its life, its grants, its copies.
KEY_CUSTODY_ACTIONS = (
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:DisableKeyRotation",
    "kms:CreateGrant",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
    "kms:ImportKeyMaterial",
    "kms:DeleteImportedKeyMaterial",
)


def _key_administrators_outside(document: Any, owner: str) -> list[str]:
    """Principals outside ``owner`` that an Allow statement gives a custody action."""
    outsiders: set[str] = set()
    for s in policy_statements(document):
        if s.get("Effect") != "Allow":
            continue
        actions = s.get("Action")
        if "NotAction" not in s and not any(covers(actions, a) for a in KEY_CUSTODY_ACTIONS):
            continue
        principal = s.get("Principal")
        if principal == "*" or "NotPrincipal" in s:
            outsiders.add("*")
            continue
        for kind, values in (principal or {}).items():
            for value in _as_list(values):
                account = value if str(value).isdigit() else _arn_account(str(value))
                if kind != "AWS" or account != owner:
                    outsiders.add(str(value))
    return sorted(outsiders)
