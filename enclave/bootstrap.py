"""``python -m enclave bootstrap``: the site's own Pulumi state bucket and secrets key, in its region.

Pulumi's state holds every property of every resource, so it must stay in the
site's region like the data it describes. Bootstrap first *inspects* the
bucket and key (read-only); if either exists but is misconfigured it lists
every problem and exits 1 without changing anything (data settings are never
"fixed" silently). Otherwise it creates what is missing, and a second run
reports everything "unchanged".
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Create the site's in-region Pulumi state bucket and secrets key (idempotent); print how to use them."

PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from enclave.audit.common import add_site_arguments

    add_site_arguments(parser)


def backend_url(bucket: str, region: str) -> str:
    """Pulumi's documented S3 backend URL form (``awssdk=v2`` selects the current AWS SDK)."""
    return f"s3://{bucket}?region={region}&awssdk=v2"


def secrets_provider(alias: str, region: str) -> str:
    """Pulumi's documented AWS KMS secrets provider form."""
    return f"awskms://{alias}?region={region}"


def state_key_policy(cfg: Any) -> dict:
    """The state key's policy: the data account administers it through IAM; nobody replicates it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DataAccountIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{cfg.data_account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "NoReplicaOutsideTheRegion",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["kms:ReplicateKey", "kms:UpdatePrimaryRegion"],
                "Resource": "*",
            },
        ],
    }


def tls_and_replication_denies(bucket_arn: str) -> list[dict]:
    """The two deny statements every bucket of a site carries (the audit's ``s3-policy-denies``)."""
    return [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyReplication",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutReplicationConfiguration",
            "Resource": bucket_arn,
        },
    ]


def state_bucket_policy(bucket: str) -> dict:
    """TLS only, never replicated, never deleted (the Deny must be removed first, on purpose)."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            *tls_and_replication_denies(arn),
            {
                "Sid": "DenyBucketDeletion",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:DeleteBucket",
                "Resource": arn,
            },
        ],
    }


def run(args: argparse.Namespace) -> int:
    from enclave.audit.checks import state_bucket_name, state_key_alias
    from enclave.audit.common import caller_account, load_site, session_in

    cfg = load_site(args.stack, args.config)
    session = session_in(cfg)
    caller_account(session, cfg, cfg.data_account_id, "data account (dataAccountId)")
    bucket, alias = state_bucket_name(cfg), state_key_alias(cfg)
    kms = session.client("kms", region_name=cfg.region)
    s3 = session.client("s3", region_name=cfg.region)

    key, key_problems = _inspect_key(cfg, kms, alias)
    bucket_region = _bucket_region(s3, bucket)
    bucket_problems = (
        _inspect_bucket(cfg, session.client("s3", region_name=bucket_region), bucket, bucket_region, key)
        if bucket_region
        else []
    )
    problems = key_problems + bucket_problems
    if problems:
        print(f"bootstrap {args.stack}: the existing state backend is misconfigured; nothing was changed:")
        for problem in problems:
            print(f"  - {problem}")
        print("Fix each problem by hand (data settings are never changed silently), then run bootstrap again.")
        return EXIT_FAIL

    key_status = bucket_status = "unchanged"
    try:
        if key is None:
            key_status = "being created (a key without the alias may exist)"
            key = _create_key(cfg, kms, alias)
            key_status = "created"
        if bucket_region is None:
            bucket_status = "being created"
            _create_bucket(cfg, s3, bucket, key)
            bucket_status = "created"
    except UsageError as exc:
        # Say exactly what exists now: the next run inspects it and lists what is missing.
        raise UsageError(
            f"{exc}; bootstrap stopped with key {alias} {key_status} and bucket {bucket} {bucket_status}: "
            "fix the cause and run bootstrap again (it will report what is left to fix)"
        ) from exc

    print(f"bootstrap {args.stack} ({cfg.region}, account {cfg.data_account_id}):")
    print(f"  key {alias}: {key_status} ({key})")
    print(f"  bucket {bucket}: {bucket_status}")
    print("Use them (README, Deploy):")
    print(f"  pulumi login '{backend_url(bucket, cfg.region)}'")
    print(f"  pulumi stack init {args.stack} --secrets-provider '{secrets_provider(alias, cfg.region)}'")
    return EXIT_OK


def _inspect_key(cfg: Any, kms: Any, alias: str) -> tuple[str | None, list[str]]:
    from enclave.audit.common import call

    desc = call(kms, "DescribeKey", f"key {alias}", none_codes=("NotFoundException",), KeyId=alias)
    if desc is None:
        return None, []
    meta = desc["KeyMetadata"]
    arn = meta["Arn"]
    problems = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"key {alias} ({arn}) is {meta.get('KeyState')}, expected Enabled")
    if meta.get("MultiRegion") is True:  # absent (as moto answers) means single-region
        problems.append(f"key {alias} ({arn}) is multi-region, expected a single-region key")
    if meta.get("KeyManager") != "CUSTOMER" or meta.get("AWSAccountId") != cfg.data_account_id:
        problems.append(f"key {alias} ({arn}) is not a customer managed key of account {cfg.data_account_id}")
    if meta.get("KeyState") == "Enabled":
        rotation = call(kms, "GetKeyRotationStatus", f"key {arn}", KeyId=arn)
        if not rotation.get("KeyRotationEnabled"):
            problems.append(f"key {alias} ({arn}) has rotation off, expected automatic rotation")
    return arn, problems


def _bucket_region(s3: Any, bucket: str) -> str | None:
    """The bucket's region if it exists (and is ours), else ``None``."""
    from enclave.audit.common import call

    head = call(s3, "HeadBucket", f"bucket {bucket}", none_codes=("404", "NoSuchBucket", "NotFound"), Bucket=bucket)
    if head is None:
        return None
    region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
        "x-amz-bucket-region"
    )
    if not region:
        loc = call(s3, "GetBucketLocation", f"bucket {bucket}", Bucket=bucket).get("LocationConstraint")
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(loc, loc)
    return region


