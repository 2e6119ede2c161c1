"""Staff access grants: no standing access; each grant a reviewed, time-boxed trust statement."""

from __future__ import annotations

import json
import logging

import pytest
from parliament import analyze_policy_string

from components import clock
from components import security_gates as gates
from components.config import SiteConfigError, site_config_from_mapping
from components.grants import (
    NO_STANDING_ACCESS,
    ObservedGrant,
    policy_chars,
    staff_grants_in_trust_policy,
    staff_trust_statement,
    unexplained_allows,
)
from enclave.check import evaluate, policy_config_from_stack
from enclave.harness import HarnessError, run_program
from tests.grants_fixture import AT, STAFF, config_with, k, staff_grant, values_with

KEY = k("staffAccessGrants")
ROLE = "aws:iam/role:Role"


def problems(staff: list, **keys) -> list[str]:
    with pytest.raises(SiteConfigError) as err:
        config_with(staff=staff, **keys)
    return err.value.problems


def one_problem(staff: list, **keys) -> str:
    found = problems(staff, **keys)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- config errors, one rule each


def test_a_valid_grant_is_accepted_and_judged_at_the_fixed_clock():
    cfg = config_with(staff=[staff_grant()])
    (grant,) = cfg.staff_access_grants
    assert grant.ticket == "PRIV-1234" and grant.principal == STAFF["dublin"]
    assert cfg.evaluated_at == AT and cfg.staff_grants_in_force == (grant,)
    assert grant.as_config() == staff_grant()


def test_grants_must_be_a_list_of_mappings():
    values = values_with()
    values[KEY] = "PRIV-1234"
    with pytest.raises(SiteConfigError) as err:
        site_config_from_mapping(values, now=AT)
    assert err.value.problems == [
        f"{KEY}: 'PRIV-1234' is not a YAML list of grant mappings; see docs/grants.md for the form"
    ]
    assert one_problem(["PRIV-1234"]).startswith(f"{KEY}[0]: 'PRIV-1234' is not a mapping of principal, ticket")


@pytest.mark.parametrize("field", ["principal", "ticket", "approver", "reason", "notBefore", "notAfter"])
def test_every_field_is_required(field):
    msg = one_problem([staff_grant(**{field: None})])
    assert msg.startswith(f"{KEY}[0].{field}: missing; expected ")


def test_an_unknown_field_is_refused():
    msg = one_problem([staff_grant(expires="2026-05-04T16:00:00Z")])
    assert msg.startswith(f"{KEY}[0].expires: unknown field (value '2026-05-04T16:00:00Z'); the fields are principal")


def test_the_principal_must_be_an_approved_staff_principal():
    other = "arn:aws:iam::111111111111:role/some-administrator"
    msg = one_problem([staff_grant(principal=other)])
    assert msg.startswith(f"{KEY}[0].principal: {other!r} is not one of eu-data-enclave:staffPrincipals")
    assert one_problem([staff_grant(principal="alice")]).startswith(f"{KEY}[0].principal: 'alice' is invalid")


@pytest.mark.parametrize(
    ("principal", "approver"),
    [
        ("arn:aws:iam::111111111111:user/alice", "alice@platform.example"),
        ("arn:aws:iam::111111111111:user/alice.smith", "alice-smith+grants@platform.example"),
        ("arn:aws:iam::111111111111:user/staff/Alice@platform.example", "alice@platform.example"),
        ("arn:aws:iam::111111111111:role/trust-and-safety-oncall", "trust.and.safety.oncall@platform.example"),
    ],
)
def test_a_grant_is_never_approved_by_its_own_principal(principal, approver):
    staff = json.dumps(sorted({principal, STAFF["dublin"]}))
    msg = one_problem([staff_grant(principal=principal, approver=approver)], staffPrincipals=staff)
    assert msg.startswith(f"{KEY}[0].approver: {approver!r} names the principal {principal!r} itself")
    assert "approved by another person" in msg


def test_someone_else_may_approve():
    staff = json.dumps(["arn:aws:iam::111111111111:user/alice", STAFF["dublin"]])
    cfg = config_with(
        staff=[staff_grant(principal="arn:aws:iam::111111111111:user/alice", approver="bob@platform.example")],
        staffPrincipals=staff,
    )
    assert cfg.staff_access_grants[0].approver == "bob@platform.example"


@pytest.mark.parametrize("approver", ["dana", "dana@", "Dana Lead <dana@platform.example>", "arn:aws:iam::1:user/d"])
def test_the_approver_is_an_email(approver):
    assert one_problem([staff_grant(approver=approver)]).startswith(f"{KEY}[0].approver: {approver!r} is invalid")


