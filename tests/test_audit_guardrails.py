"""The audit's guardrails family against a moto organization: the compliant estate passes, each drift of the
organization, its policies or the deployment role fails exactly its checks, and what the data account may not
see is reported as unverified, with what would make it visible.

moto models Organizations but enforces none of it; ``tests.aws_unmodelled`` adds what AWS does with that state
(SCPs in effect, the policy simulator, who may read the policies), so a detached SCP really makes the simulator
answer "allowed" and the probe succeed.
"""

from __future__ import annotations

import json

import pytest

from enclave.audit.base import UNVERIFIED
from enclave.audit.guardrails import SCP_PROBES, probe_context
from tests import aws_unmodelled
from tests.conftest import stack_config
from tests.estate import (
    NEAR_REGIONS,
    AccountSession,
    Answering,
    assert_fails_exactly,
    audit,
    audit_as,
    aws_environment,
    build_estate,
    config_with_grants,
    denied_by_scp,
    failing,
)
from tests.test_guardrails_matrix import ALLOWED, DENIED, SCP_CASES, denied_by, scps

aws_env = pytest.fixture(aws_environment)


@pytest.fixture
def estate(aws_env):
    return build_estate(config_with_grants(stack_config("dublin")))


def _results(results, check_id):
    return [r for r in results if r.id == check_id]


# --------------------------------------------------------------------------- the probes are the matrix's


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_each_probe_is_a_cell_of_the_guardrails_matrix_denied_by_exactly_its_policy(stack):
    """A probe's expectation is the matrix's for the deployer, and one SCP alone decides it: detaching that
    policy (and only that one) turns the probe around."""
    from components.config import site_config_from_mapping

    cfg = site_config_from_mapping(stack_config(stack))
    documents = dict(zip(("perimeter", "gates", "no-way-out"), scps(cfg), strict=True))
    for probe in SCP_PROBES:
        requests, (_, deployer) = SCP_CASES[probe.attempt]
        assert any(r.action == probe.action and r.resource(cfg) == probe.resource(cfg) for r in requests), probe
        assert deployer == (DENIED if probe.policy else ALLOWED), probe
        context = probe_context(cfg, probe)
        deciding = {
            short for short, doc in documents.items() if denied_by([doc], probe.action, probe.resource(cfg), context)
        }
        assert deciding == ({probe.policy} if probe.policy else set()), probe
    # Every SCP of the site has probes of its own.
    assert {p.policy for p in SCP_PROBES} == {"", *documents}


# --------------------------------------------------------------------------- drifts


def _detach(e, short: str):
    name = f"{e.cfg.name_prefix}-{short}"
    e.management.client("organizations").detach_policy(PolicyId=e.policy_ids[name], TargetId=e.cfg.data_account_id)
    return name


def _rewrite(e, short: str, change) -> str:
    name = f"{e.cfg.name_prefix}-{short}"
    orgs = e.management.client("organizations")
    content = orgs.describe_policy(PolicyId=e.policy_ids[name])["Policy"]["Content"]
    orgs.update_policy(PolicyId=e.policy_ids[name], Content=change(json.loads(content)))
    return name


def _no_way_out_detached(e):
    return _detach(e, "no-way-out")


def _perimeter_detached(e):
    return _detach(e, "perimeter")


def _identity_rcp_detached(e):
    return _detach(e, "identity")


def _gates_lets_the_account_become_the_deployer(e):
    def drop(doc):
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "NobodyInsideChangesOrBecomesDeployer"]
        return json.dumps(doc, separators=(",", ":"))

    return _rewrite(e, "gates", drop)


def _gates_pretty_printed(e):
    # The same statements, re-submitted by hand with indentation: not what the program wrote.
    return _rewrite(e, "gates", lambda doc: json.dumps(doc, indent=2))


def _full_aws_access_detached(e):
    e.management.client("organizations").detach_policy(PolicyId="p-FullAWSAccess", TargetId=e.cfg.data_account_id)
    return e.cfg.deployment_role_arn


