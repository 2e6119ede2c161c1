"""Per-resource exceptions: reviewed, expiring waivers of one policy, suppressed in the pack and listed offline."""

from __future__ import annotations

import datetime
import json

import pytest
from policy_support import CONFIG, FOREIGN, check, check_stack, doc, res, site
from residency_rules import clock, exceptions, identity, reviewed

from enclave.check import evaluate

TODAY = datetime.date(2026, 6, 1)
UNREVIEWED = "aws:appflow/flow:Flow"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def waiver(resource: str, expires: str = "2026-12-31", **kw) -> dict:
    return {
        "resource": resource,
        "reason": "reviewed in DPO-42",
        "approver": "privacy-office",
        "expires": expires,
        **kw,
    }


def with_exceptions(policy, *entries: dict) -> dict:
    return {**(CONFIG.get(policy.name) or {}), "exceptions": list(entries)}


def record():
    sink: list = []
    token = exceptions.SUPPRESSED.set(sink)
    return sink, token


@pytest.mark.parametrize(
    "pattern", ["flows", f"urn:pulumi:dublin::eu-data-enclave::{UNREVIEWED}::flows", "flow*", "*::flows"]
)
def test_an_unexpired_exception_suppresses_the_policy_on_the_resources_it_names(pattern):
    config = with_exceptions(reviewed.POLICY, waiver(pattern, ticket="DPO-42"))
    sink, token = record()
    try:
        assert check(reviewed.POLICY, UNREVIEWED, {}, name="flows", config=config) == []
        assert check(reviewed.POLICY, UNREVIEWED, {}, name="other", config=config) != []
    finally:
        exceptions.SUPPRESSED.reset(token)
    assert len(sink) == 1 and sink[0][2] == waiver(pattern, ticket="DPO-42") and "not a type" in sink[0][0]


@pytest.mark.parametrize("expires", [TODAY.isoformat(), "2027-01-01"])
def test_an_exception_holds_through_its_expiry_date(expires):
    config = with_exceptions(reviewed.POLICY, waiver("flows", expires))
    assert check(reviewed.POLICY, UNREVIEWED, {}, name="flows", config=config) == []


@pytest.mark.parametrize(
    "expires,expected",
    [("2026-05-31", "expired on 2026-05-31, approved by privacy-office"), ("someday", "not a YYYY-MM-DD")],
)
def test_an_expired_or_undated_exception_is_itself_a_violation_and_suppresses_nothing(expires, expected):
    config = with_exceptions(reviewed.POLICY, waiver("flows", expires))
    messages = check(reviewed.POLICY, UNREVIEWED, {}, name="flows", config=config)
    assert len(messages) == 2 and expected in messages[0], messages
    assert "not a type" in messages[1]
    # Even a resource that no longer violates the policy is reported: the stale waiver needs review.
    assert len(check(reviewed.POLICY, "aws:sqs/queue:Queue", {}, name="flows", config=config)) == 1


def test_an_exception_of_one_policy_does_not_waive_another():
    foreign = res(
        "aws:s3/bucketPolicy:BucketPolicy",
        {
            "bucket": "enclave-dublin-user-data-111111111111",
            "policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
                    "Action": "s3:GetObject",
                    "Resource": "*",
                }
            ),
        },
        name="partner-read",
    )
    waived = with_exceptions(identity.POLICY, waiver("partner-read"))
    assert check_stack(identity.POLICY, site(foreign), waived) == []
    assert check_stack(identity.POLICY, site(foreign))
    other = with_exceptions(reviewed.POLICY, waiver("partner-read"))
    assert check_stack(identity.POLICY, site(foreign), {**CONFIG["identity-perimeter"], **other}) == []
    del other["exceptions"]
    assert check_stack(identity.POLICY, site(foreign), {**CONFIG["identity-perimeter"], **other})


def test_a_stack_policy_reports_an_expired_exception_on_the_resource_it_names():
    stack = site()
    config = with_exceptions(identity.POLICY, waiver("bucket", "2020-01-01"))
    found = check_stack(identity.POLICY, stack, config)
    assert [u for _m, u in found] == [stack[1].urn] and "expired on 2020-01-01" in found[0][0]


def test_offline_evaluation_lists_what_an_exception_suppressed(program_run):
    run = program_run("dublin")
    shipped = json.loads(json.dumps(CONFIG))
    shipped["region-pinned"] = {**shipped["region-pinned"], "allowedRegion": "eu-central-1"}
    plain = [v for v in evaluate(run, shipped) if v.policy == "region-pinned"]
    assert plain and all(v.mandatory for v in plain)
    shipped["region-pinned"]["exceptions"] = [waiver("*")]
    waived = [v for v in evaluate(run, shipped) if v.policy == "region-pinned"]
    assert len(waived) == len(plain)
    assert all(v.enforcement == "excepted" and not v.mandatory and v.exception == waiver("*") for v in waived)
    assert [(v.urn, v.message) for v in waived] == [(v.urn, v.message) for v in plain]
