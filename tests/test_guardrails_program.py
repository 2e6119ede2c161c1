"""The guardrails program as the engine receives it, against the site program it protects and the residency pack."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
import yaml

from components.config import site_config_from_mapping
from enclave.check import check_stack
from enclave.harness import PROJECT_DIR, HarnessError, list_stacks, load_stack_config, run_program
from guardrails import config as guardrails_config
from guardrails.config import GuardrailsConfigError, guardrails_config_from_mapping, read_site_stack_values
from guardrails.documents import RCP, SCP, policy_documents
from guardrails.resource_control import EC2_INFRASTRUCTURE_ROLE, network_perimeter_policy
from guardrails.service_control import compact_json, gates_policy, site_iam_patterns

GUARDRAILS_DIR = PROJECT_DIR / "guardrails"
STACKS = ("dublin", "hamar")
POLICY_TYPE = "aws:organizations/policy:Policy"
ATTACHMENT_TYPE = "aws:organizations/policyAttachment:PolicyAttachment"
PROVIDER_TYPE = "pulumi:providers:aws"

_RUNS: dict[str, object] = {}


def guardrails_run(stack: str):
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack, GUARDRAILS_DIR)
    return _RUNS[stack]


def site_config(stack: str):
    return site_config_from_mapping(read_site_stack_values(stack))


def guardrails_values(stack: str) -> dict:
    return load_stack_config(GUARDRAILS_DIR, stack)


def documents(stack: str) -> dict:
    """The documents of a shipped stack: its site's config and its guardrails' CI account."""
    cfg = guardrails_config_from_mapping(guardrails_values(stack), read_site_stack_values(stack))
    return policy_documents(cfg.site, cfg.ci_account_id)


# --------------------------------------------------------------------------- what the engine receives


def test_the_guardrails_have_a_stack_for_every_site_stack_and_no_other():
    assert list_stacks(GUARDRAILS_DIR) == list_stacks(PROJECT_DIR) == sorted(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_one_explicit_provider_pinned_to_the_policy_administrator_and_the_site_region(stack):
    run = guardrails_run(stack)
    cfg = site_config(stack)
    providers = run.of_type(PROVIDER_TYPE)
    assert len(providers) == 1, [p.urn for p in providers]
    (provider,) = providers
    assert provider.inputs["region"] == cfg.region
    assert json.loads(provider.inputs["allowedAccountIds"]) == [
        guardrails_values(stack)[f"{guardrails_config.PROJECT}:managementAccountId"]
    ]
    assert json.loads(provider.inputs["defaultTags"]) == {"tags": cfg.residency_tags}
    for res in run.resources:
        if res.custom and res.type != PROVIDER_TYPE:
            assert res.provider_urn == provider.urn, f"{res.urn}: provider {res.provider!r}"


@pytest.mark.parametrize("stack", STACKS)
def test_each_policy_is_sent_byte_for_byte_and_attached_once_to_the_data_account(stack):
    run = guardrails_run(stack)
    cfg = site_config(stack)
    expected = documents(stack)
    policies = {r.inputs["name"]: r for r in run.of_type(POLICY_TYPE)}
    assert set(policies) == set(expected)
    attachments = run.of_type(ATTACHMENT_TYPE)
    for name, (kind, description, doc) in expected.items():
        rec = policies[name]
        assert rec.inputs["type"] == kind and rec.inputs["description"] == description, rec.urn
        assert rec.inputs["content"] == compact_json(doc), f"{rec.urn}: content differs from the tested document"
        assert rec.protect, f"{rec.urn}: a guardrail must be protected"
        attached = [a for a in attachments if a.inputs["policyId"] == rec.id]
        assert len(attached) == 1, f"{rec.urn}: attached {len(attached)} times"
        assert attached[0].inputs["targetId"] == cfg.data_account_id and attached[0].protect, attached[0].urn
    assert len(attachments) == len(expected)
    assert {kind for kind, _, _ in expected.values()} == {SCP, RCP}


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_name_what_the_audit_checks(stack):
    outputs = guardrails_run(stack).stack_outputs
    values = guardrails_values(stack)
    assert outputs["organization_id"] == values[f"{guardrails_config.PROJECT}:organizationId"]
    assert outputs["target_id"] == site_config(stack).data_account_id
    assert set(outputs["policy_ids"]) == set(documents(stack))


# --------------------------------------------------------------------------- the names the guardrails protect are the site's


def _arn_of(res) -> str:
    return res.outputs.get("arn", "")


@pytest.mark.parametrize("stack", STACKS)
def test_the_gates_scp_protects_every_role_and_policy_the_site_creates(stack, program_run):
    """Run the site program and match its IAM resources' ARNs against what the SCP protects."""
    site = program_run(stack)
    cfg = site_config(stack)
    gates = {st["Sid"]: st for st in gates_policy(cfg)["Statement"]}
    protected = gates["OnlyDeployerChangesSiteRoles"]["Resource"]
    assert protected == site_iam_patterns(cfg)
    iam = [r for r in site.resources if r.type in ("aws:iam/role:Role", "aws:iam/policy:Policy")]
    assert len(iam) >= 4, [r.urn for r in iam]
    for res in iam:
        assert any(fnmatch.fnmatchcase(_arn_of(res), p) for p in protected), (
            f"{res.urn}: {_arn_of(res)} is not protected"
        )
    # The deployer is frozen by its own statement (no exception), and is the site's deployer.
    assert gates["NobodyInsideChangesOrBecomesDeployer"]["Resource"] == cfg.deployment_role_arn
    for sid in ("OnlyDeployerChangesSiteRoles", "OnlyDeployerChangesAccountGates"):
        assert gates[sid]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": cfg.deployment_role_arn}}
    # The staff principals' trust is protected by name; none of them is mistaken for a site role.
    assert gates["OnlyDeployerChangesStaffTrust"]["Resource"] == [a for a in cfg.staff_principals if ":role/" in a]


