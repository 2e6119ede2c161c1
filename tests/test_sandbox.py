"""A sandbox (eu-data-enclave:sandbox: true) can be torn down, and is otherwise the same site."""

from __future__ import annotations

import pytest

from components.audit_trail import SANDBOX_RETENTION_DAYS
from components.config import site_config_from_mapping
from components.operator_key import SANDBOX_DELETION_WINDOW_DAYS
from tests import records
from tests.conftest import STACKS, stack_config

# What a sandbox may change, by type and input; every other input of every resource is the site's.
TEARDOWN_INPUTS = {
    "aws:s3/bucket:Bucket": {"forceDestroy"},
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": {"rule"},
    "aws:s3/bucketPolicy:BucketPolicy": {"policy"},
    "aws:kms/key:Key": {"deletionWindowInDays"},
    "aws:secretsmanager/secret:Secret": {"recoveryWindowInDays"},
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation": {"mutationProtection"},
}


@pytest.fixture
def sandbox_run():
    return records.sandbox_run("dublin")


def test_nothing_is_protected_and_buckets_empty_themselves(sandbox_run):
    assert sandbox_run.stack_outputs["sandbox"] is True
    assert [r.urn for r in sandbox_run.resources if r.protect] == []
    buckets = sandbox_run.of_type("aws:s3/bucket:Bucket")
    assert len(buckets) == 4 and all(b.inputs["forceDestroy"] is True for b in buckets)


def test_audit_log_is_locked_in_governance_mode_for_one_day(sandbox_run):
    (lock,) = sandbox_run.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": SANDBOX_RETENTION_DAYS}


def test_key_secret_and_dns_association_can_be_deleted(sandbox_run):
    keys = sandbox_run.of_type("aws:kms/key:Key")
    assert len(keys) == 2, "the data key and the export key"
    assert all(key.inputs["deletionWindowInDays"] == SANDBOX_DELETION_WINDOW_DAYS == 7 for key in keys)
    (secret,) = sandbox_run.of_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["recoveryWindowInDays"] == 0
    (association,) = sandbox_run.of_type(
        "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
    )
    assert association.inputs["mutationProtection"] == "DISABLED", "AWS refuses to delete a protected association"


def test_a_sandbox_is_the_same_site_but_for_teardown(sandbox_run, program_run):
    """Same resources, providers, regions and settings (keys, isolation, DNS firewall, blocks) as the site."""
    site = {(r.type, r.name): r for r in program_run("dublin").resources}
    sandbox = {(r.type, r.name): r for r in sandbox_run.resources}
    assert set(sandbox) == set(site)
    for ident, rec in sandbox.items():
        twin = site[ident]
        assert rec.provider == twin.provider and rec.parent == twin.parent, rec.urn
        assert sandbox_run.effective_region(rec) == program_run("dublin").effective_region(twin), rec.urn
        changed = {k for k in set(rec.inputs) | set(twin.inputs) if rec.inputs.get(k) != twin.inputs.get(k)}
        assert changed <= TEARDOWN_INPUTS.get(rec.type, set()), f"{rec.urn}: {sorted(changed)}"


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_sites_not_sandboxes(stack):
    cfg = site_config_from_mapping(stack_config(stack))
    assert cfg.sandbox is False
    assert stack_config(stack)["eu-data-enclave:sandbox"] == "false", "the stack file must not opt in"
