"""Transfer grants and the export bucket: data leaves Europe only pseudonymised, to declared recipients, in a window."""

from __future__ import annotations

import json

import pulumi
import pytest
from parliament import analyze_policy_string

from components import clock
from components.config import SiteConfigError, site_config_from_mapping
from components.grants import (
    ObservedGrant,
    declared_allows,
    policy_chars,
    transfer_bucket_statements,
    transfer_grants_in_policy,
    transfer_key_statement,
    unexplained_allows,
)
from components.transfer_export import (
    TransferExport,
    TransferExportArgs,
    export_bucket_policy,
    export_key_policy,
    export_resource_names,
)
from enclave.check import evaluate, policy_config_from_stack
from enclave.harness import PROJECT_DIR, load_stack_config, run_program
from tests.conftest import settled
from tests.grants_fixture import AT, RECIPIENT, config_with, k, staff_grant, transfer_grant, values_with

KEY = k("transferGrants")
KEY_ARN = "arn:aws:kms:eu-west-1:222222222222:key/0000abcd-12ab-34cd-56ef-1234567890ab"
ENDPOINT = "vpce-0123456789abcdef0"
BUCKET = "arn:aws:s3:::enclave-dublin-exports-111111111111"
WORKLOAD = "arn:aws:iam::111111111111:role/enclave-dublin-workload"


def one_problem(transfers: list, **keys) -> str:
    with pytest.raises(SiteConfigError) as err:
        config_with(transfers=transfers, **keys)
    assert len(err.value.problems) == 1, err.value.problems
    return err.value.problems[0]


def statement(doc: dict, sid: str) -> dict:
    (found,) = [s for s in doc["Statement"] if s.get("Sid") == sid]
    return found


def bucket_policy(cfg) -> dict:
    return export_bucket_policy(cfg, KEY_ARN, ENDPOINT, cfg.transfer_grants_in_force)


# --------------------------------------------------------------------------- config errors, one rule each


def test_a_valid_transfer_grant_is_accepted():
    (grant,) = config_with(transfers=[transfer_grant()]).transfer_grants
    assert (grant.recipient_account_id, grant.prefix, grant.legal_basis) == (RECIPIENT, "exports/acme-research/", "SCC")
    assert grant.as_config() == transfer_grant()
    assert config_with(transfers=[transfer_grant(reason=None)]).transfer_grants[0].reason == ""


@pytest.mark.parametrize(
    "field", ["recipientAccountId", "prefix", "legalBasis", "approver", "ticket", "notBefore", "notAfter"]
)
def test_every_field_but_the_reason_is_required(field):
    assert one_problem([transfer_grant(**{field: None})]).startswith(f"{KEY}[0].{field}: missing; expected ")


@pytest.mark.parametrize(
    ("account_key", "account"),
    [("dataAccountId", "111111111111"), ("operatorAccountId", "222222222222"), ("auditorAccountId", "333333333333")],
)
def test_the_recipient_is_never_one_of_the_sites_accounts(account_key, account):
    msg = one_problem([transfer_grant(recipientAccountId=account)])
    assert msg.startswith(f"{KEY}[0].recipientAccountId: {account!r} is the site's own {account_key}")


@pytest.mark.parametrize("account", ["99999999999", "9999999999999", "acme-research", 999999999999])
def test_the_recipient_is_a_12_digit_account(account):
    msg = one_problem([transfer_grant(recipientAccountId=account)])
    assert msg.startswith(f"{KEY}[0].recipientAccountId: {account!r} is invalid; expected the recipient's 12-digit")


@pytest.mark.parametrize(
    "prefix",
    [
        "exports/acme",
        "exports/../user-data/",
        "exports/",
        "exports//",
        "/exports/acme/",
        "user-data/acme/",
        "exports/Acme/",
        "exports/acme/sub/",
        "exports/acme*/",
        "exports/a b/",
    ],
)
def test_the_prefix_is_one_safe_level_under_exports(prefix):
    msg = one_problem([transfer_grant(prefix=prefix)])
    assert msg.startswith(f"{KEY}[0].prefix: {prefix!r} is invalid; expected a prefix like exports/acme-research/")


@pytest.mark.parametrize("basis", ["consent", "scc", "Art49", "", "legitimate-interest"])
def test_the_legal_basis_is_one_of_the_chapter_v_bases(basis):
    msg = one_problem([transfer_grant(legalBasis=basis)])
    assert msg.startswith(f"{KEY}[0].legalBasis: {basis!r} is invalid; expected one of adequacy, SCC, BCR, art49")


