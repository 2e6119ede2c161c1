"""The guardrails' SCPs and RCPs as documents: grammar, sizes, counts, lint, and the lists they are built from."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import botocore
import pytest
from parliament import analyze_policy_string

from components.config import site_config_from_mapping
from guardrails import resource_control, service_control
from guardrails.config import read_site_stack_values
from guardrails.organization_guardrails import POLICIES_PER_TARGET, POLICY_SIZE_LIMIT, RCP, SCP, policy_documents
from guardrails.service_control import compact_json

STACKS = ("dublin", "hamar")

# Global condition keys AWS documents that parliament 1.6.4's database predates; the finding
# is suppressed for exactly these keys, nothing else. aws:ViaAWSService (2022) is true on
# requests an AWS service makes with a caller's credentials; aws:VpceAccount (August 2025) is
# the account that owns the VPC endpoint a request came through.
NEWER_GLOBAL_KEYS = {"aws:ViaAWSService", "aws:VpceAccount"}


@pytest.fixture(params=STACKS)
def cfg(request):
    return site_config_from_mapping(read_site_stack_values(request.param))


def lint(doc: dict) -> list[tuple[str, str]]:
    findings = analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
    return [
        (f.issue, f.detail)
        for f in findings
        if not (f.issue == "UNKNOWN_CONDITION_FOR_ACTION" and f.detail.split()[2] in NEWER_GLOBAL_KEYS)
    ]


def listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# --------------------------------------------------------------------------- AWS's limits


def test_every_document_fits_the_organizations_size_limit(cfg):
    """Organizations stores the text as sent and counts every character (bytes too: all ASCII here)."""
    for name, (_kind, _description, doc) in policy_documents(cfg).items():
        text = compact_json(doc)
        assert len(text.encode()) == len(text), f"{name}: non-ASCII characters"
        assert len(text) <= POLICY_SIZE_LIMIT, f"{name}: {len(text)} characters > {POLICY_SIZE_LIMIT}"
        assert json.loads(text) == doc


def test_the_size_check_measures_what_is_sent():
    """The limit test is not vacuous: the indented form of a document is larger, and a long one would fail."""
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    assert len(compact_json(doc)) < len(json.dumps(doc, indent=2))
    big = {**doc, "Statement": doc["Statement"] * 200}
    assert len(compact_json(big)) > POLICY_SIZE_LIMIT


def test_policies_per_target_leave_room_for_the_aws_managed_one_and_one_more(cfg):
    """At most 5 SCPs and 5 RCPs attach to one target, FullAWSAccess / RCPFullAWSAccess included (the latter cannot be detached)."""
    kinds = [kind for kind, _, _ in policy_documents(cfg).values()]
    for kind in (SCP, RCP):
        attached = kinds.count(kind) + 1  # + the AWS-managed FullAWSAccess / RCPFullAWSAccess
        assert attached <= POLICIES_PER_TARGET - 1, (
            f"{kind}: {attached} attached leaves no slot for the organization's own"
        )


def test_names_and_descriptions_are_within_organizations_limits(cfg):
    for name, (_kind, description, _doc) in policy_documents(cfg).items():
        assert re.fullmatch(r"[\w+=,.@-]{1,128}", name), name
        assert 0 < len(description) <= 512, name


# --------------------------------------------------------------------------- the grammar of each type


def test_scps_use_only_the_grammar_every_partition_accepts(cfg):
    """Deny only, no Principal or NotResource, wildcards only at the end of an action, every statement named."""
    for name, (kind, _, doc) in policy_documents(cfg).items():
        if kind != SCP:
            continue
        assert doc["Version"] == "2012-10-17", name
        for st in doc["Statement"]:
            assert st["Effect"] == "Deny" and st.get("Sid"), f"{name}: {st}"
            assert not {"Principal", "NotPrincipal", "NotResource"} & set(st), f"{name} {st['Sid']}"
            assert ("Action" in st) != ("NotAction" in st), f"{name} {st['Sid']}"
            for action in listed(st.get("Action", st.get("NotAction"))):
                assert "?" not in action and "*" not in action[:-1], f"{name} {st['Sid']}: {action}"


def test_rcps_use_only_the_rcp_grammar_and_supported_services(cfg):
    """Deny only, Principal '*', no NotAction/NotPrincipal, no bare '*' action, only services RCPs apply to."""
    for name, (kind, _, doc) in policy_documents(cfg).items():
        if kind != RCP:
            continue
        for st in doc["Statement"]:
            assert st["Effect"] == "Deny" and st.get("Sid") and st["Principal"] == "*", f"{name}: {st}"
            assert not {"NotAction", "NotPrincipal"} & set(st), f"{name} {st['Sid']}"
            for action in listed(st["Action"]):
                assert action != "*", f"{name} {st['Sid']}"
                assert action.split(":")[0] in resource_control.RCP_SUPPORTED_PREFIXES, f"{name} {st['Sid']}: {action}"


def test_sids_are_unique_within_each_document(cfg):
    for name, (_kind, _, doc) in policy_documents(cfg).items():
        sids = [st["Sid"] for st in doc["Statement"]]
        assert len(sids) == len(set(sids)), f"{name}: {sids}"


# --------------------------------------------------------------------------- lint


def test_every_document_lints_clean_but_for_the_newer_global_keys(cfg):
    for name, (_kind, _, doc) in policy_documents(cfg).items():
        assert lint(doc) == [], f"{name}: {lint(doc)}"


def test_the_suppression_is_narrow():
    """A misspelt key, action or wildcard that matches nothing is still reported."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": ["ec2:CreateInternetGatway", "ec2:CreateTransitGatewya*"], "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:VpceAcount": "111111111111"}},
            },
        ],
    }
    issues = [issue for issue, _ in lint(bad)]
    assert issues.count("UNKNOWN_ACTION") == 2 and "UNKNOWN_CONDITION_FOR_ACTION" in issues, issues