def test_the_approver_is_a_person_of_the_platform():
    msg = one_problem([staff_grant(approver="dana@gmail.example")])
    assert msg.startswith(f"{KEY}[0].approver: 'dana@gmail.example' is not a person of the platform")
    assert "eu-data-enclave:platformApproverDomains (platform.example)" in msg


def test_email_case_does_not_matter():
    grant = staff_grant(approver="Dana.Lead@Platform.Example")
    assert config_with(staff=[grant]).staff_access_grants[0].approver == "Dana.Lead@Platform.Example"


def test_grants_need_the_platform_domains():
    values = values_with(staff=[staff_grant()])
    del values[k("platformApproverDomains")]
    with pytest.raises(SiteConfigError) as err:
        site_config_from_mapping(values, now=AT)
    (msg,) = err.value.problems
    assert msg.startswith(f"{k('platformApproverDomains')}: missing; grants need it")


@pytest.mark.parametrize("ticket", ["PRIV1234", "priv-1234", "PRIV-", "P-1", "PRIV-0012", "PRIV-12 ", 1234])
def test_the_ticket_has_the_sites_form(ticket):
    msg = one_problem([staff_grant(ticket=ticket)])
    assert msg.startswith(f"{KEY}[0].ticket: {ticket!r} is invalid; expected a ticket id like PRIV-1234")


def test_tickets_are_unique():
    msg = one_problem([staff_grant(), staff_grant(notBefore="2026-05-04T09:00:00Z")])
    assert msg.startswith(f"{KEY}[1].ticket: 'PRIV-1234' is already the ticket of {KEY}[0]")


def test_tickets_must_not_share_a_statement_id():
    msg = one_problem([staff_grant(ticket="AB-12"), staff_grant(ticket="AB1-2")])
    assert msg.startswith(f"{KEY}[1].ticket: 'AB1-2' gives the same statement id GrantAB12 as {KEY}[0]")


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-05-04T08:00:00+01:00",  # not UTC
        "2026-05-04T08:00:00",  # no zone
        "2026-05-04T08:00:00.000Z",  # fractions
        "2026-05-04",  # a date
        "2026-05-04 08:00:00Z",  # no T
        "2026-02-30T08:00:00Z",  # no such day
    ],
)
def test_times_are_rfc3339_utc(stamp):
    msg = one_problem([staff_grant(notBefore=stamp)])
    assert msg.startswith(f"{KEY}[0].notBefore: {stamp!r} is invalid; expected an RFC 3339 UTC timestamp")


def test_plus_zero_is_utc_too():
    cfg = config_with(staff=[staff_grant(notBefore="2026-05-04T08:00:00+00:00")])
    assert clock.format_utc(cfg.staff_access_grants[0].not_before) == "2026-05-04T08:00:00Z"


def test_the_window_must_end_after_it_starts():
    msg = one_problem([staff_grant(notAfter="2026-05-04T08:00:00Z")])
    assert msg.startswith(f"{KEY}[0].notAfter: '2026-05-04T08:00:00Z' is not after notBefore '2026-05-04T08:00:00Z'")


def test_the_window_is_eight_hours_at_most_by_default():
    config_with(staff=[staff_grant(notAfter="2026-05-04T16:00:00Z")])  # exactly eight: accepted
    msg = one_problem([staff_grant(notAfter="2026-05-04T16:00:01Z")])
    assert msg.startswith(
        f"{KEY}[0].notAfter: the window 2026-05-04T08:00:00Z to 2026-05-04T16:00:01Z is 8.00028 hours"
    )
    assert "expected at most 8 hours (staffAccessMaxHours)" in msg


def test_the_longest_window_is_configurable_within_limits():
    long = staff_grant(notAfter="2026-05-04T20:00:00Z")
    assert config_with(staff=[long], staffAccessMaxHours="12").staff_access_max_hours == 12
    for hours in ("13", "0"):
        msg = one_problem([], staffAccessMaxHours=hours)
        assert msg == f"{k('staffAccessMaxHours')}: {int(hours)} is invalid; expected an integer from 1 to 12 (hours)"


def test_the_trust_policy_must_fit_the_accounts_quota():
    four = [staff_grant(ticket=f"PRIV-{i}") for i in range(1, 5)]
    msg = one_problem(four)
    assert msg.startswith(f"{KEY}: the 4 grants in force make a trust policy of ")
    assert "expected at most eu-data-enclave:trustPolicyQuota (2048)" in msg
    cfg = config_with(staff=four, trustPolicyQuota="4096")
    assert policy_chars(gates.staff_access_trust_policy(cfg)) <= 4096


