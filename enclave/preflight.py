"""``python -m enclave preflight``: check, read-only, what a site needs before its first ``pulumi up``.

The program names principals it does not create (the deployment role, the
staff principals, the operator's key-custodian role) and IAM rejects a trust
policy that names a principal which does not exist; S3 bucket names are global;
an opt-in region must be enabled. Each such prerequisite is one check here, in
the data account (the caller's credentials) and the operator account
(``--operator-profile``), with the exit codes and report formats of ``audit``.
docs/deployment.md lists who creates each prerequisite.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from enclave.audit.checks import Check
from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Check a site's prerequisites before its first pulumi up, with read-only AWS calls; exit 1 if one is missing."

FORMAT = "enclave-preflight/1"

OPT_IN_REGIONS = frozenset({"eu-south-1", "eu-south-2"})
"""EEA regions of the allow-list that an account must enable before use (the others are on by default)."""

CLOUDTRAIL_TRAILS_PER_REGION = 5
"""CloudTrail's quota of trails per region."""


PREREQUISITES: dict[str, Check] = {
    p.id: p
    for p in (
        Check(
            "region-enabled",
            "The site's region is enabled for the data account",
            "region opt-in status opt-in-not-required or opted-in",
            "Enable it from the management or data account: aws account enable-region --region-name REGION "
            "(takes minutes to hours), then run preflight again.",
        ),
        Check(
            "no-default-vpc",
            "The region has no default VPC (it has an internet gateway)",
            "no default VPC in the region",
            "Delete the default VPC of the region: its internet gateway, subnets, then the VPC "
            "(aws ec2 delete-vpc --vpc-id ID after detaching and deleting the gateway).",
        ),
        Check(
            "deployment-role-exists",
            "The deployment role (deploymentRoleArn) exists in the data account",
            "the role exists",
            "Create the deployment role in the data account (docs/deployment.md lists its permissions), "
            "or correct eu-data-enclave:deploymentRoleArn.",
        ),
        Check(
            "staff-principal-exists",
            "Each approved staff principal (staffPrincipals) exists",
            "the role or user exists in the data account",
            "Create the principal, or remove it from eu-data-enclave:staffPrincipals: IAM rejects a trust "
            "policy that names a principal which does not exist.",
        ),
        Check(
            "staff-user-has-mfa",
            "Each approved staff user has an MFA device (the gate requires MFA)",
            "at least one MFA device",
            "Assign an MFA device to the user (aws iam enable-mfa-device), or the user can never pass the gate.",
        ),
        Check(
            "operator-role-exists",
            "The operator's key-custodian role (operatorRoleArn) exists in the operator account",
            "the role exists",
            "The operator creates the role in its account (docs/deployment.md), or correct "
            "eu-data-enclave:operatorRoleArn; pass --operator-profile with read-only operator credentials.",
        ),
        Check(
            "operator-role-trusts-deployer",
            "The key-custodian role trusts the deployment role, with the agreed external id",
            "an Allow of sts:AssumeRole for the deployment role (or the data account) requiring sts:ExternalId",
            "The operator adds the trust statement of docs/deployment.md to the role (aws iam "
            "update-assume-role-policy), with eu-data-enclave:operatorExternalId as the external id.",
        ),
        Check(
            "bucket-name-available",
            "Each site bucket name is free, or already the data account's",
            "no bucket of that name in another account",
            "S3 bucket names are global: a name held by another account cannot be created. Check the "
            "account ids in the stack config; the names derive from eu-data-enclave:site and dataAccountId.",
        ),
        Check(
            "trail-quota",
            "The region has room for the site's trail",
            f"the site's trail exists, or fewer than {CLOUDTRAIL_TRAILS_PER_REGION} trails in the region",
            "Delete an unused trail of the region, or ask AWS to raise the CloudTrail trails quota.",
        ),
    )
}