# --------------------------------------------------------------------------- the lists the documents are built from


def _botocore_global_services() -> set[str]:
    path = os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")
    with open(path) as f:
        aws = next(p for p in json.load(f)["partitions"] if p["partition"] == "aws")
    return {
        name
        for name, svc in aws["services"].items()
        if svc.get("partitionEndpoint") or svc.get("isRegionalized") is False
    }


def test_every_globally_served_service_is_decided_with_a_reason():
    """A new global endpoint in botocore fails this test until someone decides whether the region deny exempts it."""
    assert set(service_control.GLOBAL_ENDPOINT_SERVICES) == _botocore_global_services()
    for name, (prefix, _exempt, why) in service_control.GLOBAL_ENDPOINT_SERVICES.items():
        assert prefix and len(why) > 20, name


def test_the_region_deny_exempts_exactly_the_decided_global_services(cfg):
    region = service_control.perimeter_policy(cfg)["Statement"][0]
    assert region["Sid"] == "DenyOutsideSiteRegion"
    assert region["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": cfg.region}}
    exempt_prefixes = {a.split(":")[0] for a in region["NotAction"]}
    decided = {prefix for prefix, exempt, _ in service_control.GLOBAL_ENDPOINT_SERVICES.values() if exempt}
    assert exempt_prefixes == decided == {"iam", "organizations"}
    # No KMS, STS, Route 53, CloudFront or support exemption (Control Tower's region deny has them).
    assert not {"kms", "sts", "route53", "cloudfront", "support"} & exempt_prefixes
    assert [a for a in region["NotAction"] if a.startswith("organizations:")] == [
        "organizations:Describe*",
        "organizations:List*",
    ]


def test_reviewed_services_are_the_ones_the_site_program_registers(program_run):
    """Every AWS service the site program creates resources in is reviewed (else its deployer would be denied)."""
    module_to_prefix = {
        "cloudwatch": "logs",
        "route53": "route53resolver",
        "ebs": "ec2",
        "vpc": "ec2",
        "s3control": "s3",
        "emr": "elasticmapreduce",
    }
    reviewed = set(service_control.REVIEWED_SERVICES)
    for stack in STACKS:
        for res in program_run(stack).resources:
            if res.custom and res.type.startswith("aws:"):
                module = res.type.split(":")[1].split("/")[0]
                assert module_to_prefix.get(module, module) in reviewed, f"{res.type} is not in a reviewed service"


def test_no_way_out_names_only_reviewed_services_and_the_universal_ways_out(cfg):
    """The perimeter refuses every other service; this policy names the ways out of the reviewed ones, RAM, Direct Connect and PrivateLink."""
    allowed = set(service_control.REVIEWED_SERVICES) | {"ram", "directconnect", "vpce", "organizations"}
    for st in service_control.no_way_out_policy(cfg)["Statement"]:
        for action in listed(st["Action"]):
            assert action.split(":")[0] in allowed, f"{st['Sid']}: {action}"


def test_docs_show_the_measured_sizes_and_every_decision():
    """docs/guardrails.md: the size table is what this test measures; every global service and reviewed service is listed."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "guardrails.md").read_text()
    sizes = {
        stack: {
            name.split("-", 2)[2]: len(compact_json(d))
            for name, (_k, _d, d) in policy_documents(site_config_from_mapping(read_site_stack_values(stack))).items()
        }
        for stack in STACKS
    }
    for short in sizes["dublin"]:
        row = f"| {sizes['dublin'][short]:,} | {sizes['hamar'][short]:,} | {POLICY_SIZE_LIMIT:,} |"
        assert f"`enclave-<site>-{short}`" in doc and row in doc, f"docs: update the size row of {short} to {row}"
    for name, (prefix, exempt, why) in service_control.GLOBAL_ENDPOINT_SERVICES.items():
        assert f"| `{name}` | `{prefix}` | {'**yes**' if exempt else 'no'} | {why} |" in doc, name
    for service, why in service_control.REVIEWED_SERVICES.items():
        assert f"| `{service}` | {why} |" in doc, service
