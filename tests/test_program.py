"""Both stacks' whole programs, under mocks, with their own Pulumi.<stack>.yaml values."""

from __future__ import annotations

import json

import pytest

from components.config import site_config_from_mapping
from tests.conftest import STACKS, stack_config

COMPONENTS = {
    "enclave:site:SiteProviders",
    "enclave:keys:OperatorKey",
    "enclave:audit:AuditTrail",
    "enclave:network:IsolatedNetwork",
    "enclave:gates:SecurityGates",
    "enclave:storage:RegionalStorage",
    "enclave:secrets:PseudonymSecret",
    "enclave:network:DnsFirewall",
    "enclave:account:AccountGuardrails",
    "enclave:exports:TransferExport",
}
NESTED = {"enclave:keys:OperatorKey": "enclave:exports:TransferExport"}
"""Components inside another: the export key is an OperatorKey of the TransferExport."""

# Resources that hold data, keys or evidence: deleting one loses data or the audit record.
DATA_BEARING = {
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:cloudtrail/trail:Trail",
    "aws:secretsmanager/secret:Secret",
}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_builds_every_component_once(program_run, stack):
    run = program_run(stack)
    types = [r.type for r in run.resources if not r.custom]
    assert sorted(types) == sorted([*COMPONENTS, *NESTED])


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_resource_uses_a_site_provider_in_the_site_region(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    providers = {r.urn: r for r in run.of_type("pulumi:providers:aws")}
    assert {p.name for p in providers.values()} == {f"{cfg.name_prefix}-data", f"{cfg.name_prefix}-operator"}
    for prov in providers.values():
        assert prov.inputs["region"] == cfg.region, prov.urn
    for res in run.resources:
        if not res.type.startswith("aws:"):
            continue
        assert res.provider_urn in providers, f"{res.urn} is not on a site provider: {res.provider!r}"
        assert run.effective_region(res) == cfg.region, res.urn


@pytest.mark.parametrize("stack", STACKS)
def test_providers_are_pinned_to_their_accounts_with_residency_tags(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    by_name = {r.name: r for r in run.of_type("pulumi:providers:aws")}
    data, operator = by_name[f"{cfg.name_prefix}-data"], by_name[f"{cfg.name_prefix}-operator"]
    assert json.loads(data.inputs["allowedAccountIds"]) == [cfg.data_account_id]
    assert json.loads(operator.inputs["allowedAccountIds"]) == [cfg.operator_account_id]
    (assume,) = json.loads(operator.inputs["assumeRoles"])
    assert assume["roleArn"] == cfg.operator_role_arn
    assert "assumeRoles" not in data.inputs
    for prov in (data, operator):
        assert json.loads(prov.inputs["defaultTags"])["tags"] == cfg.residency_tags, prov.urn


@pytest.mark.parametrize("stack", STACKS)
def test_operator_key_is_created_in_the_operator_account(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    keys = run.of_type("aws:kms/key:Key")
    assert {k.name for k in keys} == {f"{cfg.name_prefix}-key-key", f"{cfg.name_prefix}-exports-key-key"}
    for key in keys:
        assert key.provider_urn.endswith(f"::{cfg.name_prefix}-operator"), key.urn
        assert key.outputs["arn"].split(":")[4] == cfg.operator_account_id, key.urn
    for res in run.resources:
        if res.type.startswith("aws:") and res.type not in ("aws:kms/key:Key", "aws:kms/alias:Alias"):
            assert res.provider_urn.endswith(f"::{cfg.name_prefix}-data"), res.urn


@pytest.mark.parametrize("stack", STACKS)
def test_data_bearing_resources_are_protected(program_run, stack):
    run = program_run(stack)
    found = [r for r in run.resources if r.type in DATA_BEARING]
    assert {r.type for r in found} == DATA_BEARING
    for res in found:
        assert res.protect, f"{res.urn} must be protected against deletion"
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        assert not bucket.inputs.get("forceDestroy"), bucket.urn


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_parented_to_a_component(program_run, stack):
    run = program_run(stack)
    components = {r.urn for r in run.resources if not r.custom}
    top = {r.urn for r in run.resources if r.type in COMPONENTS}
    for res in run.resources:
        if res.type in COMPONENTS and res.parent not in top:
            assert "::pulumi:pulumi:Stack::" in res.parent, res.urn
        elif not res.custom:
            assert NESTED.get(res.type) and res.parent in top, f"{res.urn} has parent {res.parent!r}"
        else:
            assert res.parent in components, f"{res.urn} has parent {res.parent!r}"


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_replicates(program_run, stack):
    run = program_run(stack)
    types = {r.type for r in run.resources}
    assert not {t for t in types if "eplicat" in t or "eplica" in t}
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        assert "replicationConfiguration" not in bucket.inputs, bucket.urn
    for key in run.of_type("aws:kms/key:Key"):
        assert key.inputs["multiRegion"] is False, key.urn
    (secret,) = run.of_type("aws:secretsmanager/secret:Secret")
    assert not secret.inputs.get("replicas"), secret.urn


@pytest.mark.parametrize("stack", STACKS)
def test_stack_outputs(program_run, stack):
    run = program_run(stack)
    cfg = site_config_from_mapping(stack_config(stack))
    out = run.stack_outputs
    assert out["site"] == stack and out["region"] == cfg.region
    assert out["sandbox"] is False, "a shipped stack is a site, never a sandbox"
    assert out["dns_firewall_rule_group_id"]
    assert out["data_bucket_name"] == cfg.bucket_name("user-data")
    assert out["audit_log_bucket_name"] == cfg.bucket_name("audit-logs")
    assert out["operator_key_arn"].startswith(f"arn:aws:kms:{cfg.region}:{cfg.operator_account_id}:key/")
    assert out["trail_arn"] == cfg.trail_arn
    assert out["staff_access_role_arn"] == cfg.role_arn("staff-access")
    assert out["s3_endpoint_id"].startswith("vpce-")
    assert len(out["private_subnet_ids"]) == len(cfg.availability_zones)