def _deployer_trusts_an_administrator(e):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OpsBreakGlass",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{e.cfg.data_account_id}:role/ops-admin"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = e.cfg.deployment_role_arn.rsplit("/", 1)[-1]
    e.client("iam").update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    return e.cfg.deployment_role_arn


def _deployer_trusts_ec2(e):
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    name = e.cfg.deployment_role_arn.rsplit("/", 1)[-1]
    e.client("iam").update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    return e.cfg.deployment_role_arn


DRIFTS = [
    ("SCP detached", _no_way_out_detached, {"guardrails-attached", "guardrails-effective-scp"}),
    (
        "perimeter SCP detached",
        _perimeter_detached,
        {"guardrails-attached", "guardrails-effective-scp", "guardrails-effective-perimeter-probe"},
    ),
    ("RCP detached", _identity_rcp_detached, {"guardrails-attached"}),
    (
        "SCP content changed: the account may become the deployer",
        _gates_lets_the_account_become_the_deployer,
        {"guardrails-attached", "guardrails-effective-scp"},
    ),
    ("SCP content re-serialised by hand", _gates_pretty_printed, {"guardrails-attached"}),
    ("FullAWSAccess detached: the deployer's changes refused", _full_aws_access_detached, {"guardrails-effective-scp"}),
    ("deployer trust names a data-account role", _deployer_trusts_an_administrator, {"guardrails-deployer-trust"}),
    ("deployer trust names an AWS service", _deployer_trusts_ec2, {"guardrails-deployer-trust"}),
]


@pytest.mark.parametrize(("drift", "expected"), [(d[1], d[2]) for d in DRIFTS], ids=[d[0] for d in DRIFTS])
def test_each_guardrails_drift_fails_exactly_its_checks(estate, drift, expected):
    assert_fails_exactly(estate, drift, expected)


def test_a_detached_scp_is_named_with_the_requests_it_no_longer_denies(estate):
    _no_way_out_detached(estate)
    results = audit(estate, other_regions=NEAR_REGIONS)
    (effective,) = [r for r in _results(results, "guardrails-effective-scp") if r.status == "fail"]
    assert "ec2:CreateInternetGateway on * (open a network path out): allowed by organizations" in effective.found
    (attached,) = [r for r in _results(results, "guardrails-attached") if r.status == "fail"]
    assert attached.found.startswith("SERVICE_CONTROL_POLICY not attached to arn:aws:organizations::999999999999:")


def test_an_organization_without_all_features_holds_no_guardrail(aws_env):
    """With consolidated billing only, AWS refuses every SCP and RCP attachment and enforces none."""
    estate = build_estate(config_with_grants(stack_config("dublin")), feature_set="CONSOLIDATED_BILLING")
    failed = failing(audit(estate, other_regions=NEAR_REGIONS))
    assert set(failed) == {
        "guardrails-organization",
        "guardrails-attached",
        "guardrails-effective-scp",
        "guardrails-effective-perimeter-probe",
    }
    (org,) = [r for r in _results(audit(estate, other_regions=NEAR_REGIONS), "guardrails-organization")]
    assert "feature set CONSOLIDATED_BILLING" in org.found


# --------------------------------------------------------------------------- what the data account cannot see


def test_without_the_delegation_the_attached_policies_are_unverified_not_passed(aws_env):
    estate = build_estate(config_with_grants(stack_config("dublin")), delegated=False)
    results = audit(estate, other_regions=NEAR_REGIONS)
    assert failing(results) == {}
    (attached,) = _results(results, "guardrails-attached")
    assert attached.status == UNVERIFIED
    assert "organizations:ListPoliciesForTarget denied" in attached.found
    assert "resource-based delegation policy" in attached.fix and "arn:aws:iam::111111111111:root" in attached.fix
    # What the data account can see still proves the SCPs in effect.
    assert {r.status for r in _results(results, "guardrails-effective-scp")} == {"pass"}