@pytest.mark.parametrize("basis", ["adequacy", "SCC", "BCR", "art49"])
def test_each_basis_is_accepted(basis):
    assert config_with(transfers=[transfer_grant(legalBasis=basis)]).transfer_grants[0].legal_basis == basis


def test_the_approver_is_of_the_platform_not_of_the_recipient():
    msg = one_problem([transfer_grant(approver="lead@acme-research.example")])
    assert msg.startswith(f"{KEY}[0].approver: 'lead@acme-research.example' is not a person of the platform")
    assert "never for the recipient" in msg


def test_the_ticket_has_the_sites_form_and_is_unique():
    assert one_problem([transfer_grant(ticket="xfer-77")]).startswith(f"{KEY}[0].ticket: 'xfer-77' is invalid")
    msg = one_problem([transfer_grant(), transfer_grant(prefix="exports/acme-second/")])
    assert msg.startswith(f"{KEY}[1].ticket: 'XFER-77' is already the ticket of {KEY}[0]")


def test_a_prefix_belongs_to_one_recipient():
    other = transfer_grant(recipientAccountId="888888888888", ticket="XFER-78")
    msg = one_problem([transfer_grant(), other])
    assert msg.startswith(f"{KEY}[1].prefix: 'exports/acme-research/' is already granted to {RECIPIENT} by {KEY}[0]")
    # The same recipient renewing under a new ticket keeps its prefix.
    renewal = transfer_grant(ticket="XFER-90", notBefore="2026-05-30T00:00:00Z", notAfter="2026-06-29T00:00:00Z")
    assert len(config_with(transfers=[transfer_grant(), renewal]).transfer_grants) == 2


def test_the_window_is_31_days_at_most_by_default_and_configurable():
    assert one_problem([transfer_grant(notAfter="2026-06-01T00:00:01Z")]).startswith(
        f"{KEY}[0].notAfter: the window 2026-05-01T00:00:00Z to 2026-06-01T00:00:01Z is 31 days"
    )
    assert config_with(transfers=[transfer_grant(notAfter="2026-06-01T00:00:00Z")]).transfer_grants
    assert config_with(
        transfers=[transfer_grant(notAfter="2026-07-01T00:00:00Z")], transferMaxDays="90"
    ).transfer_grants
    assert one_problem([], transferMaxDays="91") == (
        f"{k('transferMaxDays')}: 91 is invalid; expected an integer from 1 to 90 (days)"
    )
    assert one_problem([transfer_grant(notBefore="2026-05-31T00:00:00Z")]).startswith(
        f"{KEY}[0].notAfter: '2026-05-31T00:00:00Z' is not after notBefore"
    )


def test_the_reason_is_optional_but_short():
    msg = one_problem([transfer_grant(reason="x" * 501)])
    assert msg.startswith(f"{KEY}[0].reason: ") and "is invalid; expected a sentence" in msg


# --------------------------------------------------------------------------- the export bucket policy


