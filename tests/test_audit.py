"""The live audit against a moto estate: compliant passes everything, each drift fails exactly its checks."""

from __future__ import annotations

import re

import pytest

from enclave.audit.checks import (
    ACTIONS_USED,
    CHECKS,
    PENDING_PERMISSIONS,
    READ_PATTERNS,
    REQUIRED_PERMISSIONS,
    granted_as,
    run_checks,
)
from enclave.audit.common import iam_action
from tests.conftest import stack_config
from tests.estate import (
    AccountSession,
    apply_program_documents,
    audit,
    aws_environment,
    build_estate,
    config_with_grants,
    failing,
)

READ_ONLY = re.compile(r"^(Get|List|Describe|Head)[A-Z]")

aws_env = pytest.fixture(aws_environment)


@pytest.fixture
def estate(aws_env):
    """The compliant site with a staff grant and a transfer grant in force (the documents they open)."""
    return build_estate(config_with_grants(stack_config("dublin")))


def test_compliant_estate_passes_every_check(estate):
    results = audit(estate)
    assert failing(results) == {}
    # Every check ran on something, so a pass is not the absence of a check.
    assert {r.id for r in results} == set(CHECKS)
    cfg = estate.cfg
    resources = {a for r in results for a in r.resources}
    for role in ("user-data", "access-logs", "audit-logs"):
        assert cfg.bucket_arn(role) in resources
    assert estate.key_arn in resources
    assert cfg.trail_arn in resources
    assert cfg.role_arn("staff-access") in resources


def test_the_programs_own_documents_pass_the_audit(estate, program_run):
    # What "correct" means comes from the program: its key policy, bucket policies,
    # trust policies, S3 endpoint policy and ACL rules, put on the estate, pass every check.
    applied = apply_program_documents(estate, program_run("dublin"))
    kinds = {urn.split("::")[2].split("$")[-1] for urn in applied}
    assert kinds == {
        "aws:kms/key:Key",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:iam/role:Role",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/networkAcl:NetworkAcl",
    }
    assert failing(audit(estate)) == {}


def test_audit_makes_only_read_only_calls(estate):
    calls: list[tuple] = []

    class Recording(AccountSession):
        def client(self, service, region_name=None):
            client = self.new_client(service, region_name)
            # before-parameter-build fires for every call, before anything can answer it.
            client.meta.events.register(
                "before-parameter-build", lambda model, **_: calls.append((client, model.name)), unique_id="record"
            )
            return client

    # A key in another region: its aliases tell AWS managed keys apart (a conditional call).
    cfg = estate.cfg
    estate.client("kms", region="us-east-1").create_key()
    data = Recording(cfg.region, estate.data.account)
    operator = Recording(cfg.region, estate.operator.account)
    run_checks(cfg, data, cfg.data_account_id, operator)
    assert calls, "no AWS call was recorded"
    assert [name for _, name in calls if not READ_ONLY.match(name)] == []
    # The permissions documented for the auditor role are exactly the ones used, and the
    # grants the role needs follow from them (tests/test_security_gates.py checks the role has them).
    # sts:GetCallerIdentity needs no permission (AWS answers it even under an explicit deny).
    used = {iam_action(client, name) for client, name in calls} - {"sts:GetCallerIdentity"}
    assert sorted(used) == sorted(ACTIONS_USED)
    assert set(PENDING_PERMISSIONS) <= used
    assert sorted({granted_as(a) for a in used - set(PENDING_PERMISSIONS)}) == sorted(REQUIRED_PERMISSIONS)


@pytest.mark.parametrize("pattern", READ_PATTERNS)
def test_each_read_pattern_the_auditor_is_granted_matches_only_reads(pattern):
    import botocore.session

    from enclave.audit.policy import wildcard_match

    prefix, _ = pattern.split(":", 1)
    session = botocore.session.get_session()
    # IAM prefixes and botocore services: s3 actions cover S3 and S3 Control operations.
    services = {"s3": ("s3", "s3control")}.get(prefix, (prefix,))
    matched = [
        op
        for service in services
        for op in session.get_service_model(service).operation_names
        if wildcard_match(pattern, f"{prefix}:{op}")
    ]
    assert matched, f"{pattern} matches no operation"
    assert [op for op in matched if not READ_ONLY.match(op)] == []
    # Where the pattern is granted on Resource "*", that it takes no resource-level grant is
    # parliament's finding on the program's own documents (tests/test_security_gates.py lint).


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_the_auditors_grants_fit_iams_policy_size_limits(stack, program_run):
    # The audit's reads live in the auditor's inline policy and in the permissions
    # boundary: IAM refuses a managed policy over 6,144 characters and a role's inline
    # policies over 10,240 (whitespace not counted), and pulumi up would fail.
    run = program_run(stack)
    (boundary,) = run.of_type("aws:iam/policy:Policy")
    assert len(re.sub(r"\s", "", boundary.inputs["policy"])) <= 6144, boundary.urn
    (auditor,) = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"].endswith("-auditor")]
    assert len(re.sub(r"\s", "", auditor.inputs["policy"])) <= 10240, auditor.urn