def test_without_a_guardrails_stack_the_organization_checks_fail(estate):
    results = audit(estate, other_regions=NEAR_REGIONS, guardrails=None, guardrails_source="guardrails/Pulumi.x.yaml")
    assert set(failing(results)) == {"guardrails-organization", "guardrails-attached"}
    assert all("guardrails/Pulumi.x.yaml is missing" in r.found for r in results if r.status == "fail")


# --------------------------------------------------------------------------- under the guardrails as they are


class UnderGuardrails(AccountSession):
    """The auditor role's session, every call subject to the SCPs attached to its account (as AWS does)."""

    def __init__(self, region: str, account: str, principal: str):
        super().__init__(region, account)
        self.principal = principal
        self.made: dict = {}

    def client(self, service, region_name=None):
        key = (service, region_name)
        if key not in self.made:
            self.made[key] = aws_unmodelled.enforce_scps(self.new_client(service, region_name), self.principal)
        return self.made[key]


def _audit_under_guardrails(estate):
    cfg = estate.cfg
    session = UnderGuardrails(cfg.region, cfg.data_account_id, cfg.role_arn("auditor"))
    return audit_as(estate, session, other_regions=NEAR_REGIONS)


def test_under_the_shipped_guardrails_every_region_is_inventoried(estate):
    """The perimeter SCP lets the auditor role alone run the audit's listings elsewhere: nothing is unverified."""
    results = _audit_under_guardrails(estate)
    assert failing(results) == {}
    assert [r.id for r in results if r.status == UNVERIFIED] == []


def _without_the_auditor_exemption(doc: dict) -> str:
    """The perimeter as an operator who never deployed the auditor's exemption would have it."""
    doc["Statement"] = [s for s in doc["Statement"] if not s["Sid"].startswith("Auditor")]
    for statement in doc["Statement"]:
        # Both denies then bind the auditor like everyone else.
        if statement["Sid"] == "DenyServicesNotReviewed":
            del statement["Condition"]
        if statement["Sid"] == "DenyOutsideSiteRegion":
            del statement["Condition"]["ArnNotEquals"]
    return json.dumps(doc, separators=(",", ":"))


def test_without_the_auditor_exemption_other_regions_are_unverified_and_say_why(estate):
    """An SCP that denies the auditor's inventory outside the site region: the audit says the guardrail is in
    force there, and that what the region holds could not be listed (not a pass, not a failure)."""
    name = _rewrite(estate, "perimeter", _without_the_auditor_exemption)
    results = _audit_under_guardrails(estate)
    # The content is no longer the program's: that is the one failure.
    assert set(failing(results)) == {"guardrails-attached"}
    assert [r.resources[0] for r in results if r.id == "guardrails-attached" and r.status == "fail"] == [
        f"organizations policy {name}"
    ]
    unverified = {r.id: r for r in results if r.status == UNVERIFIED}
    assert set(unverified) == {"region-no-site-data", "s3-no-multi-region-access-point", "ram-no-resource-shares"}
    shares = unverified["ram-no-resource-shares"]
    assert shares.found.startswith("not readable: a service control policy denies ram:GetResourceShares")
    assert "ram:GetResourceShareAssociations" in shares.fix and estate.cfg.role_arn("auditor") in shares.fix
    region = unverified["region-no-site-data"]
    assert region.resources == [f"account {estate.cfg.data_account_id} (us-east-1)"]
    assert region.found.startswith("not readable: a service control policy denies ")
    assert "the guardrails' region deny is in force there" in region.found
    assert "tag:GetResources" in region.found and "dynamodb:ListTables" in region.found
    assert estate.cfg.role_arn("auditor") in region.fix
    assert "us-west-2" in unverified["s3-no-multi-region-access-point"].found


