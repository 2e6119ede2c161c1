"""Shared by ``audit`` and ``bootstrap``: site config, the caller's account, and boto3 calls.


Every AWS call of ``audit`` and ``bootstrap`` goes through ``call`` or ``pages``:
"nothing configured" error codes become ``None``; access denied names the API
call, the IAM permission to grant and the resource; missing credentials and an
unreachable endpoint say how to fix them. Everything else that stops the run is
also a ``UsageError``, so no command ever reports a half-done result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from enclave.cli import UsageError

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AllAccessDisabled",
        "403",  # HEAD requests carry no error body, only the status
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
    }
)

# IAM actions whose name differs from the API operation (S3's older naming), keyed by the
# botocore service name: S3 Control signs as "s3" but its GetPublicAccessBlock is the account's.
_IAM_ACTION = {
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "ListBucketInventoryConfigurations"): "s3:GetInventoryConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "CreateBucket"): "s3:CreateBucket",
}
# IAM prefixes that differ from the signing name.
_IAM_PREFIX = {"tagging": "tag"}

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
    "or run inside a role session (aws sso login / aws sts assume-role)"
)


def iam_action(client: Any, operation: str) -> str:
    """The IAM permission an API operation needs, e.g. ``s3:GetReplicationConfiguration``."""
    model = client.meta.service_model
    prefix = _IAM_PREFIX.get(model.signing_name, model.signing_name)
    return _IAM_ACTION.get((model.service_name, operation), f"{prefix}:{operation}")


SCP_DENIAL = "service control policy"
"""What AWS's access-denied message says when an organization's SCP refused the request: "... with an
explicit deny in a service control policy", or "... because no service control policy allows ..."."""


class AccessDeniedError(UsageError):
    """AWS refused the call: the message names the call, the permission to grant and the resource."""

    def __init__(self, message: str, action: str, aws_message: str = ""):
        super().__init__(message)
        self.action = action
        self.aws_message = aws_message

    @property
    def by_scp(self) -> bool:
        """Whether AWS says a service control policy refused it (not the caller's own policies)."""
        return SCP_DENIAL in self.aws_message.lower()


def _fail(client: Any, operation: str, target: str, exc: Exception) -> UsageError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    action = iam_action(client, operation)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return UsageError(NO_CREDENTIALS)
    if isinstance(exc, EndpointConnectionError):
        return UsageError(
            f"{action} on {target}: could not reach {exc.kwargs.get('endpoint_url')}; check the network "
            "and AWS_ENDPOINT_URL"
        )
    if isinstance(exc, NoRegionError):  # pragma: no cover - clients always get the site region
        return UsageError(f"{action}: no region configured")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in ACCESS_DENIED_CODES:
            # A key of another account answers only if its key policy allows the call too.
            also = " and in the key policy of a key held by another account" if action.startswith("kms:") else ""
            return AccessDeniedError(
                f"{action} denied on {target}: grant it to the role running this command "
                f"(the auditor role for audits){also}, then run again (AWS said: {message or code})",
                action,
                message,
            )
        if code in CREDENTIAL_CODES:
            return UsageError(
                f"{action} on {target}: the AWS credentials were rejected ({code}): refresh them "
                "(aws sso login, a new assume-role session) and run again"
            )
        return UsageError(f"{action} on {target} failed: {code}: {message}")
    return UsageError(f"{action} on {target} failed: {exc}")


def call(client: Any, operation: str, target: str, *, none_codes: tuple[str, ...] = (), **kwargs: Any) -> Any:
    """Call ``operation`` (CamelCase API name); ``None`` when AWS answers one of ``none_codes``."""
    from botocore import xform_name
    from botocore.exceptions import BotoCoreError, ClientError

    method = getattr(client, xform_name(operation))
    try:
        return method(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in none_codes:
            return None
        raise _fail(client, operation, target, exc) from exc
    except BotoCoreError as exc:
        raise _fail(client, operation, target, exc) from exc


def pages(client: Any, operation: str, target: str, **kwargs: Any) -> Iterator[dict]:
    """Every page of ``operation``: botocore's paginator, or ``NextToken`` by hand where botocore has none."""
    from botocore import xform_name
    from botocore.exceptions import BotoCoreError, ClientError

    name = xform_name(operation)
    try:
        if client.can_paginate(name):
            yield from client.get_paginator(name).paginate(**kwargs)
            return
        while True:
            page = getattr(client, name)(**kwargs)
            yield page
            if not page.get("NextToken"):
                return
            kwargs = {**kwargs, "NextToken": page["NextToken"]}
    except (ClientError, BotoCoreError) as exc:
        raise _fail(client, operation, target, exc) from exc


def add_site_arguments(parser: Any) -> None:
    """``--stack`` and ``--config``, shared by both commands."""
    parser.add_argument("--stack", required=True, help="stack whose site to use, e.g. dublin or hamar")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a Pulumi.<stack>.yaml-shaped file to read the site config from instead of the stack's",
    )