@pytest.mark.parametrize("quota", ["100", "9000"])
def test_the_quota_is_within_what_aws_offers(quota):
    msg = one_problem([staff_grant()], trustPolicyQuota=quota)
    assert msg.startswith(f"{k('trustPolicyQuota')}: {int(quota)} is invalid; expected the account's IAM quota")


def test_at_most_ten_grants_at_once():
    eleven = [staff_grant(ticket=f"PRIV-{i}") for i in range(1, 12)]
    found = problems(eleven, trustPolicyQuota="8192")
    assert found == [
        f"{KEY}: 11 grants are in force at 2026-05-04T09:00:00Z; expected at most 10 at once (the policy documents "
        "they become must stay under AWS's size limits): drop or end some"
    ]


def test_every_problem_is_reported_at_once():
    found = problems(
        [staff_grant(ticket="bad"), staff_grant(approver="x@elsewhere.example", notAfter="2027-01-01T00:00:00Z")]
    )
    assert [p.split(":", 2)[1].split(" ")[0] for p in found] == [
        "staffAccessGrants[0].ticket",
        "staffAccessGrants[1].approver",
        "staffAccessGrants[1].notAfter",
    ]


def test_a_malformed_fixed_clock_is_a_config_error(monkeypatch):
    monkeypatch.setenv(clock.ENV, "tomorrow")
    with pytest.raises(SiteConfigError) as err:
        site_config_from_mapping(values_with(staff=[staff_grant()]))
    assert err.value.problems[0].startswith("ENCLAVE_NOW: 'tomorrow' is not an RFC 3339 UTC timestamp")


def test_a_bad_grant_registers_no_resource(monkeypatch):
    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))
    with pytest.raises(HarnessError) as err:
        run_program("dublin", config=values_with(staff=[staff_grant(approver="dana")]))
    assert f"{KEY}[0].approver: 'dana' is invalid" in str(err.value)
    assert err.value.resources == []


# --------------------------------------------------------------------------- the trust, and expiry by the clock


def test_each_grant_in_force_is_its_own_statement_and_nothing_else():
    first = staff_grant()
    second = staff_grant(
        principal="arn:aws:iam::111111111111:role/privacy-engineering",
        ticket="DSR-88",
        notBefore="2026-05-04T10:00:00Z",  # not begun yet at 09:00: in the trust, its window waits
        notAfter="2026-05-04T12:00:00Z",
    )
    cfg = config_with(staff=[first, second])
    doc = gates.staff_access_trust_policy(cfg)
    assert [s["Sid"] for s in doc["Statement"]] == ["GrantPRIV1234", "GrantDSR88"]
    assert doc["Statement"] == [staff_trust_statement(g, "eu-west-1") for g in cfg.staff_access_grants]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111111111111:role/privacy-engineering"}
    assert doc["Statement"][1]["Condition"]["DateGreaterThanEquals"] == {"aws:CurrentTime": "2026-05-04T10:00:00Z"}


@pytest.mark.parametrize(
    ("now", "in_force"),
    [("2026-05-04T16:00:00Z", True), ("2026-05-04T16:00:01Z", False), ("2026-05-03T00:00:00Z", True)],
)
def test_an_expired_grant_drops_out_of_the_trust(now, in_force):
    cfg = site_config_from_mapping(values_with(staff=[staff_grant()]), now=clock.parse_utc(now))
    doc = gates.staff_access_trust_policy(cfg)
    if in_force:
        assert [s["Sid"] for s in doc["Statement"]] == ["GrantPRIV1234"]
    else:
        assert doc["Statement"] == [NO_STANDING_ACCESS]
        assert [s["Sid"] for s in gates.staff_access_policy(cfg, "arn:aws:kms:k")["Statement"]] == ["OperatorKeyViaS3"]
    assert len(cfg.staff_access_grants) == 1, "an expired grant is still declared (and reported), not an error"


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_grant_trust_policies_lint_clean(stack):
    cfg = config_with(stack, staff=[staff_grant(stack)])
    for doc in (gates.staff_access_trust_policy(cfg), gates.staff_access_trust_policy(config_with(stack))):
        findings = analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
        issues = [(f.issue, f.detail) for f in findings]
        # A trust policy has no Resource by design (see tests/test_security_gates.py).
        assert set(issues) <= {("MALFORMED", "Statement contains neither Resource nor NotResource")}, issues