def test_the_auditor_exemption_lets_nobody_else_inventory_and_the_auditor_nothing_more(estate):
    """The shipped exemption: an administrator's listings elsewhere stay denied, and so do the auditor's data reads."""
    cfg = estate.cfg
    admin = f"arn:aws:iam::{cfg.data_account_id}:role/AWSReservedSSO_AdministratorAccess_0123"
    context = {"aws:RequestedRegion": "us-east-1", "aws:PrincipalArn": admin}
    for action in ("tag:GetResources", "dynamodb:ListTables", "kms:ListKeys", "s3:ListMultiRegionAccessPoints"):
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", context) == "explicitDeny", action
    auditor = {**context, "aws:PrincipalArn": cfg.role_arn("auditor")}
    for action in ("tag:GetResources", "kms:ListKeys", "s3:ListMultiRegionAccessPoints"):
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", auditor) != "explicitDeny", action
    for action in ("dynamodb:GetItem", "kms:Decrypt", "lambda:GetAccountSettings", "s3:GetObject"):
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", auditor) == "explicitDeny", action
    # Resource Access Manager stays denied to everyone but the auditor's two listings, in the site region only.
    at_home = {"aws:RequestedRegion": cfg.region}
    for action in ("ram:GetResourceShares", "ram:GetResourceShareAssociations"):
        assert aws_unmodelled.scp_decision(
            cfg.data_account_id, action, "*", {**at_home, "aws:PrincipalArn": admin}
        ) == ("explicitDeny"), action
        home = {**at_home, "aws:PrincipalArn": cfg.role_arn("auditor")}
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", home) != "explicitDeny", action
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", auditor) == "explicitDeny", action
    for action in ("ram:CreateResourceShare", "ram:AssociateResourceShare", "ram:GetPermission"):
        home = {**at_home, "aws:PrincipalArn": cfg.role_arn("auditor")}
        assert aws_unmodelled.scp_decision(cfg.data_account_id, action, "*", home) == "explicitDeny", action


def test_data_found_where_a_service_control_policy_hides_other_listings_fails(estate):
    """An SCP that hides some listings cannot make a region pass: what could be listed is judged."""
    estate.client("kms", region="us-east-1").create_key()

    cfg = estate.cfg
    rule = ("dynamodb", "us-east-1", "before-call.dynamodb.ListTables", denied_by_scp)
    results = audit_as(estate, Answering(cfg.region, cfg.data_account_id, rule), other_regions=NEAR_REGIONS)
    (region,) = _results(results, "region-no-site-data")
    assert region.status == "fail"
    assert "a service control policy denies dynamodb:ListTables in us-east-1" in region.found
    assert "1 data-bearing resource(s): arn:aws:kms:us-east-1:111111111111:key/" in region.found


# --------------------------------------------------------------------------- the guardrails config


def test_the_cli_reads_the_guardrails_stack_with_the_guardrails_reader(tmp_path, monkeypatch, capsys):
    from enclave.audit import common
    from enclave.audit.common import load_guardrails, load_site_values
    from enclave.cli import main

    values = load_site_values("dublin", None)
    shipped = load_guardrails("dublin", values)
    assert (shipped.organization_id, shipped.management_account_id, shipped.target_id) == (
        "o-eudataencl01",
        "999999999999",
        "111111111111",
    )
    monkeypatch.setattr(common, "guardrails_file", lambda stack: tmp_path / f"Pulumi.{stack}.yaml")
    assert load_guardrails("dublin", values) is None  # no guardrails stack: the family says so
    # An invalid one is bad input: exit 2 before any AWS call, naming the key.
    (tmp_path / "Pulumi.dublin.yaml").write_text(
        "config:\n  pulumi:disable-default-providers: [aws]\n  eu-data-enclave-guardrails:organizationId: org-1\n"
        "  eu-data-enclave-guardrails:managementAccountId: '999999999999'\n",
        encoding="utf-8",
    )
    assert main(["audit", "--stack", "dublin"]) == 2
    err = capsys.readouterr().err
    assert "eu-data-enclave-guardrails:organizationId" in err and "'org-1' is invalid" in err