READ_ONLY_PERMISSIONS = (
    "cloudtrail:DescribeTrails",
    "ec2:DescribeRegions",
    "ec2:DescribeVpcs",
    "iam:GetRole",
    "iam:GetUser",
    "iam:ListMFADevices",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
)
"""Every IAM permission preflight uses (besides sts:GetCallerIdentity); the same, in the operator account, for iam:GetRole."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from enclave.audit.common import add_report_arguments

    add_report_arguments(
        parser,
        reports="preflight.json and preflight.md",
        operator_help="AWS profile with read-only credentials of the operator account (checks the key-custodian role)",
    )


# --------------------------------------------------------------------------- the checks


@dataclass
class _Run:
    cfg: Any
    session: Any
    operator_session: Any | None
    results: list = field(default_factory=list)

    def add(self, check_id: str, ok: bool, resources: list[str], found: str, expected: str | None = None) -> None:
        from enclave.audit.checks import Result

        p = PREREQUISITES[check_id]
        self.results.append(Result(check_id, "pass" if ok else "fail", resources, expected or p.expected, found, p.fix))

    def client(self, service: str, operator: bool = False) -> Any:
        session = self.operator_session if operator else self.session
        return session.client(service, region_name=self.cfg.region)


def _region_enabled(run: _Run) -> None:
    from enclave.audit.common import call

    cfg = run.cfg
    regions = call(
        run.client("ec2"), "DescribeRegions", f"region {cfg.region}", AllRegions=True, RegionNames=[cfg.region]
    ).get("Regions", [])
    status = regions[0].get("OptInStatus", "?") if regions else "not offered to this account"
    run.add(
        "region-enabled",
        status in ("opt-in-not-required", "opted-in"),
        [f"arn:aws:ec2:{cfg.region}:{cfg.data_account_id}:region/{cfg.region}"],
        f"{cfg.region}: {status}",
    )


def _no_default_vpc(run: _Run) -> None:
    from enclave.audit.common import pages

    cfg = run.cfg
    where = f"account {cfg.data_account_id} in {cfg.region}"
    default = [
        v["VpcId"]
        for page in pages(
            run.client("ec2"), "DescribeVpcs", where, Filters=[{"Name": "is-default", "Values": ["true"]}]
        )
        for v in page.get("Vpcs", [])
    ]
    arns = [f"arn:aws:ec2:{cfg.region}:{cfg.data_account_id}:vpc/{v}" for v in default]
    run.add(
        "no-default-vpc",
        not default,
        arns or [f"arn:aws:ec2:{cfg.region}:{cfg.data_account_id}:vpc/*"],
        f"default VPC {', '.join(default)}" if default else "no default VPC",
    )


def _get_principal(iam: Any, arn: str) -> dict | None:
    """The role or user named by ``arn`` (``GetRole``/``GetUser``), or ``None`` if it does not exist."""
    from enclave.audit.common import call

    kind, name = arn.split(":", 5)[5].split("/", 1)
    name = name.rsplit("/", 1)[-1]  # the path is not part of the name
    if kind == "role":
        found = call(iam, "GetRole", f"role {arn}", none_codes=("NoSuchEntity",), RoleName=name)
        return found and found["Role"]
    found = call(iam, "GetUser", f"user {arn}", none_codes=("NoSuchEntity",), UserName=name)
    return found and found["User"]


def _principals(run: _Run) -> None:
    from enclave.audit.common import call

    cfg = run.cfg
    iam = run.client("iam")
    role = _get_principal(iam, cfg.deployment_role_arn)
    run.add("deployment-role-exists", role is not None, [cfg.deployment_role_arn], "exists" if role else "no such role")
    for arn in cfg.staff_principals:
        account = arn.split(":")[4]
        if account != cfg.data_account_id:
            # Not readable from here, so not proven: fail closed and say where to look.
            run.add("staff-principal-exists", False, [arn], f"in account {account}, not readable from the data account")
            continue
        found = _get_principal(iam, arn)
        run.add("staff-principal-exists", found is not None, [arn], "exists" if found else "no such principal")
        if found is not None and ":user/" in arn:
            devices = call(iam, "ListMFADevices", f"user {arn}", UserName=found["UserName"]).get("MFADevices", [])
            run.add("staff-user-has-mfa", bool(devices), [arn], f"{len(devices)} MFA device(s)")


def _operator_role(run: _Run) -> None:
    from enclave.audit.checks import policy_statements

    cfg = run.cfg
    arn = cfg.operator_role_arn
    if run.operator_session is None:
        for check_id in ("operator-role-exists", "operator-role-trusts-deployer"):
            run.add(check_id, False, [arn], "not checked: run with --operator-profile (operator account credentials)")
        return
    role = _get_principal(run.client("iam", operator=True), arn)
    run.add("operator-role-exists", role is not None, [arn], "exists" if role else "no such role")
    if role is None:
        run.add("operator-role-trusts-deployer", False, [arn, cfg.deployment_role_arn], "no such role")
        return
    trusted = [s for s in policy_statements(role.get("AssumeRolePolicyDocument")) if _trusts_deployer(cfg, s)]
    expected = PREREQUISITES["operator-role-trusts-deployer"].expected
    if cfg.operator_external_id:
        expected += f" = {cfg.operator_external_id!r}"
    run.add(
        "operator-role-trusts-deployer",
        bool(trusted),
        [arn, cfg.deployment_role_arn],
        f"trusted by {', '.join(s.get('Sid') or 'a statement' for s in trusted)}"
        if trusted
        else "no statement lets the deployment role assume it with the external id",
        expected,
    )


def _trusts_deployer(cfg: Any, statement: dict) -> bool:
    """An Allow of sts:AssumeRole for the deployer (or its account) whose external-id condition is the configured one."""
    from enclave.audit.checks import covers

    if statement.get("Effect") != "Allow" or not covers(statement.get("Action"), "sts:AssumeRole"):
        return False
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    names = aws if isinstance(aws, list) else [aws]
    data_root = f"arn:aws:iam::{cfg.data_account_id}:root"
    if not {cfg.deployment_role_arn, data_root, cfg.data_account_id} & set(names):
        return False
    external = (statement.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
    if cfg.operator_external_id is None:
        return external is None
    return external == cfg.operator_external_id


def _bucket_names(run: _Run) -> None:
    from enclave.audit.common import pages

    cfg = run.cfg
    s3 = run.client("s3")
    ours = {
        b["Name"]
        for page in pages(s3, "ListBuckets", f"account {cfg.data_account_id}")
        for b in page.get("Buckets", [])
    }
    for role in ("user-data", "access-logs", "audit-logs"):
        name = cfg.bucket_name(role)
        holder = "the data account" if name in ours else _bucket_holder(s3, name)
        found = "free" if holder is None else f"held by {holder}"
        run.add("bucket-name-available", holder in (None, "the data account"), [cfg.bucket_arn(role)], found)


def _bucket_holder(s3: Any, name: str) -> str | None:
    """``None`` if no bucket has this name (HeadBucket 404); otherwise another account holds it (200 or 403)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket"):
            return None
        if code in ("403", "AccessDenied"):
            return "another account"
        raise UsageError(f"s3:ListBucket (HeadBucket) on bucket {name} failed: {code}") from exc
    except BotoCoreError as exc:
        raise UsageError(f"s3:ListBucket (HeadBucket) on bucket {name} failed: {exc}") from exc
    return "another account"