@pytest.mark.parametrize("stack", STACKS)
def test_the_rcp_exceptions_are_roles_the_site_creates(stack, program_run):
    outputs = program_run(stack).stack_outputs
    cfg = site_config(stack)
    (statement,) = network_perimeter_policy(cfg)["Statement"]
    excepted = statement["Condition"]["ArnNotLikeIfExists"]["aws:PrincipalArn"]
    site_roles = {outputs["staff_access_role_arn"], outputs["auditor_role_arn"]}
    assert set(excepted) == site_roles | {cfg.deployment_role_arn, EC2_INFRASTRUCTURE_ROLE}
    assert outputs["workload_role_arn"] not in excepted, "the workload reaches data only through the site's endpoints"


@pytest.mark.parametrize("stack", STACKS)
def test_the_site_program_uses_no_principal_the_identity_perimeter_refuses(stack, program_run):
    """Every account a site trust policy names may assume roles under the RCP."""
    from guardrails.resource_control import principal_accounts

    cfg = site_config(stack)
    allowed = set(principal_accounts(cfg))
    for res in program_run(stack).of_type("aws:iam/role:Role"):
        trust = json.loads(res.inputs["assumeRolePolicy"])
        # Only an Allow lets anyone in (the staff trust without a grant is one Deny for "*").
        for st in (s for s in trust["Statement"] if s["Effect"] == "Allow"):
            for arn in (
                [st["Principal"]["AWS"]]
                if isinstance(st["Principal"].get("AWS"), str)
                else st["Principal"].get("AWS", [])
            ):
                assert arn.split(":")[4] in allowed, f"{res.urn}: trusts {arn}, which the RCP would refuse"


# --------------------------------------------------------------------------- configuration


def _good(stack: str = "dublin") -> tuple[dict, dict]:
    return guardrails_values(stack), read_site_stack_values(stack)


def test_the_shipped_config_validates():
    for stack in STACKS:
        got = guardrails_config_from_mapping(*_good(stack))
        assert got.site == site_config(stack) and got.target_is_account