def add_report_arguments(parser: Any, *, reports: str, operator_help: str) -> None:
    """``--stack``/``--config`` and the report options ``audit`` and ``preflight`` share.

    ``reports`` names the files ``--out`` writes; ``operator_help`` says what ``--operator-profile`` is for.
    """
    add_site_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="what to print on stdout (default: text)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"also write {reports} into DIR")
    parser.add_argument("--operator-profile", metavar="PROFILE", help=operator_help)


def load_site(stack: str, config_file: Path | None) -> Any:
    """The validated ``SiteConfig`` of ``stack`` (or of ``config_file``); ``UsageError`` if invalid."""
    from components.config import SiteConfigError, site_config_from_mapping

    try:
        return site_config_from_mapping(load_site_values(stack, config_file))
    except SiteConfigError as exc:
        raise UsageError(str(exc)) from exc


def load_site_values(stack: str, config_file: Path | None) -> dict[str, Any]:
    """The flat ``namespace:key`` config of ``stack`` (or of ``config_file``), as the Pulumi CLI passes it."""
    import yaml

    from enclave.harness import PROJECT_DIR, HarnessError, load_stack_config

    try:
        if config_file is None:
            return load_stack_config(PROJECT_DIR, stack)
        return _read_config_file(config_file, yaml)
    except HarnessError as exc:
        raise UsageError(str(exc)) from exc


def guardrails_file(stack: str) -> Path:
    """The guardrails stack file of a site stack (same stack name, in the guardrails project)."""
    from enclave.harness import PROJECT_DIR

    return PROJECT_DIR / "guardrails" / f"Pulumi.{stack}.yaml"


def load_guardrails(stack: str, site_values: dict[str, Any]) -> Any:
    """The site's ``GuardrailsConfig``, read with the guardrails project's own reader; None without a stack file.

    ``UsageError`` when the file exists but is invalid (with the site's values it protects).
    """
    from guardrails.config import GuardrailsConfigError, guardrails_config_from_mapping, read_site_stack_values

    path = guardrails_file(stack)
    if not path.is_file():
        return None
    try:
        return guardrails_config_from_mapping(read_site_stack_values(stack, path.parent), site_values)
    except GuardrailsConfigError as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _read_config_file(path: Path, yaml: Any) -> dict[str, Any]:
    from enclave.harness import PROJECT_DIR, project_name

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"--config {path}: not valid YAML ({exc})") from exc
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise UsageError(f"--config {path}: expected a top-level 'config:' mapping like Pulumi.<stack>.yaml")
    project = project_name(PROJECT_DIR)
    values: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            raise UsageError(f"--config {path}: {key} is encrypted (secure:); put the plain value in the file")
        qualified = key if ":" in key else f"{project}:{key}"
        # Structured values travel JSON-encoded, as the Pulumi CLI passes them.
        values[qualified] = value if isinstance(value, str) else json.dumps(value)
    return values


def session_in(cfg: Any, profile: str | None = None) -> Any:
    """A boto3 session from the standard AWS settings (profile, env, SSO), pinned to the site region."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile, region_name=cfg.region)
    except ProfileNotFound as exc:
        name = exc.kwargs.get("profile", profile)
        raise UsageError(
            f"AWS profile {name!r} not found: check AWS_PROFILE and ~/.aws/config (or AWS_CONFIG_FILE)"
        ) from exc


def caller_account(session: Any, cfg: Any, expected: str, what: str) -> str:
    """The caller's account; ``UsageError`` naming both ids unless it is ``expected``."""
    sts = session.client("sts", region_name=cfg.region)
    identity = call(sts, "GetCallerIdentity", "the caller")
    account = identity["Account"]
    if account != expected:
        raise UsageError(
            f"the AWS credentials are for account {account} ({identity.get('Arn')}), but the {cfg.site} "
            f"site's {what} is {expected}: use credentials of account {expected}"
        )
    return account