# --------------------------------------------------------------------------- the whole program, with grants


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_program_with_grants_trusts_exactly_them_and_passes_the_pack(stack, fixed_clock, caplog):
    expired = staff_grant(stack, ticket="PRIV-1", notBefore="2026-05-03T08:00:00Z", notAfter="2026-05-03T12:00:00Z")
    values = values_with(stack, staff=[staff_grant(stack), expired])
    with caplog.at_level(logging.INFO):
        run = run_program(stack, config=values)
    (role,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == f"enclave-{stack}-staff-access"]
    cfg = site_config_from_mapping(values, now=AT)
    assert json.loads(role.inputs["assumeRolePolicy"]) == gates.staff_access_trust_policy(cfg), role.urn
    assert [s["Sid"] for s in json.loads(role.inputs["assumeRolePolicy"])["Statement"]] == ["GrantPRIV1234"]
    assert run.stack_outputs["staff_access_grants_in_force"] == [staff_grant(stack)]
    assert run.stack_outputs["staff_access_grants_expired"] == [expired]
    assert any("staff grant PRIV-1 " in m and "expired at 2026-05-03T12:00:00Z" in m for m in caplog.messages)
    assert any("staff grant PRIV-1234 in force" in m for m in caplog.messages)
    assert evaluate(run, policy_config_from_stack(run.config, run.project)) == []


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_shipped_program_reports_no_grants(stack, program_run):
    outputs = program_run(stack).stack_outputs
    for name in ("staff_access_grants_in_force", "staff_access_grants_expired"):
        assert outputs[name] == [], name


# --------------------------------------------------------------------------- reading grants back (reviewers, auditor)


def test_grants_are_read_back_from_a_trust_policy():
    cfg = config_with(staff=[staff_grant()])
    doc = json.dumps(gates.staff_access_trust_policy(cfg))
    assert staff_grants_in_trust_policy(doc) == [
        ObservedGrant(
            sid="GrantPRIV1234",
            principal=STAFF["dublin"],
            ticket="PRIV-1234",
            prefix="",
            not_before="2026-05-04T08:00:00Z",
            not_after="2026-05-04T16:00:00Z",
        )
    ]
    assert staff_grants_in_trust_policy(gates.staff_access_trust_policy(config_with())) == []


def test_a_trust_no_grant_explains_is_flagged():
    cfg = config_with(staff=[staff_grant()])
    expected = [staff_trust_statement(g, cfg.region) for g in cfg.staff_access_grants]
    doc = gates.staff_access_trust_policy(cfg)
    assert unexplained_allows(doc, expected) == []
    # AWS hands documents back normalised: one-item lists as strings, other orders, other Sids.
    live = json.loads(json.dumps(doc))
    live["Statement"][0]["Sid"] = "Renamed"
    live["Statement"][0]["Action"] = ["sts:TagSession", "sts:AssumeRole"]
    live["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] = "access-ticket"
    assert unexplained_allows(live, expected) == []
    standing = {"Effect": "Allow", "Principal": {"AWS": STAFF["dublin"]}, "Action": "sts:AssumeRole"}
    widened = json.loads(json.dumps(doc))
    widened["Statement"][0]["Condition"]["DateLessThanEquals"]["aws:CurrentTime"] = "2026-12-31T00:00:00Z"
    live["Statement"] += [standing, widened["Statement"][0]]
    assert unexplained_allows(live, expected) == [standing, widened["Statement"][0]]


def test_unquoted_timestamps_in_a_stack_file_are_read_as_the_cli_reads_them(tmp_path):
    """YAML reads ``notAfter: 2026-05-04T16:00:00Z`` as a date; Pulumi's CLI passes the text, so must the harness."""
    from enclave.harness import PROJECT_DIR, load_stack_config

    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    grant = "\n".join(f"      {key}: {value}" for key, value in staff_grant().items()).replace(
        "      principal", "    - principal"
    )
    stack = (PROJECT_DIR / "Pulumi.dublin.yaml").read_text()
    stack += f"  eu-data-enclave:platformApproverDomains: [platform.example]\n  eu-data-enclave:staffAccessGrants:\n{grant}\n"
    (tmp_path / "Pulumi.dublin.yaml").write_text(stack)
    assert "notAfter: 2026-05-04T16:00:00Z" in stack, "the timestamps are unquoted"
    (read,) = site_config_from_mapping(load_stack_config(tmp_path, "dublin"), now=AT).staff_access_grants
    assert clock.format_utc(read.not_after) == "2026-05-04T16:00:00Z"
