"""The access matrix: for each kind of principal and each class of action, allowed or denied, and why.

Each cell is proved by asserting on the exact statements and conditions that
decide it, in every document AWS would evaluate for that request: the caller's
trust and identity policies, its permissions boundary (the data roles' or the
auditor's), the bucket, key, secret and endpoint policies. The deployment role's row is also decided by the small
evaluator in ``tests/iam_eval.py`` (its identity policy is not the program's,
so only the resource policies can be read for it). AWS's own evaluation
(explicit deny wins; cross-account KMS needs both the key policy and the
caller's policy; a boundary caps an identity policy) is what turns these
statements into the outcome; docs/gates-and-threat-model.md lists which
guarantees rest on it.
"""

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from components import security_gates as gates
from components.audit_trail import audit_log_bucket_policy
from components.config import SiteConfig, site_config_from_mapping
from components.isolated_network import s3_endpoint_policy
from components.operator_key import operator_key_policy
from components.pseudonym_secret import pepper_secret_policy
from components.regional_storage import data_bucket_policy
from components.transfer_export import export_bucket_policy, export_key_policy
from tests.conftest import KEY_ARN, stack_config
from tests.grants_fixture import RECIPIENT, config_with, staff_grant, transfer_grant
from tests.iam_eval import allows as evaluator_allows
from tests.iam_eval import denies as evaluator_denies
from tests.iam_eval import role_request

ENDPOINT_ID = "vpce-0123456789abcdef0"
EXPORT_KEY_ARN = "arn:aws:kms:eu-west-1:222222222222:key/0000abcd-12ab-34cd-56ef-1234567890ab"
DOC = Path(__file__).resolve().parent.parent / "docs" / "gates-and-threat-model.md"

ALLOWED = "allowed"
DENIED = "denied"

PRINCIPALS = (
    "staff under a grant in force (MFA, its ticket)",
    "staff without a grant in force",
    "other data-account principal",
    "workload role",
    "auditor",
    "deployment role",
    "transfer recipient under a grant in force",
    "anonymous",
)
ACTIONS = ("read data", "write data", "change replication or bucket policy", "decrypt", "read logs")

MATRIX: dict[str, tuple[str, ...]] = {
    "staff under a grant in force (MFA, its ticket)": (ALLOWED, ALLOWED, DENIED, "via S3 only", DENIED),
    "staff without a grant in force": (DENIED, DENIED, DENIED, DENIED, DENIED),
    "other data-account principal": (DENIED, DENIED, DENIED, DENIED, DENIED),
    "workload role": (
        "through the site endpoint",
        "through the site endpoint",
        DENIED,
        "via S3 / Secrets Manager",
        DENIED,
    ),
    "auditor": (DENIED, DENIED, DENIED, "audit logs only", "audit logs (trail files, flow logs, DNS query logs)"),
    "deployment role": (
        DENIED,
        DENIED,
        "bucket settings, never replication",
        "the pepper only, via Secrets Manager",
        DENIED,
    ),
    "transfer recipient under a grant in force": (
        "pseudonymised exports under its prefix, in its window",
        DENIED,
        DENIED,
        "export key via S3, its prefix only",
        DENIED,
    ),
    "anonymous": (DENIED, DENIED, DENIED, DENIED, DENIED),
}
"""The table the README shows; each cell is proved by the test of the same name below."""