def _inspect_bucket(cfg: Any, s3: Any, bucket: str, region: str, key: str | None) -> list[str]:
    from enclave.audit.checks import missing_bucket_denies, state_key_alias
    from enclave.audit.common import call
    from enclave.audit.policy import statements as policy_statements

    where = f"bucket {bucket}"
    problems = []
    if region != cfg.region:
        problems.append(f"{where} is in {region}, expected {cfg.region} (state must stay in the site's region)")

    versioning = call(s3, "GetBucketVersioning", where, Bucket=bucket).get("Status")
    if versioning != "Enabled":
        problems.append(f"{where} has versioning {versioning or 'never enabled'}, expected Enabled")

    enc = call(
        s3, "GetBucketEncryption", where, none_codes=("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket
    )
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    wanted = f"SSE-KMS with {key}" if key else f"SSE-KMS with the key {state_key_alias(cfg)} (which does not exist)"
    if default.get("SSEAlgorithm") != "aws:kms" or default.get("KMSMasterKeyID") != key or key is None:
        found = (
            f"{default.get('SSEAlgorithm')} with {default.get('KMSMasterKeyID') or 'the default key'}"
            if default
            else "no default encryption"
        )
        problems.append(f"{where} has {found}, expected {wanted}")

    pab = call(s3, "GetPublicAccessBlock", where, none_codes=("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket)
    off = [f for f in PAB_FLAGS if (pab or {}).get("PublicAccessBlockConfiguration", {}).get(f) is not True]
    if off:
        problems.append(f"{where} has public access block settings off: {', '.join(off)}")

    own = call(s3, "GetBucketOwnershipControls", where, none_codes=("OwnershipControlsNotFoundError",), Bucket=bucket)
    rules = (own or {}).get("OwnershipControls", {}).get("Rules", [])
    if [r.get("ObjectOwnership") for r in rules] != ["BucketOwnerEnforced"]:
        problems.append(f"{where} has object ownership {rules or 'unset'}, expected BucketOwnerEnforced (no ACLs)")

    repl = call(s3, "GetBucketReplication", where, none_codes=("ReplicationConfigurationNotFoundError",), Bucket=bucket)
    if repl is not None:
        problems.append(f"{where} has a replication configuration, expected none")

    pol = call(s3, "GetBucketPolicy", where, none_codes=("NoSuchBucketPolicy",), Bucket=bucket)
    statements = policy_statements((pol or {}).get("Policy"))
    missing = missing_bucket_denies(statements, f"arn:aws:s3:::{bucket}")
    if not _denies_delete(statements, f"arn:aws:s3:::{bucket}"):
        missing.append("unconditional Deny s3:DeleteBucket to *")
    if missing:
        problems.append(f"{where} policy lacks: {'; '.join(missing)}")
    return problems


def _denies_delete(statements: list[dict], arn: str) -> bool:
    from enclave.audit.policy import covers
    from enclave.audit.policy import is_everyone_principal as is_everyone

    return any(
        s.get("Effect") == "Deny"
        and is_everyone(s.get("Principal"))
        and not s.get("Condition")
        and covers(s.get("Action"), "s3:DeleteBucket")
        and covers(s.get("Resource"), arn)
        for s in statements
    )


def _tags(cfg: Any) -> dict[str, str]:
    return {**cfg.residency_tags, "enclave:purpose": "pulumi-state"}


def _create_key(cfg: Any, kms: Any, alias: str) -> str:
    from enclave.audit.common import call

    arn = call(
        kms,
        "CreateKey",
        f"a key for {alias}",
        Description=f"{cfg.name_prefix}: Pulumi state and secrets of the {cfg.site} site",
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        MultiRegion=False,
        Policy=json.dumps(state_key_policy(cfg)),
        Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(_tags(cfg).items())],
    )["KeyMetadata"]["Arn"]
    call(kms, "EnableKeyRotation", f"key {arn}", KeyId=arn)
    call(kms, "CreateAlias", f"alias {alias}", AliasName=alias, TargetKeyId=arn)
    return arn


def _create_bucket(cfg: Any, s3: Any, bucket: str, key: str) -> None:
    from enclave.audit.common import call

    where = f"bucket {bucket}"
    call(
        s3,
        "CreateBucket",
        where,
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": cfg.region},
        ObjectOwnership="BucketOwnerEnforced",
    )
    # Public access is blocked before anything else can be written or granted.
    call(
        s3,
        "PutPublicAccessBlock",
        where,
        Bucket=bucket,
        PublicAccessBlockConfiguration={flag: True for flag in PAB_FLAGS},
    )
    call(
        s3,
        "PutBucketEncryption",
        where,
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    call(s3, "PutBucketVersioning", where, Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    call(s3, "PutBucketPolicy", where, Bucket=bucket, Policy=json.dumps(state_bucket_policy(bucket)))
    call(
        s3,
        "PutBucketTagging",
        where,
        Bucket=bucket,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(_tags(cfg).items())]},
    )