def test_without_grants_nobody_outside_the_site_reads_anything():
    doc = bucket_policy(config_with())
    assert not [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    reads = statement(doc, "ObjectReadsOnlyByRecipients")
    assert reads["Principal"] == "*" and "Condition" not in reads, "no recipient: object reads denied to everyone"
    perimeter = statement(doc, "NoAccountOutsideTheSiteOrItsRecipients")
    assert perimeter["Action"] == "s3:*" and perimeter["Resource"] == [BUCKET, f"{BUCKET}/*"]
    assert perimeter["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": ["111111111111"]},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    assert "RecipientsOnlyReadAndList" not in [s["Sid"] for s in doc["Statement"]]


def test_a_grant_opens_exactly_its_prefix_to_its_recipient_in_its_window():
    doc = bucket_policy(config_with(transfers=[transfer_grant()]))
    window = {
        "DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-01T00:00:00Z"},
        "DateLessThanEquals": {"aws:CurrentTime": "2026-05-31T00:00:00Z"},
    }
    allows = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "TransferXFER77Reads",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{RECIPIENT}:root"},
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET}/exports/acme-research/*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/enclave:pseudonymised": "true"}, **window},
        },
        {
            "Sid": "TransferXFER77Lists",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{RECIPIENT}:root"},
            "Action": "s3:ListBucket",
            "Resource": BUCKET,
            "Condition": {"StringLike": {"s3:prefix": "exports/acme-research/*"}, **window},
        },
    ]
    assert statement(doc, "ObjectReadsOnlyByRecipients")["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": [RECIPIENT]}
    }
    assert statement(doc, "RecipientsOnlyReadAndList")["NotAction"] == ["s3:GetObject", "s3:ListBucket"]


def test_only_the_pseudonymiser_writes_labelled_single_puts_with_the_export_key():
    doc = bucket_policy(config_with())
    expected = {
        "OnlyThePseudonymiserWrites": {"ArnNotEquals": {"aws:PrincipalArn": WORKLOAD}},
        "WritesOnlyFromInsideTheSite": {"StringNotEquals": {"aws:SourceVpce": ENDPOINT}},
        "WritesCarryThePseudonymisedTag": {"StringNotEquals": {"s3:RequestObjectTag/enclave:pseudonymised": "true"}},
        "WritesUseSseKms": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        "WritesUseTheExportKey": {"ArnNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}},
        "NoCopiesIntoExports": {"Null": {"s3:x-amz-copy-source": "false"}},
    }
    for sid, condition in expected.items():
        s = statement(doc, sid)
        # One condition per Deny: each requirement alone refuses the write (no IfExists: absent is refused).
        assert (s["Effect"], s["Principal"], s["Action"], s["Resource"]) == (
            "Deny",
            "*",
            "s3:PutObject",
            f"{BUCKET}/*",
        ), sid
        assert s["Condition"] == condition, sid


def test_labels_cannot_be_changed_and_unlabelled_objects_cannot_be_read():
    doc = bucket_policy(config_with(transfers=[transfer_grant()]))
    tags = statement(doc, "OnlyThePseudonymiserTags")
    assert tags["Action"] == ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
    assert tags["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": WORKLOAD}}
    removal = statement(doc, "NobodyRemovesTags")
    assert (
        removal["Action"] == ["s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"] and "Condition" not in removal
    )
    unlabelled = statement(doc, "NoReadsOfUnlabelledObjects")
    assert unlabelled["Action"] == ["s3:GetObject", "s3:GetObjectVersion"] and unlabelled["Principal"] == "*"
    assert unlabelled["Condition"] == {"StringNotEquals": {"s3:ExistingObjectTag/enclave:pseudonymised": "true"}}


def test_settings_stay_the_deployers_and_nothing_replicates():
    doc = bucket_policy(config_with())
    assert statement(doc, "DenyInsecureTransport")["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "Condition" not in statement(doc, "NoReplicationForAnyone")
    governance = statement(doc, "OnlyDeployerChangesBucketSettings")
    assert governance["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-deployer"}
    }


def test_an_expired_transfer_drops_out_with_a_fixed_clock():
    values = values_with(transfers=[transfer_grant()])
    after = site_config_from_mapping(values, now=clock.parse_utc("2026-05-31T00:00:01Z"))
    assert after.transfer_grants_in_force == () and len(after.transfer_grants) == 1
    assert not [s for s in bucket_policy(after)["Statement"] if s["Effect"] == "Allow"]
    assert [s["Sid"] for s in export_key_policy(after, ())["Statement"] if s["Effect"] == "Allow"] == [
        "OperatorAdministersKey",
        "PseudonymiserEncryptsExports",
    ]


# --------------------------------------------------------------------------- the export key policy


def test_the_export_key_lets_each_recipient_decrypt_only_its_prefix_via_s3_in_its_window():
    cfg = config_with(transfers=[transfer_grant()])
    doc = export_key_policy(cfg, cfg.transfer_grants_in_force)
    assert statement(doc, "TransferXFER77Decrypts") == {
        "Sid": "TransferXFER77Decrypts",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{RECIPIENT}:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": RECIPIENT, "kms:ViaService": "s3.eu-west-1.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"{BUCKET}/exports/acme-research/*"},
            "DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-01T00:00:00Z"},
            "DateLessThanEquals": {"aws:CurrentTime": "2026-05-31T00:00:00Z"},
        },
    }
    encrypt = statement(doc, "PseudonymiserEncryptsExports")
    assert encrypt["Action"] == "kms:GenerateDataKey" and encrypt["Principal"] == {
        "AWS": "arn:aws:iam::111111111111:root"
    }
    assert encrypt["Condition"]["ArnEquals"] == {"aws:PrincipalArn": WORKLOAD}
    assert encrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": f"{BUCKET}/exports/*"}
    only_s3 = statement(doc, "UseOnlyThroughS3InTheRegion")
    assert only_s3["Effect"] == "Deny" and only_s3["Condition"] == {
        "StringNotEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }, "direct calls (no kms:ViaService) are refused too"
    assert "kms:CreateGrant" in statement(doc, "NoGrantsNoReplication")["Action"]
    # The operator administers but never uses the export key either.
    admin = statement(doc, "OperatorAdministersKey")
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])


def test_export_documents_lint_clean_and_fit_aws_limits_at_the_most_grants():
    ten = [
        transfer_grant(
            recipientAccountId=f"9{i:011d}",
            prefix=f"exports/{'r' * 55}-{i:02d}/",
            ticket=f"XFERLONGPROJECT-{9999999990 + i}",
        )
        for i in range(10)
    ]
    cfg = config_with(transfers=ten)
    bucket, key = bucket_policy(cfg), export_key_policy(cfg, cfg.transfer_grants_in_force)
    assert policy_chars(bucket) < 20 * 1024, "S3 bucket policies are limited to 20 KB"
    assert policy_chars(key) < 32 * 1024, "KMS key policies are limited to 32 KB"

    def findings(doc):
        return analyze_policy_string(json.dumps(doc), include_community_auditors=True).findings

    assert [(f.issue, f.detail) for f in findings(bucket)] == []
    # The key policy has the operator key's two suppressions (tests/test_policy_lint_storage.py): in a
    # key policy "*" is the key itself, and the custodian administers the policy (kms:PutKeyPolicy).
    for f in findings(key):
        assert f.issue == "RESOURCE_STAR" or (
            f.issue == "PERMISSIONS_MANAGEMENT_ACTIONS" and f.location["actions"] == ["kms:putkeypolicy"]
        ), (f.issue, f.detail)


# --------------------------------------------------------------------------- the component and the program


@pulumi.runtime.test
def test_component_builds_a_protected_in_region_bucket_and_operator_key(site_providers, monitor, dublin_config):
    built = TransferExport(
        "enclave-dublin-exports",
        TransferExportArgs(
            config=dublin_config,
            data_provider=site_providers.data,
            operator_provider=site_providers.operator,
            s3_endpoint_id=ENDPOINT,
        ),
    )

    def check(args):
        (key_arn,), records = args
        by_type = {r.type: r for r in records}
        bucket = by_type["aws:s3/bucket:Bucket"]
        assert bucket.inputs["bucket"] == "enclave-dublin-exports-111111111111" and bucket.protect, bucket.urn
        assert bucket.provider_urn.endswith("enclave-dublin-data"), bucket.urn
        key = by_type["aws:kms/key:Key"]
        assert key.protect and key.provider_urn.endswith("enclave-dublin-operator"), key.urn
        assert key.inputs["multiRegion"] is False and key.inputs["enableKeyRotation"] is True, key.urn
        assert json.loads(key.inputs["policy"]) == export_key_policy(dublin_config, ()), key.urn
        sse = by_type["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"]
        (rule,) = sse.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
        assert rule["bucketKeyEnabled"] is False, "each object's ARN stays its KMS context (prefix-scoped decrypts)"
        policy = by_type["aws:s3/bucketPolicy:BucketPolicy"]
        assert json.loads(policy.inputs["policy"]) == export_bucket_policy(dublin_config, key_arn, ENDPOINT, ())
        assert set(policy.dependencies) >= {
            by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"].urn,
            by_type["aws:s3/bucketOwnershipControls:BucketOwnershipControls"].urn,
        }
        lifecycle = by_type["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]
        rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
        assert rules["expire-exports"]["expiration"]["days"] == 32, "an export outlives the longest window by a day"
        assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 1
        assert by_type["aws:kms/alias:Alias"].inputs["name"] == "alias/enclave-dublin-export"
        assert {r.name for r in records} >= set(export_resource_names("enclave-dublin"))

    return settled(monitor, built.key_arn).apply(check)


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_program_with_grants_names_exactly_the_recipients_and_passes_the_pack(stack, monkeypatch):
    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))
    expired = transfer_grant(
        recipientAccountId="777777777777", prefix="exports/old/", ticket="XFER-1", notAfter="2026-05-02T00:00:00Z"
    )
    values = values_with(stack, staff=[staff_grant(stack)], transfers=[transfer_grant(), expired])
    run = run_program(stack, config=values)
    policy_name, key_name = export_resource_names(f"enclave-{stack}")
    (policy,) = [r for r in run.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == policy_name]
    (key,) = [r for r in run.of_type("aws:kms/key:Key") if r.name == key_name]
    for doc in (policy.inputs["policy"], key.inputs["policy"]):
        assert RECIPIENT in doc and "777777777777" not in doc, "expired grants drop out"
    assert [g.prefix for g in transfer_grants_in_policy(policy.inputs["policy"])] == ["exports/acme-research/"]
    assert run.stack_outputs["transfer_grants_in_force"] == [transfer_grant()]
    assert run.stack_outputs["transfer_grants_expired"] == [expired]
    # Nothing else of the site names a recipient.
    for res in run.resources:
        if res.name not in (policy_name, key_name):
            assert RECIPIENT not in json.dumps(res.inputs), res.urn
    derived = policy_config_from_stack(run.config, run.project)
    assert evaluate(run, derived) == []
    trusted = derived["region-pinned"]["trustedAccounts"]
    assert [t["accountId"] for t in trusted] == [RECIPIENT, "777777777777"], "the declared recipients"
    assert all(t["resources"] == [policy_name, key_name] for t in trusted)
    assert trusted[0]["reason"].startswith("transfer grant XFER-77 (SCC, approved by erik.dpo@platform.example")


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_shipped_stacks_trust_no_recipient(stack, program_run):
    run = program_run(stack)
    derived = policy_config_from_stack(load_stack_config(PROJECT_DIR, stack), "eu-data-enclave")
    assert not any("trustedAccounts" in block for block in derived.values())
    assert run.stack_outputs["transfer_grants_in_force"] == [] and run.stack_outputs["export_bucket_name"] == (
        f"enclave-{stack}-exports-{run.config['eu-data-enclave:dataAccountId']}"
    )


def test_trusted_accounts_ignore_what_the_program_would_refuse():
    values = values_with(transfers=[transfer_grant(recipientAccountId="nope"), "junk"])
    assert policy_config_from_stack(values, "eu-data-enclave")["region-pinned"].get("trustedAccounts") is None
    values[KEY] = "not json"
    assert "trustedAccounts" not in policy_config_from_stack(values, "eu-data-enclave")["region-pinned"]


# --------------------------------------------------------------------------- reading grants back (reviewers, auditor)


def test_transfer_grants_are_read_back_and_unexplained_access_is_flagged():
    cfg = config_with(transfers=[transfer_grant()])
    doc = bucket_policy(cfg)
    assert transfer_grants_in_policy(json.dumps(doc)) == [
        ObservedGrant(
            sid="TransferXFER77Reads",
            principal=f"arn:aws:iam::{RECIPIENT}:root",
            ticket="",
            prefix="exports/acme-research/",
            not_before="2026-05-01T00:00:00Z",
            not_after="2026-05-31T00:00:00Z",
        )
    ]
    declared = [s for g in cfg.transfer_grants for s in transfer_bucket_statements(g, BUCKET)]
    assert unexplained_allows(doc, declared) == []
    stray = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::888888888888:root"},
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET}/*",
    }
    doc["Statement"].append(stray)
    assert unexplained_allows(doc, declared) == [stray]
    key = export_key_policy(cfg, cfg.transfer_grants_in_force)
    base = [s for s in export_key_policy(cfg, ())["Statement"] if s["Effect"] == "Allow"]
    assert (
        unexplained_allows(key, [*base, *(transfer_key_statement(g, BUCKET, cfg.region) for g in cfg.transfer_grants)])
        == []
    )


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_the_programs_documents_are_explained_by_the_declared_grants(stack, monkeypatch):
    """What the auditor will do with the live documents: nothing the program writes is unexplained."""
    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))
    values = values_with(stack, staff=[staff_grant(stack)], transfers=[transfer_grant()])
    run = run_program(stack, config=values)
    expected = declared_allows(site_config_from_mapping(values, now=AT))
    policy_name, key_name = export_resource_names(f"enclave-{stack}")
    documents = {
        "staff-trust": next(r for r in run.of_type("aws:iam/role:Role") if r.name.endswith("-staff-access")).inputs[
            "assumeRolePolicy"
        ],
        "export-bucket-policy": next(r for r in run.resources if r.name == policy_name).inputs["policy"],
        "export-key-policy": next(r for r in run.resources if r.name == key_name).inputs["policy"],
    }
    for name, doc in documents.items():
        assert unexplained_allows(doc, expected[name]) == [], name
        assert expected[name], f"{name}: the check would pass vacuously"
    # Without the grants, the same documents are unexplained.
    bare = declared_allows(site_config_from_mapping(values_with(stack), now=AT))
    assert unexplained_allows(documents["staff-trust"], bare["staff-trust"])
    assert unexplained_allows(documents["export-key-policy"], bare["export-key-policy"])
