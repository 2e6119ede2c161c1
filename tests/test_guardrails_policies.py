"""The guardrails' SCPs and RCPs as documents: grammar, sizes, counts, lint, and the lists they are built from."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore
import pytest
from parliament import analyze_policy_string

from components.clock import format_utc
from components.config import SiteConfigError, site_config_from_mapping
from components.grants import MAX_TRANSFER_GRANTS_IN_FORCE
from enclave.harness import PROJECT_DIR, load_stack_config
from guardrails import resource_control, service_control
from guardrails.config import GuardrailsConfig, guardrails_config_from_mapping, read_site_stack_values
from guardrails.documents import POLICIES_PER_TARGET, POLICY_SIZE_LIMIT, RCP, SCP
from guardrails.documents import policy_documents as site_documents
from guardrails.service_control import compact_json
from tests.grants_fixture import config_with, transfer_grant

STACKS = ("dublin", "hamar")
GUARDRAILS_DIR = PROJECT_DIR / "guardrails"


def guardrails(stack: str) -> GuardrailsConfig:
    """The shipped guardrails stack with its site's (dublin names a CI account, hamar does not)."""
    return guardrails_config_from_mapping(load_stack_config(GUARDRAILS_DIR, stack), read_site_stack_values(stack))


def policy_documents(cfg) -> dict:
    """The documents of a shipped site (``cfg`` a ``SiteConfig``), with its guardrails' CI account."""
    return site_documents(cfg, guardrails(cfg.site).ci_account_id)


# Global condition keys AWS documents that parliament 1.6.4's database predates; the finding
# is suppressed for exactly these keys, nothing else. aws:ViaAWSService (2022) is true on
# requests an AWS service makes with a caller's credentials; aws:VpceAccount (August 2025) is
# the account that owns the VPC endpoint a request came through.
NEWER_GLOBAL_KEYS = {"aws:ViaAWSService", "aws:VpceAccount"}

# Keys a Deny tests with a negated operator on purpose for every action, those that carry them and
# those that do not: a missing key makes the operator true, so the statement denies every action
# that cannot show the pseudonymiser's label or a listing prefix (test_keys_missing_on_purpose...).
MISSING_ON_PURPOSE = {"s3:ExistingObjectTag/enclave:pseudonymised", "s3:prefix"}


@pytest.fixture(params=STACKS)
def cfg(request):
    return site_config_from_mapping(read_site_stack_values(request.param))


def lint(doc: dict) -> list[tuple[str, str]]:
    findings = analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings
    return [
        (f.issue, f.detail)
        for f in findings
        if not (
            f.issue == "UNKNOWN_CONDITION_FOR_ACTION" and f.detail.split()[2] in NEWER_GLOBAL_KEYS | MISSING_ON_PURPOSE
        )
    ]