def test_every_problem_is_reported_at_once():
    values, site = _good()
    p = guardrails_config.PROJECT
    values = {
        **values,
        f"{p}:managementAccountId": site["eu-data-enclave:dataAccountId"],
        f"{p}:organizationId": "org-1",
        f"{p}:targetId": "123",
        f"{p}:colour": "blue",
        "eu-data-enclave:region": "eu-west-1",
        "aws:region": "us-east-1",
    }
    with pytest.raises(GuardrailsConfigError) as err:
        guardrails_config_from_mapping(values, site)
    text = str(err.value)
    for needle in (
        "managementAccountId",
        "organizationId",
        "targetId",
        "colour",
        "eu-data-enclave:region",
        "aws:region",
    ):
        assert needle in text, f"{needle} not reported:\n{text}"
    assert len(err.value.problems) == 6


def test_the_data_account_can_administer_nothing_of_its_own_guardrails():
    values, site = _good()
    p = guardrails_config.PROJECT
    data = site["eu-data-enclave:dataAccountId"]
    for key, value in (("policyAdministratorAccountId", data), ("targetId", "222222222222")):
        with pytest.raises(GuardrailsConfigError, match=key):
            guardrails_config_from_mapping({**values, f"{p}:{key}": value}, site)
    with pytest.raises(GuardrailsConfigError, match="auditor"):
        guardrails_config_from_mapping(
            {**values, f"{p}:policyAdministratorAccountId": site["eu-data-enclave:auditorAccountId"]}, site
        )
    ou = guardrails_config_from_mapping({**values, f"{p}:targetId": "ou-ab12-cd34ef56"}, site)
    assert ou.target_id == "ou-ab12-cd34ef56" and not ou.target_is_account


def test_a_bad_site_stack_is_reported_as_the_sites(tmp_path):
    site = dict(read_site_stack_values("dublin"))
    site["eu-data-enclave:region"] = "us-east-1"
    with pytest.raises(GuardrailsConfigError, match="the site's stack file: eu-data-enclave:region"):
        guardrails_config_from_mapping(guardrails_values("dublin"), site)
    with pytest.raises(GuardrailsConfigError, match="create the site stack first"):
        read_site_stack_values("madrid", tmp_path)


def test_a_bad_config_registers_nothing():
    values = {**guardrails_values("dublin"), f"{guardrails_config.PROJECT}:organizationId": "nope"}
    with pytest.raises(HarnessError, match="organizationId") as err:
        run_program("dublin", GUARDRAILS_DIR, config=values)
    assert err.value.resources == []