CHANGE_ACTIONS = ("s3:PutReplicationConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
OTHER_PRINCIPAL = "arn:aws:iam::{account}:role/some-administrator"


@dataclass(frozen=True)
class Docs:
    """Every document AWS evaluates for a request to the site, built from one stack's config."""

    cfg: SiteConfig
    boundary: dict
    """The data roles' boundary (workload, staff-access)."""
    auditor_boundary: dict
    workload_trust: dict
    workload: dict
    staff_trust: dict
    staff: dict
    auditor_trust: dict
    auditor: dict
    data_bucket: dict
    audit_bucket: dict
    key: dict
    secret: dict
    endpoint: dict
    export_bucket: dict
    export_key: dict
    ungranted_trust: dict
    """The staff trust of the shipped stack, which declares no grant."""

    @property
    def other(self) -> str:
        return OTHER_PRINCIPAL.format(account=self.cfg.data_account_id)

    @property
    def data_objects(self) -> str:
        return f"{self.cfg.bucket_arn('user-data')}/*"

    @property
    def log_objects(self) -> str:
        return f"{self.cfg.bucket_arn('audit-logs')}/*"


def build_docs(stack: str) -> Docs:
    """The documents of ``stack`` with one staff grant and one transfer grant in force (fixed clock)."""
    cfg = config_with(stack, staff=[staff_grant(stack)], transfers=[transfer_grant()])
    return Docs(
        cfg=cfg,
        boundary=gates.permissions_boundary_policy(cfg, KEY_ARN),
        auditor_boundary=gates.auditor_boundary_policy(cfg, KEY_ARN),
        workload_trust=gates.workload_trust_policy(cfg),
        workload=gates.workload_policy(cfg, KEY_ARN, ENDPOINT_ID),
        staff_trust=gates.staff_access_trust_policy(cfg),
        staff=gates.staff_access_policy(cfg, KEY_ARN),
        auditor_trust=gates.auditor_trust_policy(cfg),
        auditor=gates.auditor_policy(cfg, KEY_ARN),
        data_bucket=data_bucket_policy(cfg, cfg.bucket_arn("user-data"), KEY_ARN, read_vpc_endpoint_id=ENDPOINT_ID),
        audit_bucket=audit_log_bucket_policy(cfg),
        key=operator_key_policy(cfg),
        secret=pepper_secret_policy(cfg, cfg.role_arn("workload")),
        endpoint=s3_endpoint_policy(cfg),
        export_bucket=export_bucket_policy(cfg, EXPORT_KEY_ARN, ENDPOINT_ID, cfg.transfer_grants_in_force),
        export_key=export_key_policy(cfg, cfg.transfer_grants_in_force),
        ungranted_trust=gates.staff_access_trust_policy(site_config_from_mapping(stack_config(stack))),
    )


@pytest.fixture(params=["dublin", "hamar"])
def docs(request) -> Docs:
    return build_docs(request.param)


# --------------------------------------------------------------------------- reading statements (no evaluation)


def listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def stmt(doc: dict, sid: str) -> dict:
    found = [s for s in doc["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}, got {[s.get('Sid') for s in doc['Statement']]}"
    return found[0]


def covers(patterns, value: str) -> bool:
    """An Action or Resource list names ``value`` (IAM wildcards ``*`` and ``?``)."""
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in listed(patterns))


def allows(doc: dict, action: str, resource: str) -> list[dict]:
    """The Allow statements of an identity policy that name ``action`` on ``resource``."""
    return [
        s
        for s in doc["Statement"]
        if s["Effect"] == "Allow" and covers(s["Action"], action) and covers(s["Resource"], resource)
    ]


def key_users(docs: Docs, action: str) -> set[str]:
    """Data-account principals the key policy names (aws:PrincipalArn) for ``action``."""
    data_root = f"arn:aws:iam::{docs.cfg.data_account_id}:root"
    users: set[str] = set()
    for s in docs.key["Statement"]:
        if s["Effect"] != "Allow" or s.get("Principal") != {"AWS": data_root} or not covers(s["Action"], action):
            continue
        # Every grant to the data account narrows to named principals: none is account-wide.
        named = s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        users.update(listed(named))
    return users


def public_allows(doc: dict) -> list[dict]:
    return [
        s
        for s in doc["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") in ("*", {"AWS": "*"}, {"AWS": ["*"]})
    ]


def assert_deny_for_everyone(doc: dict, sid: str, action: str) -> None:
    s = stmt(doc, sid)
    assert s["Effect"] == "Deny" and s["Principal"] == "*" and covers(s["Action"], action)
    assert "Condition" not in s, f"{sid} must hold for everyone, unconditionally"


def assert_change_denied(docs: Docs, identity: dict | None, exempt: str | None = None) -> None:
    """Replication: denied to everyone by both buckets' policies; bucket policy: only the deployer."""
    for bucket in (docs.data_bucket, docs.audit_bucket):
        assert_deny_for_everyone(bucket, "NoReplicationForAnyone", "s3:PutReplicationConfiguration")
        governance = stmt(bucket, "OnlyDeployerChangesBucketSettings")
        assert governance["Effect"] == "Deny" and covers(governance["Action"], "s3:PutBucketPolicy")
        assert governance["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": docs.cfg.deployment_role_arn}}
    if identity is not None:
        for action in CHANGE_ACTIONS:
            assert not allows(identity, action, docs.cfg.bucket_arn("user-data")), action
            assert covers(stmt(docs.boundary, "DenyTransferOut")["Action"], action), action


def assert_staff_gate_needs_a_grant(docs: Docs) -> None:
    """Without a grant in force nobody assumes the role; with one, only its principal, ticket and window.

    And a session whose ticket is no grant's in force, or outside the window, is granted no data.
    """
    assert [s["Effect"] for s in docs.ungranted_trust["Statement"]] == ["Deny"]
    tickets = {g.ticket: g for g in docs.cfg.staff_grants_in_force}
    for trust in docs.staff_trust["Statement"]:
        grant = tickets[trust["Condition"]["StringEquals"]["aws:RequestTag/access-ticket"]]
        assert trust["Principal"] == {"AWS": grant.principal}
        assert trust["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
        assert trust["Condition"]["DateLessThanEquals"] == {"aws:CurrentTime": "2026-05-04T16:00:00Z"}
    for s in docs.staff["Statement"]:
        if any(a.startswith("s3:") for a in listed(s["Action"])):
            assert s["Condition"]["StringEquals"]["aws:PrincipalTag/access-ticket"] in tickets, s["Sid"]
            assert set(s["Condition"]) == {"StringEquals", "DateGreaterThanEquals", "DateLessThanEquals"}, s["Sid"]


def assert_not_a_key_user(docs: Docs, principal: str) -> None:
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert principal not in key_users(docs, action), f"{principal} may {action}"
    assert principal != docs.cfg.role_arn("auditor")


def assert_data_bucket_blocks_outside_endpoint(docs: Docs, principal: str) -> None:
    s = stmt(docs.data_bucket, "ObjectAccessOnlyThroughVpcEndpointOrStaffGate")
    assert s["Effect"] == "Deny" and s["Principal"] == "*" and covers(s["Resource"], docs.data_objects)
    assert covers(s["Action"], "s3:GetObject") and covers(s["Action"], "s3:PutObject")
    assert s["Condition"]["StringNotEquals"] == {"aws:SourceVpce": ENDPOINT_ID}
    assert s["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] != principal


# --------------------------------------------------------------------------- staff under a grant in force


def _staff_reaches_data(docs: Docs, action: str, key_action: str) -> None:
    (trust,) = docs.staff_trust["Statement"]
    assert trust["Principal"] == {"AWS": docs.cfg.staff_grants_in_force[0].principal}
    assert set(trust["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    # Regional STS only, so the AssumeRole event with the ticket lands in the site's trail.
    assert trust["Condition"]["StringEquals"] == {
        "aws:RequestTag/access-ticket": "PRIV-1234",
        "aws:RequestedRegion": docs.cfg.region,
    }
    assert allows(docs.staff, action, docs.data_objects), f"staff policy must allow {action}"
    assert allows(docs.boundary, action, docs.data_objects), f"boundary must leave room for {action}"
    # The bucket's endpoint deny exempts exactly the staff-access role.
    exempt = stmt(docs.data_bucket, "ObjectAccessOnlyThroughVpcEndpointOrStaffGate")["Condition"]["ArnNotEquals"]
    assert exempt == {"aws:PrincipalArn": docs.cfg.role_arn("staff-access")}
    assert docs.cfg.role_arn("staff-access") in key_users(docs, key_action)
    assert allows(docs.staff, key_action, KEY_ARN)


def test_staff_with_grant_read_data(docs):
    _staff_reaches_data(docs, "s3:GetObject", "kms:Decrypt")


def test_staff_with_grant_write_data(docs):
    _staff_reaches_data(docs, "s3:PutObject", "kms:GenerateDataKey")
    # Uploads are refused only when they pick another encryption than the operator key:
    # a plain upload (no encryption header) gets the bucket default, the operator key.
    for sid in ("DenyUploadsNotEncryptedWithKms", "DenyUploadsWithAnotherKmsKey"):
        assert all(op.endswith("IfExists") for op in stmt(docs.data_bucket, sid)["Condition"]), sid
    named = stmt(docs.data_bucket, "DenyKmsUploadsThatDoNotNameTheKey")["Condition"]["Null"]
    assert named["s3:x-amz-server-side-encryption"] == "false", "fires only when the header is present"
    # The cross-account write deny cannot hit the site's own bucket.
    cross = stmt(docs.boundary, "DenyObjectWritesToOtherAccounts")["Condition"]["StringNotEquals"]
    assert cross == {"s3:ResourceAccount": docs.cfg.data_account_id}


def test_staff_with_grant_change_replication_or_bucket_policy(docs):
    assert_change_denied(docs, docs.staff)


def test_staff_with_grant_decrypt(docs):
    s = stmt(docs.staff, "OperatorKeyViaS3")
    assert s["Condition"] == {"StringEquals": {"kms:ViaService": [f"s3.{docs.cfg.region}.amazonaws.com"]}}
    key = stmt(docs.key, "DataRolesUseKeyViaInRegionS3AndSecretsManager")
    assert docs.cfg.role_arn("staff-access") in key["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    assert "kms:ViaService" in key["Condition"]["StringEquals"], "direct kms:Decrypt calls are never allowed"


def test_staff_with_grant_read_logs(docs):
    assert not allows(docs.staff, "s3:GetObject", docs.log_objects)
    assert not allows(docs.staff, "s3:ListBucket", docs.cfg.bucket_arn("audit-logs"))
    # Nor could a later inline policy grant it: the data roles' boundary leaves no room for logs.
    assert not allows(docs.boundary, "s3:GetObject", docs.log_objects)


# --------------------------------------------------------------------------- staff without a grant in force


def _staff_without_grant(docs: Docs) -> None:
    assert_staff_gate_needs_a_grant(docs)
    # Outside the gate the staff member is just their own principal: not a key user, not exempt.
    for principal in docs.cfg.staff_principals:
        assert_not_a_key_user(docs, principal)
        assert_data_bucket_blocks_outside_endpoint(docs, principal)


def test_staff_without_grant_read_data(docs):
    _staff_without_grant(docs)


def test_staff_without_grant_write_data(docs):
    _staff_without_grant(docs)


def test_staff_without_grant_change_replication_or_bucket_policy(docs):
    assert_staff_gate_needs_a_grant(docs)
    assert_change_denied(docs, None)
    assert docs.cfg.deployment_role_arn not in docs.cfg.staff_principals


def test_staff_without_grant_decrypt(docs):
    _staff_without_grant(docs)


def test_staff_without_grant_read_logs(docs):
    _staff_without_grant(docs)
    assert not allows(docs.staff, "s3:GetObject", docs.log_objects)


# --------------------------------------------------------------------------- any other principal of the data account


def test_other_principal_read_data(docs):
    # Even with s3:* in its own policy: outside the endpoint the bucket denies, and
    # inside it every object is SSE-KMS under a key that does not name it.
    assert_data_bucket_blocks_outside_endpoint(docs, docs.other)
    assert_not_a_key_user(docs, docs.other)


def test_other_principal_write_data(docs):
    assert_data_bucket_blocks_outside_endpoint(docs, docs.other)
    assert_not_a_key_user(docs, docs.other)
    # An upload cannot dodge the key: SSE-S3 and SSE-C are refused by the bucket.
    assert stmt(docs.data_bucket, "DenyUploadsNotEncryptedWithKms")["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }
    assert stmt(docs.data_bucket, "DenyUploadsWithCustomerProvidedKeys")["Effect"] == "Deny"


def test_other_principal_change_replication_or_bucket_policy(docs):
    assert_change_denied(docs, None)
    assert docs.other != docs.cfg.deployment_role_arn


def test_other_principal_decrypt(docs):
    assert_not_a_key_user(docs, docs.other)
    auditor = stmt(docs.key, "AuditorDecryptsTrailLogsOnly")
    assert auditor["Condition"]["ArnEquals"] == {"aws:PrincipalArn": docs.cfg.role_arn("auditor")}


def test_other_principal_read_logs(docs):
    # Trail log files are encrypted with the operator key, which names no such principal.
    assert_not_a_key_user(docs, docs.other)
    assert not public_allows(docs.audit_bucket)


# --------------------------------------------------------------------------- the workload role


def _workload_reaches_data(docs: Docs, action: str, key_action: str) -> None:
    for trust in docs.workload_trust["Statement"]:
        assert list(trust["Principal"]) == ["Service"], "only AWS compute services assume the workload role"
        assert trust["Condition"] in (
            {"StringEquals": {"aws:SourceAccount": docs.cfg.data_account_id}},
            {"StringEqualsIfExists": {"aws:SourceAccount": docs.cfg.data_account_id}},
        ), trust["Sid"]
    granted = allows(docs.workload, action, docs.data_objects)
    assert granted and all(s["Condition"] == {"StringEquals": {"aws:SourceVpce": ENDPOINT_ID}} for s in granted)
    assert allows(docs.boundary, action, docs.data_objects)
    assert_data_bucket_blocks_outside_endpoint(docs, docs.cfg.role_arn("workload"))
    endpoint = stmt(docs.endpoint, "UserDataReadWrite")
    assert covers(endpoint["Action"], action) and covers(endpoint["Resource"], docs.data_objects)
    assert endpoint["Condition"]["StringEquals"]["aws:ResourceAccount"] == docs.cfg.data_account_id
    assert docs.cfg.role_arn("workload") in key_users(docs, key_action)


def test_workload_read_data(docs):
    _workload_reaches_data(docs, "s3:GetObject", "kms:Decrypt")


def test_workload_write_data(docs):
    _workload_reaches_data(docs, "s3:PutObject", "kms:GenerateDataKey")


def test_workload_change_replication_or_bucket_policy(docs):
    assert_change_denied(docs, docs.workload)


def test_workload_decrypt(docs):
    s = stmt(docs.workload, "OperatorKeyViaS3AndSecretsManager")
    assert s["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"s3.{docs.cfg.region}.amazonaws.com",
        f"secretsmanager.{docs.cfg.region}.amazonaws.com",
    ]
    assert docs.cfg.role_arn("workload") in key_users(docs, "kms:Decrypt")
    # The pepper it decrypts through Secrets Manager is denied to everyone else.
    read = stmt(docs.secret, "DenyReadExceptWorkloadAndDeployer")
    assert docs.cfg.role_arn("workload") in read["Condition"]["StringNotEquals"]["aws:PrincipalArn"]


def test_workload_read_logs(docs):
    assert not allows(docs.workload, "s3:GetObject", docs.log_objects)
    assert not allows(docs.workload, "s3:ListBucket", docs.cfg.bucket_arn("audit-logs"))


# --------------------------------------------------------------------------- the auditor


def test_auditor_read_data(docs):
    for doc in (docs.auditor, docs.auditor_boundary):
        deny = stmt(doc, "DenyUserDataObjects")
        assert deny["Effect"] == "Deny" and covers(deny["Action"], "s3:GetObject")
        assert covers(deny["Action"], "s3:GetObjectVersion") and covers(deny["Resource"], docs.data_objects)
        assert covers(deny["Resource"], f"{docs.cfg.bucket_arn('exports')}/*"), "exports are user data too"
        # The pepper neither: a secret's value is never configuration.
        assert stmt(doc, "DenySecretValues")["Action"] == "secretsmanager:GetSecretValue"
    # Its boundary grants no object but the audit log's, whatever its policy says.
    assert not allows(docs.auditor_boundary, "s3:GetObject", docs.data_objects)
    # And the key would refuse anyway: the auditor decrypts only under the trail's
    # encryption context, which user-data objects never carry.
    key = stmt(docs.key, "AuditorDecryptsTrailLogsOnly")["Condition"]["StringEquals"]
    assert key["kms:EncryptionContext:aws:cloudtrail:arn"] == docs.cfg.trail_arn
    assert docs.cfg.role_arn("auditor") not in listed(
        stmt(docs.key, "DataRolesUseKeyViaInRegionS3AndSecretsManager")["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    )


def test_auditor_write_data(docs):
    assert not allows(docs.auditor, "s3:PutObject", docs.data_objects)
    assert not allows(docs.auditor_boundary, "s3:PutObject", docs.data_objects)
    assert docs.cfg.role_arn("auditor") not in key_users(docs, "kms:GenerateDataKey")


def test_auditor_change_replication_or_bucket_policy(docs):
    assert_change_denied(docs, None)
    for action in CHANGE_ACTIONS:
        assert not allows(docs.auditor, action, docs.cfg.bucket_arn("user-data")), action
    # Its boundary allows reads only, so no later grant can make it change anything.
    read_only = ("Get", "List", "Describe", "LookupEvents", "Decrypt", "SimulatePrincipalPolicy")
    for doc in (docs.auditor, docs.auditor_boundary):
        for s in doc["Statement"]:
            if s["Effect"] == "Allow":
                assert all(a.split(":")[1].startswith(read_only) for a in listed(s["Action"])), s["Sid"]


def test_auditor_decrypt(docs):
    context = "kms:EncryptionContext:aws:cloudtrail:arn"
    s3_context = "kms:EncryptionContext:aws:s3:arn"
    audit_objects = [docs.cfg.bucket_arn("audit-logs"), f"{docs.cfg.bucket_arn('audit-logs')}/*"]
    allow = stmt(docs.auditor, "DecryptCloudTrailLogFilesOnly")
    assert allow["Condition"]["StringEquals"][context] == docs.cfg.trail_arn
    # Flow logs sit in the audit bucket without a trail context: readable, and nothing else is.
    allow_bucket = stmt(docs.auditor, "DecryptAuditBucketObjects")
    assert allow_bucket["Condition"]["StringLike"] == {s3_context: audit_objects}
    for doc in (docs.auditor, docs.auditor_boundary):
        deny = stmt(doc, "DenyDecryptOutsideAuditLogs")
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Null": {context: "true"}, "StringNotLike": {s3_context: audit_objects}}
    # The boundary's decrypts are the policy's, word for word: nothing more under a later grant.
    for sid in ("DecryptCloudTrailLogFilesOnly", "DecryptAuditBucketObjects"):
        assert stmt(docs.auditor_boundary, sid) == stmt(docs.auditor, sid), sid
    key = stmt(docs.key, "AuditorDecryptsTrailLogsOnly")
    assert key["Action"] == "kms:Decrypt"
    assert key["Condition"]["StringEquals"][context] == docs.cfg.trail_arn
    key_bucket = stmt(docs.key, "AuditorDecryptsAuditBucketObjects")
    assert key_bucket["Action"] == "kms:Decrypt"
    assert key_bucket["Condition"]["StringLike"] == {s3_context: audit_objects}
    assert docs.cfg.bucket_arn("user-data") not in str(key_bucket["Condition"])


def test_auditor_read_logs(docs):
    (trust,) = docs.auditor_trust["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{docs.cfg.auditor_account_id}:root"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": docs.cfg.auditor_external_id}}
    assert allows(docs.auditor, "s3:GetObject", docs.log_objects)
    assert allows(docs.auditor, "s3:ListBucket", docs.cfg.bucket_arn("audit-logs"))
    assert allows(docs.auditor_boundary, "s3:GetObject", docs.log_objects)
    assert allows(docs.auditor_boundary, "s3:ListBucket", docs.cfg.bucket_arn("audit-logs"))
    # The audit bucket denies reads only over plain HTTP.
    for s in docs.audit_bucket["Statement"]:
        if s["Effect"] == "Deny" and covers(s["Action"], "s3:GetObject"):
            assert s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, s["Sid"]


# --------------------------------------------------------------------------- the deployment role


def _deployer(docs: Docs, action: str, resource: str, context: dict | None = None):
    return role_request(docs.cfg.deployment_role_arn, action, resource, context)


def _deployer_key_use(docs: Docs, bucket_role: str) -> list[str]:
    context = {
        "kms:CallerAccount": docs.cfg.data_account_id,
        "kms:ViaService": f"s3.{docs.cfg.region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": docs.cfg.bucket_arn(bucket_role),
    }
    return [
        sid
        for action in ("kms:Decrypt", "kms:GenerateDataKey")
        for sid in evaluator_allows(docs.key, _deployer(docs, action, "*", context))
    ]


def test_deployer_read_data(docs):
    # Outside the endpoint the bucket denies it object reads, and the key would not decrypt them.
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert evaluator_denies(docs.data_bucket, _deployer(docs, action, docs.data_objects))
    assert _deployer_key_use(docs, "user-data") == []


def test_deployer_write_data(docs):
    assert evaluator_denies(docs.data_bucket, _deployer(docs, "s3:PutObject", docs.data_objects))
    assert _deployer_key_use(docs, "user-data") == []


def test_deployer_change_replication_or_bucket_policy(docs):
    bucket = docs.cfg.bucket_arn("user-data")
    # It is the one principal that may change bucket settings (that is what deploying is)...
    assert not evaluator_denies(docs.data_bucket, _deployer(docs, "s3:PutBucketPolicy", bucket))
    governance = stmt(docs.data_bucket, "OnlyDeployerChangesBucketSettings")
    assert governance["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": docs.cfg.deployment_role_arn}}
    # ...and, like everyone, never replication.
    assert evaluator_denies(docs.data_bucket, _deployer(docs, "s3:PutReplicationConfiguration", bucket))
    assert evaluator_denies(
        docs.audit_bucket, _deployer(docs, "s3:PutReplicationConfiguration", docs.cfg.bucket_arn("audit-logs"))
    )


def test_deployer_decrypt(docs):
    s = stmt(docs.key, "DeployerUsesKeyForThePepperOnly")
    assert s["Condition"]["StringEquals"]["kms:ViaService"] == [f"secretsmanager.{docs.cfg.region}.amazonaws.com"]
    assert s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"].endswith("-pseudonym-pepper-??????")
    for role in ("user-data", "access-logs", "audit-logs"):
        assert _deployer_key_use(docs, role) == [], role
    # The pepper's own resource policy lets it read back the value it wrote.
    read = stmt(docs.secret, "DenyReadExceptWorkloadAndDeployer")
    assert docs.cfg.deployment_role_arn in read["Condition"]["StringNotEquals"]["aws:PrincipalArn"]


def test_deployer_read_logs(docs):
    # Log files are SSE-KMS objects under the operator key, which the deployer cannot use through S3.
    assert _deployer_key_use(docs, "audit-logs") == []
    assert _deployer_key_use(docs, "access-logs") == []


# --------------------------------------------------------------------------- a transfer recipient outside the site


def _foreign_principals(doc: dict) -> set[str]:
    """Account roots of other accounts that an Allow of ``doc`` names."""
    own = {
        f"arn:aws:iam::{a}:root"
        for a in ("111111111111", "222222222222", "333333333333", "444444444444", "555555555555")
    }
    named = set()
    for s in doc["Statement"]:
        if s["Effect"] == "Allow" and isinstance(s.get("Principal"), dict):
            named |= {p for p in listed(s["Principal"].get("AWS", [])) if p.endswith(":root")} - own
    return named


def _recipient_reaches_nothing_else(docs: Docs) -> None:
    """Outside the export bucket and key the recipient is named nowhere; inside, only Get and List are left to it."""
    for name in (
        "data_bucket",
        "audit_bucket",
        "key",
        "secret",
        "boundary",
        "auditor_boundary",
        "staff_trust",
        "auditor_trust",
    ):
        assert RECIPIENT not in json.dumps(getattr(docs, name)), f"{name} names the recipient"
    only = stmt(docs.export_bucket, "RecipientsOnlyReadAndList")
    assert only["Effect"] == "Deny" and only["NotAction"] == ["s3:GetObject", "s3:ListBucket"]
    assert only["Condition"] == {"StringEquals": {"aws:PrincipalAccount": [RECIPIENT]}}
    perimeter = stmt(docs.export_bucket, "NoAccountOutsideTheSiteOrItsRecipients")["Condition"]["StringNotEquals"]
    assert perimeter == {"aws:PrincipalAccount": [docs.cfg.data_account_id, RECIPIENT]}
    assert (
        _foreign_principals(docs.export_bucket)
        == _foreign_principals(docs.export_key)
        == {f"arn:aws:iam::{RECIPIENT}:root"}
    )


def test_recipient_read_data(docs):
    _recipient_reaches_nothing_else(docs)
    reads = stmt(docs.export_bucket, "TransferXFER77Reads")
    assert reads["Principal"] == {"AWS": f"arn:aws:iam::{RECIPIENT}:root"} and reads["Action"] == "s3:GetObject"
    assert reads["Resource"] == f"{docs.cfg.bucket_arn('exports')}/exports/acme-research/*"
    assert reads["Condition"] == {
        "StringEquals": {"s3:ExistingObjectTag/enclave:pseudonymised": "true"},
        "DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-01T00:00:00Z"},
        "DateLessThanEquals": {"aws:CurrentTime": "2026-05-31T00:00:00Z"},
    }
    unlabelled = stmt(docs.export_bucket, "NoReadsOfUnlabelledObjects")
    assert unlabelled["Effect"] == "Deny" and unlabelled["Principal"] == "*"
    # The user data itself: its bucket allows no one outside, and its key names no other account.
    assert not [s for s in docs.data_bucket["Statement"] if s["Effect"] == "Allow"]
    assert not _foreign_principals(docs.key)


def test_recipient_write_data(docs):
    _recipient_reaches_nothing_else(docs)
    writes = stmt(docs.export_bucket, "OnlyThePseudonymiserWrites")
    assert writes["Action"] == "s3:PutObject" and writes["Principal"] == "*"
    assert writes["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": docs.cfg.role_arn("workload")}}


def test_recipient_change_replication_or_bucket_policy(docs):
    _recipient_reaches_nothing_else(docs)
    assert_deny_for_everyone(docs.export_bucket, "NoReplicationForAnyone", "s3:PutReplicationConfiguration")
    governance = stmt(docs.export_bucket, "OnlyDeployerChangesBucketSettings")
    assert governance["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": docs.cfg.deployment_role_arn}}


def test_recipient_decrypt(docs):
    _recipient_reaches_nothing_else(docs)
    decrypts = stmt(docs.export_key, "TransferXFER77Decrypts")
    assert decrypts["Action"] == "kms:Decrypt"
    assert decrypts["Condition"]["StringEquals"] == {
        "kms:CallerAccount": RECIPIENT,
        "kms:ViaService": f"s3.{docs.cfg.region}.amazonaws.com",
    }
    assert decrypts["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:s3:arn": f"{docs.cfg.bucket_arn('exports')}/exports/acme-research/*"
    }
    assert decrypts["Condition"]["DateLessThanEquals"] == {"aws:CurrentTime": "2026-05-31T00:00:00Z"}


def test_recipient_read_logs(docs):
    _recipient_reaches_nothing_else(docs)
    for s in docs.audit_bucket["Statement"]:
        if s["Effect"] == "Allow":
            assert list(s["Principal"]) == ["Service"], s["Sid"]


# --------------------------------------------------------------------------- anonymous


def _nothing_public(docs: Docs) -> None:
    for name in ("data_bucket", "audit_bucket", "key", "secret"):
        assert not public_allows(getattr(docs, name)), f"{name} allows anyone"
    for trust in (docs.workload_trust, docs.staff_trust, docs.auditor_trust):
        for s in trust["Statement"]:
            assert s["Effect"] == "Deny" or s["Principal"] not in ("*", {"AWS": "*"}), s["Sid"]
    assert not public_allows(docs.export_bucket) and not public_allows(docs.export_key)


def test_anonymous_read_data(docs):
    _nothing_public(docs)


def test_anonymous_write_data(docs):
    _nothing_public(docs)


def test_anonymous_change_replication_or_bucket_policy(docs):
    _nothing_public(docs)
    assert_change_denied(docs, None)


def test_anonymous_decrypt(docs):
    _nothing_public(docs)
    assert "*" not in key_users(docs, "kms:Decrypt")


def test_anonymous_read_logs(docs):
    _nothing_public(docs)


@pytest.mark.parametrize("stack", ["dublin", "hamar"])
def test_every_bucket_blocks_public_access(stack, program_run):
    """Anonymous access also meets the four public-access blocks on every bucket of the program."""
    run = program_run(stack)
    buckets = run.of_type("aws:s3/bucket:Bucket")
    blocks = {
        r.inputs["bucket"]: r.inputs for r in run.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    }
    assert len(buckets) >= 3
    for bucket in buckets:
        block = blocks.get(bucket.id)
        assert block, f"{bucket.urn}: no public access block"
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block.get(flag) is True, f"{bucket.urn}: {flag}"


# --------------------------------------------------------------------------- the table itself


def test_every_cell_has_its_proof():
    names = {name for name in globals() if name.startswith("test_")}
    slug = {
        "staff under a grant in force (MFA, its ticket)": "staff_with_grant",
        "staff without a grant in force": "staff_without_grant",
        "transfer recipient under a grant in force": "recipient",
        "other data-account principal": "other_principal",
        "workload role": "workload",
        "auditor": "auditor",
        "deployment role": "deployer",
        "anonymous": "anonymous",
    }
    assert set(MATRIX) == set(PRINCIPALS) and all(len(row) == len(ACTIONS) for row in MATRIX.values())
    for principal in PRINCIPALS:
        for action in ACTIONS:
            name = f"test_{slug[principal]}_{action.replace(' ', '_')}"
            assert name in names, f"cell ({principal}, {action}) has no proof {name}"


def render_matrix() -> str:
    """The matrix as the Markdown table the docs show."""
    lines = ["| principal | " + " | ".join(ACTIONS) + " |", "| --- |" + " --- |" * len(ACTIONS)]
    lines += [f"| {p} | " + " | ".join(MATRIX[p]) + " |" for p in PRINCIPALS]
    return "\n".join(lines)


def test_docs_show_this_matrix():
    assert render_matrix() in DOC.read_text(), f"{DOC}: paste the table from tests/test_access_matrix.py:render_matrix"


def test_documents_are_json_serialisable(docs):
    for name in Docs.__dataclass_fields__:
        if name != "cfg":
            json.dumps(getattr(docs, name))
