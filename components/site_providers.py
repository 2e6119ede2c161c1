"""Explicit AWS providers of one site: the data account and the operator account."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import SiteConfig


@dataclass(frozen=True)
class SiteProvidersArgs:
    """Inputs of ``SiteProviders``."""

    config: SiteConfig
    """The validated site configuration."""


class SiteProviders(pulumi.ComponentResource):
    """The only two AWS providers a site uses, both pinned to the site's region.

    The default provider is disabled (``pulumi:disable-default-providers``), so a
    resource without one of these providers fails to register instead of
    landing in whatever region the operator's shell happens to point at.
    ``allowed_account_ids`` makes the provider refuse to act if the credentials
    resolve to any other account.
    """

    data: aws.Provider
    """Provider for the data account (buckets, network, IAM, trail, secret)."""
    operator: aws.Provider
    """Provider that assumes the operator role: it creates the operator-held keys."""

    def __init__(self, name: str, args: SiteProvidersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:site:SiteProviders", name, None, opts)
        cfg = args.config
        tags = aws.ProviderDefaultTagsArgs(tags=cfg.residency_tags)

        self.data = aws.Provider(
            f"{name}-data",
            region=cfg.region,
            allowed_account_ids=[cfg.data_account_id],
            default_tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.operator = aws.Provider(
            f"{name}-operator",
            region=cfg.region,
            allowed_account_ids=[cfg.operator_account_id],
            assume_roles=[
                aws.ProviderAssumeRoleArgs(
                    role_arn=cfg.operator_role_arn,
                    session_name=f"{cfg.name_prefix}-deploy",
                    external_id=cfg.operator_external_id,
                )
            ],
            default_tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"data_region": cfg.region, "operator_account_id": cfg.operator_account_id})