def test_pulumi_yaml_documents_exactly_the_keys_read():
    declared = yaml.safe_load((GUARDRAILS_DIR / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == {name for name, _, _ in guardrails_config.CONFIG_KEYS}
    for name, spec in declared.items():
        assert spec["type"] == "string" and spec["description"], name


def test_the_ci_account_is_validated_like_every_other_key():
    values, site = _good()
    key = f"{guardrails_config.PROJECT}:ciAccountId"
    cfg = guardrails_config_from_mapping({**values, key: "666666666666"}, site)
    assert cfg.ci_account_id == "666666666666"
    assert guardrails_config_from_mapping({**values, key: ""}, site).ci_account_id is None
    with pytest.raises(GuardrailsConfigError, match=r"ciAccountId: '6666' is invalid; expected the 12-digit id"):
        guardrails_config_from_mapping({**values, key: "6666"}, site)
    refused = {
        "eu-data-enclave:dataAccountId": "the site's data account",
        "eu-data-enclave:operatorAccountId": "the operator's key account",
        "eu-data-enclave:auditorAccountId": "the auditor's account",
    }
    for site_key, why in refused.items():
        with pytest.raises(GuardrailsConfigError, match=why):
            guardrails_config_from_mapping({**values, key: site[site_key]}, site)
    management = values[f"{guardrails_config.PROJECT}:managementAccountId"]
    with pytest.raises(GuardrailsConfigError, match="the account that holds the guardrails"):
        guardrails_config_from_mapping({**values, key: management}, site)
    staff = {**site, "eu-data-enclave:staffPrincipals": json.dumps(["arn:aws:iam::666666666666:role/oncall"])}
    with pytest.raises(GuardrailsConfigError, match="a staff principal's account"):
        guardrails_config_from_mapping({**values, key: "666666666666"}, staff)


def test_a_recipient_is_never_the_pipeline():
    from tests.grants_fixture import DOMAIN, transfer_grant

    values, site = _good()
    site = {
        **site,
        "eu-data-enclave:platformApproverDomains": json.dumps([DOMAIN]),
        "eu-data-enclave:transferGrants": json.dumps([transfer_grant(recipientAccountId="666666666666")]),
    }
    with pytest.raises(GuardrailsConfigError, match="a transfer recipient's account"):
        guardrails_config_from_mapping({**values, f"{guardrails_config.PROJECT}:ciAccountId": "666666666666"}, site)


def test_documents_that_would_not_fit_are_refused_before_anything_is_built():
    """Staff principals are not bounded by the site's config; too many would outgrow the gates SCP."""
    values, site = _good()
    many = [f"arn:aws:iam::111111111111:role/staff-{'x' * 40}-{i:03d}" for i in range(100)]
    site = {**site, "eu-data-enclave:staffPrincipals": json.dumps(many)}
    with pytest.raises(
        GuardrailsConfigError, match=r"enclave-dublin-gates: the site's configuration makes it \d+ characters"
    ):
        guardrails_config_from_mapping(values, site)


def _site_dir_with(tmp_path, monkeypatch, stack: str, **changes) -> None:
    """A copy of the site's stack file with ``changes`` (site keys), which the guardrails program then reads."""
    data = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    data["config"].update({f"eu-data-enclave:{key}": value for key, value in changes.items()})
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(guardrails_config, "SITE_PROGRAM_DIR", tmp_path)


def test_a_sandboxs_guardrails_can_be_torn_down(tmp_path, monkeypatch):
    """The same documents, attached the same way, but not protected: the operator destroys them after the trial."""
    _site_dir_with(tmp_path, monkeypatch, "dublin", sandbox=True)
    run = run_program("dublin", GUARDRAILS_DIR)
    guarded = [r for r in run.resources if r.type in (POLICY_TYPE, ATTACHMENT_TYPE)]
    assert len(guarded) == 2 * len(documents("dublin")) and not any(r.protect for r in guarded)
    policies = {r.inputs["name"]: r.inputs["content"] for r in run.of_type(POLICY_TYPE)}
    assert policies == {name: compact_json(doc) for name, (_k, _d, doc) in documents("dublin").items()}


def test_the_program_with_transfer_grants_and_a_ci_account_passes_the_pack(tmp_path, monkeypatch):
    from components import clock
    from enclave.check import evaluate
    from tests.grants_fixture import AT, DOMAIN, RECIPIENT, transfer_grant

    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))
    _site_dir_with(tmp_path, monkeypatch, "dublin", platformApproverDomains=[DOMAIN], transferGrants=[transfer_grant()])
    run = run_program("dublin", GUARDRAILS_DIR)
    contents = {r.inputs["name"]: r.inputs["content"] for r in run.of_type(POLICY_TYPE)}
    assert RECIPIENT in contents["enclave-dublin-transfers"] and "666666666666" in contents["enclave-dublin-identity"]
    config = json.loads((GUARDRAILS_DIR / "policy" / "config" / "dublin.json").read_text())
    assert [v for v in evaluate(run, config) if v.mandatory] == []