def listed(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# --------------------------------------------------------------------------- the largest configuration the site allows

LONG_SITE = "s" * 30 + "-1"
"""The longest site name the site's config accepts (32 characters)."""
CI = "666666666666"
SHAPES = ((10, 1), (5, 2), (1, 10))
"""Transfer grants in force as (recipients, grants each): every way to reach the site's bound of 10 that
changes the documents' shape (one statement set per recipient; windows and prefixes per grant)."""


def worst_case_config(recipients: int, per_recipient: int):
    """A site at every bound the documents grow with: the longest site name and prefixes, the most transfer
    grants in force, all in the future (each with its own window, so no statement is shared)."""
    grants = []
    for r in range(recipients):
        for j in range(per_recipient):
            n = len(grants)
            start = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(days=3 * n)
            grants.append(
                transfer_grant(
                    recipientAccountId=f"9{r:011d}",
                    prefix=f"exports/{'p' * 59}-{r}{j:02d}/",
                    ticket=f"XFERLONGPROJECT-{9999999900 + n}",
                    notBefore=format_utc(start),
                    notAfter=format_utc(start + timedelta(days=1, seconds=-1)),
                )
            )
    return config_with(transfers=grants, site=LONG_SITE)


def worst_case_sizes() -> dict[str, int]:
    """The largest size of each document over every shape of the bound (by short name)."""
    sizes: dict[str, int] = {}
    for shape in SHAPES:
        cfg = worst_case_config(*shape)
        for name, (_k, _d, doc) in site_documents(cfg, CI).items():
            short = name.removeprefix(f"{cfg.name_prefix}-")
            sizes[short] = max(sizes.get(short, 0), len(compact_json(doc)))
    return sizes


def test_the_worst_case_is_at_every_bound_of_the_sites_config():
    """Not a weaker case: the site refuses an eleventh grant, a longer prefix or a longer site name."""
    for shape in SHAPES:
        cfg = worst_case_config(*shape)
        assert len(cfg.transfer_grants_in_force) == MAX_TRANSFER_GRANTS_IN_FORCE
        assert all(len(g.prefix) == 72 and g.not_before > cfg.as_of for g in cfg.transfer_grants_in_force)
    with pytest.raises(SiteConfigError):
        config_with(transfers=[transfer_grant(prefix=f"exports/{'p' * 64}/")])
    with pytest.raises(SiteConfigError):
        config_with(site=LONG_SITE + "x")
    eleven = [
        transfer_grant(recipientAccountId=f"9{i:011d}", prefix=f"exports/r{i}/", ticket=f"XF-{i + 1}")
        for i in range(11)
    ]
    with pytest.raises(SiteConfigError, match="at most 10"):
        config_with(transfers=eleven)


def test_every_document_fits_with_the_most_grants_the_site_allows():
    for short, size in worst_case_sizes().items():
        assert size <= POLICY_SIZE_LIMIT, f"{short}: {size} characters at the site's bounds > {POLICY_SIZE_LIMIT}"


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


def test_the_documents_with_grants_lint_clean_too():
    """Every statement form the grants add (prefixes, before, gap, after; two recipients, one with two prefixes)."""
    grants = [
        transfer_grant(notBefore="2026-05-01T00:00:00Z", notAfter="2026-05-10T00:00:00Z"),
        transfer_grant(ticket="XFER-78", prefix="exports/acme-second/", notBefore="2026-05-20T00:00:00Z"),
        transfer_grant(ticket="XFER-79", recipientAccountId="888888888888", prefix="exports/other-lab/"),
    ]
    documents = site_documents(config_with(transfers=grants), CI)
    assert any("NotInGap1Of" in compact_json(doc) for _k, _d, doc in documents.values())
    for name, (_kind, _, doc) in documents.items():
        assert lint(doc) == [], f"{name}: {lint(doc)}"


def test_keys_missing_on_purpose_are_only_negated_in_denies():
    """The lint suppression above holds only where a missing key must deny: negated operators of Deny statements."""
    seen = set()
    for shape in SHAPES:
        for _kind, _, doc in site_documents(worst_case_config(*shape), CI).values():
            for st in doc["Statement"]:
                for operator, block in st.get("Condition", {}).items():
                    for key in set(block) & MISSING_ON_PURPOSE:
                        assert st["Effect"] == "Deny" and operator in ("StringNotEquals", "StringNotLike"), st["Sid"]
                        seen.add(key)
    assert seen == MISSING_ON_PURPOSE


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
    assert region["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": cfg.region},
        "ArnNotEquals": {"aws:PrincipalArn": cfg.role_arn("auditor")},
    }
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
    # The services admitted for one account setting only: the site may register nothing else of them.
    setting_types = {
        "ssm": {"aws:ssm/serviceSetting:ServiceSetting"},
        "elasticmapreduce": {"aws:emr/blockPublicAccessConfiguration:BlockPublicAccessConfiguration"},
    }
    assert set(setting_types) == set(service_control.REVIEWED_FOR_ONE_SETTING)
    for stack in STACKS:
        for res in program_run(stack).resources:
            if res.custom and res.type.startswith("aws:"):
                module = res.type.split(":")[1].split("/")[0]
                prefix = module_to_prefix.get(module, module)
                assert prefix in reviewed, f"{res.type} is not in a reviewed service"
                assert res.type in setting_types.get(prefix, {res.type}), (
                    f"{res.type}: {prefix} is reviewed only for its account setting; review the rest of it first"
                )


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
    worst = worst_case_sizes()
    for short in sizes["dublin"]:
        row = f"| {sizes['dublin'][short]:,} | {sizes['hamar'][short]:,} | {worst[short]:,} | {POLICY_SIZE_LIMIT:,} |"
        assert f"`enclave-<site>-{short}`" in doc and row in doc, f"docs: update the size row of {short} to {row}"
    for name, (prefix, exempt, why) in service_control.GLOBAL_ENDPOINT_SERVICES.items():
        assert f"| `{name}` | `{prefix}` | {'**yes**' if exempt else 'no'} | {why} |" in doc, name
    for service, why in service_control.REVIEWED_SERVICES.items():
        assert f"| `{service}` | {why} |" in doc, service