def _trail_quota(run: _Run) -> None:
    from enclave.audit.common import call

    cfg = run.cfg
    trails = call(run.client("cloudtrail"), "DescribeTrails", f"trails in {cfg.region}", includeShadowTrails=False)
    names = [t.get("Name") for t in trails.get("trailList", [])]
    ok = cfg.trail_name in names or len(names) < CLOUDTRAIL_TRAILS_PER_REGION
    run.add("trail-quota", ok, [cfg.trail_arn], f"{len(names)} trail(s) in {cfg.region}")


CHECKS: tuple[Callable[[_Run], None], ...] = (
    _region_enabled,
    _no_default_vpc,
    _principals,
    _operator_role,
    _bucket_names,
    _trail_quota,
)


def run_checks(cfg: Any, session: Any, operator_session: Any | None = None) -> list:
    """Every prerequisite check, in a stable order (read-only calls only)."""
    run = _Run(cfg, session, operator_session)
    for check in CHECKS:
        check(run)
    return sorted(run.results, key=lambda r: (r.id, r.resources))


# --------------------------------------------------------------------------- the report


def build_report(*, stack: str, cfg: Any, account: str, timestamp: str, results: list) -> dict:
    """The audit's report layout and digest, with this command's format name."""
    from enclave.audit import report as rep

    report = rep.build(
        stack=stack,
        site=cfg.site,
        account=account,
        region=cfg.region,
        operator=cfg.operator_account_id,
        timestamp=timestamp,
        results=results,
    )
    report["format"] = FORMAT
    report["digest"] = {"algorithm": "sha256", "value": hashlib.sha256(rep.canonical_json(report)).hexdigest()}
    return report


def to_text(report: dict) -> str:
    from enclave.audit import report as rep

    return rep.to_text(report).replace("enclave audit:", "enclave preflight:", 1)


def to_markdown(report: dict) -> str:
    from enclave.audit import report as rep

    text = rep.to_markdown(report).replace("# Residency audit:", "# Preflight:", 1)
    head, _, tail = text.partition("\n## Checks\n")
    digest_note = tail[tail.index("The digest covers") :] if "The digest covers" in tail else ""
    checks = ["## Prerequisites", "", "| Check | What it verifies |", "|---|---|"]
    checks += [f"| `{p.id}` | {p.title} |" for p in PREREQUISITES.values()]
    return "\n".join([head.rstrip("\n"), "", *checks, "", digest_note.rstrip("\n"), ""])


def run(args: argparse.Namespace) -> int:
    from enclave.audit import report as rep
    from enclave.audit.common import caller_account, load_site, session_in

    cfg = load_site(args.stack, args.config)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a directory")
    session = session_in(cfg)
    operator_session = session_in(cfg, args.operator_profile) if args.operator_profile else None
    try:
        account = caller_account(session, cfg, cfg.data_account_id, "data account (dataAccountId)")
        if operator_session is not None:
            caller_account(operator_session, cfg, cfg.operator_account_id, "operator account (operatorAccountId)")
    except UsageError as exc:
        if cfg.region in OPT_IN_REGIONS:
            raise UsageError(
                f"{exc}; {cfg.region} is an opt-in region: if it is not enabled for the account, STS there "
                f"rejects every credential (check: aws account get-region-opt-status --region-name {cfg.region})"
            ) from exc
        raise
    timestamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    results = run_checks(cfg, session, operator_session)
    report = build_report(stack=args.stack, cfg=cfg, account=account, timestamp=timestamp, results=results)
    render = {"text": to_text, "json": rep.to_json, "markdown": to_markdown}[args.format]
    sys.stdout.write(render(report))
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "preflight.json").write_text(rep.to_json(report), encoding="utf-8")
            (args.out / "preflight.md").write_text(to_markdown(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--out {args.out}: cannot write the report ({exc.strerror})") from exc
    return EXIT_FAIL if report["summary"]["failed"] else EXIT_OK