def test_the_audit_can_tell_a_stale_deploy_from_a_foreign_one():
    """After a grant expires the attached documents still name it (inert) until the operator deploys again."""
    from guardrails.documents import deployable_contents
    from tests.grants_fixture import RECIPIENT, config_with, transfer_grant

    ended = transfer_grant(ticket="XFER-70", notBefore="2026-04-01T00:00:00Z", notAfter="2026-04-30T00:00:00Z")
    cfg = config_with(transfers=[transfer_grant(), ended])
    contents = deployable_contents(cfg, "666666666666")
    now = policy_documents(cfg, "666666666666")
    for name, (_k, _d, doc) in now.items():
        assert contents[name][0] == compact_json(doc), "the first content is the current one"
    assert len(contents["enclave-dublin-transfers"]) == 2 and len(contents["enclave-dublin-gates"]) == 1
    stale = contents["enclave-dublin-transfers"][1]
    assert RECIPIENT in stale and "2026-04-30T00:00:00Z" in stale, "the deploy made while XFER-70 was in force"


# --------------------------------------------------------------------------- the residency pack


@pytest.mark.parametrize("stack", STACKS)
def test_the_residency_pack_evaluates_the_guardrails(stack):
    _run, violations = check_stack(stack, GUARDRAILS_DIR)
    assert [v for v in violations if v.mandatory] == []
    assert {v.policy for v in violations} == set(), "nothing excepted or advisory either"


def test_audit_on_stays_disabled_because_no_exception_can_waive_it():
    """The pack's exceptions suppress a violation on a named resource; audit-on's finding for a stack without a
    trail names none, so a reviewed exception cannot replace the disabled level (docs/guardrails.md)."""
    from enclave.check import evaluate

    run = guardrails_run("dublin")
    config = json.loads((GUARDRAILS_DIR / "policy" / "config" / "dublin.json").read_text())
    waiver = {"resource": "*", "reason": "no trail of its own", "approver": "operator", "expires": "2099-12-31"}
    config["audit-on"] = {"exceptions": [waiver]}
    (finding,) = [v for v in evaluate(run, config) if v.policy == "audit-on"]
    assert finding.mandatory and "no CloudTrail trail" in finding.message and not finding.urn
    del config["audit-on"]
    assert [v.policy for v in evaluate(run, config)] == ["audit-on"], "without the disabled level only audit-on fails"


@pytest.mark.parametrize("stack", STACKS)
def test_the_guardrails_policy_config_is_the_sites_plus_the_management_account(stack):
    cfg = site_config(stack)
    doc = json.loads((GUARDRAILS_DIR / "policy" / "config" / f"{stack}.json").read_text())
    site_doc = json.loads((PROJECT_DIR / "policy" / "config" / f"{stack}.json").read_text())
    trusted = doc["region-pinned"].pop("trustedAccounts")
    site_trusted = site_doc["region-pinned"].pop("trustedAccounts", [])
    assert doc.pop("audit-on") == {"enforcementLevel": "disabled"}
    assert doc == site_doc, "the guardrails' pack config must match the site's (region, accounts, tags)"
    management = guardrails_values(stack)[f"{guardrails_config.PROJECT}:managementAccountId"]
    *others, entry = trusted
    assert others == site_trusted, "the site's own trusted accounts (transfer recipients), then the management account"
    assert entry["accountId"] == management and entry["reason"]
    run = guardrails_run(stack)
    names = {r.name for r in run.resources if r.custom}
    assert set(entry["resources"]) == names, "trust the management account for exactly the guardrails' resources"
    assert cfg.region == doc["region-pinned"]["allowedRegion"]


def test_enclave_check_runs_the_guardrails_program(capsys):
    from enclave.cli import main

    code = main(["check", "--program", str(GUARDRAILS_DIR), "--all", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert [s["stack"] for s in report["stacks"]] == list(STACKS)
    assert all(s["resources"] == 14 for s in report["stacks"]), report
    assert code == 0


def test_the_program_imports_the_shared_components_under_the_cli_too():
    """The CLI runs __main__.py with cwd guardrails/ and only that dir on sys.path: the file adds the repo root."""
    text = (GUARDRAILS_DIR / "__main__.py").read_text()
    assert "Path(__file__).resolve().parent.parent" in text
    assert Path(guardrails_config.SITE_PROGRAM_DIR) == PROJECT_DIR
