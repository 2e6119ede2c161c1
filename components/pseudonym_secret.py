"""The site's pseudonymisation pepper: one random secret per site, readable only by the workload.

Services replace a user identifier with ``pseudonymise(pepper, identifier)``, a
keyed hash: without the pepper nobody can recompute or test a guess, and the
two sites' pseudonyms cannot be joined because each site has its own pepper.
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.config import SiteConfig

PEPPER_LENGTH = 64
"""Characters of the pepper (alphanumeric, about 380 bits)."""

MIN_PEPPER_BYTES = 32
"""``pseudonymise`` refuses a shorter pepper: an empty or truncated secret must fail loudly."""

RECOVERY_WINDOW_DAYS = 30
"""A deleted pepper can be restored for 30 days (the longest Secrets Manager allows)."""

SANDBOX_RECOVERY_WINDOW_DAYS = 0
"""A sandbox's pepper is deleted at once, so the next trial can reuse the secret's name."""


def pepper_secret_name(cfg: SiteConfig) -> str:
    """Name of the site's pepper secret in Secrets Manager."""
    return f"{cfg.name_prefix}-pseudonym-pepper"


def pepper_secret_arn_pattern(cfg: SiteConfig) -> str:
    """ARN pattern of the pepper secret (Secrets Manager appends a dash and six random characters)."""
    return f"arn:aws:secretsmanager:{cfg.region}:{cfg.data_account_id}:secret:{pepper_secret_name(cfg)}-??????"


def pseudonymise(pepper: bytes, identifier: str) -> str:
    """The pseudonym of ``identifier``: HMAC-SHA256 keyed with the site's pepper, as lower-case hex."""
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(
            f"pepper is {len(pepper)} bytes; expected at least {MIN_PEPPER_BYTES}: pass the whole "
            "SecretString of the site's <prefix>-pseudonym-pepper secret, UTF-8 encoded"
        )
    return hmac.new(pepper, identifier.encode("utf-8"), hashlib.sha256).hexdigest()


def pepper_secret_policy(cfg: SiteConfig, workload_role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Resource policy of the pepper: only the workload (and the deployer) read it; it is never replicated."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyReadExceptWorkloadAndDeployer",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                # The deployer wrote the value and its provider reads the version
                # back on every update and refresh; nobody else, whatever their
                # identity policy says, may read it.
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": [workload_role_arn, cfg.deployment_role_arn]}},
            },
            {
                "Sid": "DenyReplication",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:ReplicateSecretToRegions",
                "Resource": "*",
            },
        ],
    }


@dataclass(frozen=True)
class PseudonymSecretArgs:
    """Inputs of ``PseudonymSecret``."""

    config: SiteConfig
    """The validated site configuration."""
    provider: aws.Provider
    """The data-account provider (``SiteProviders.data``)."""
    key_arn: pulumi.Input[str]
    """ARN of the operator-held KMS key that encrypts the secret."""
    workload_role_arn: pulumi.Input[str]
    """The only runtime principal allowed to read the pepper (``SecurityGates.workload_role_arn``)."""


class PseudonymSecret(pulumi.ComponentResource):
    """A per-site pepper in Secrets Manager, encrypted with the operator key, never replicated.

    The pepper, the secret and its version are protected: a new pepper would
    silently change every pseudonym and break every join on them.
    """

    secret_arn: pulumi.Output[str]
    """ARN of the pepper secret."""
    secret_name: pulumi.Output[str]
    """Name of the pepper secret."""

    def __init__(self, name: str, args: PseudonymSecretArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:secrets:PseudonymSecret", name, None, opts)
        cfg = args.config
        on_provider = pulumi.ResourceOptions(parent=self, provider=args.provider)
        protected = pulumi.ResourceOptions(parent=self, provider=args.provider, protect=not cfg.sandbox)

        pepper = random.RandomPassword(
            f"{name}-pepper",
            length=PEPPER_LENGTH,
            # Alphanumeric only: the pepper's bytes are its UTF-8 text, no escaping anywhere.
            special=False,
            opts=pulumi.ResourceOptions(parent=self, protect=not cfg.sandbox),
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=pepper_secret_name(cfg),
            description=f"Pseudonymisation pepper of {cfg.name_prefix}: HMAC-SHA256 key for user identifiers",
            kms_key_id=args.key_arn,
            recovery_window_in_days=SANDBOX_RECOVERY_WINDOW_DAYS if cfg.sandbox else RECOVERY_WINDOW_DAYS,
            opts=protected,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=secret.id,
            secret_string=pepper.result,
            opts=protected,
        )
        aws.secretsmanager.SecretPolicy(
            f"{name}-policy",
            secret_arn=secret.arn,
            policy=pulumi.Output.json_dumps(pepper_secret_policy(cfg, args.workload_role_arn)),
            block_public_policy=True,
            opts=on_provider,
        )
        self.secret_arn = secret.arn
        self.secret_name = secret.name
        self.register_outputs({"secret_arn": self.secret_arn, "secret_name": self.secret_name})
