"""The site's organization policies, created and attached from the management account (or the policies' delegated administrator)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import SiteConfig
from guardrails.config import GuardrailsConfig
from guardrails.resource_control import DESCRIPTIONS as RCP_DESCRIPTIONS
from guardrails.resource_control import RESOURCE_CONTROL_POLICIES
from guardrails.service_control import DESCRIPTIONS as SCP_DESCRIPTIONS
from guardrails.service_control import SERVICE_CONTROL_POLICIES, compact_json

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"

POLICY_SIZE_LIMIT = 5120
"""Characters of one SCP or RCP (Organizations quota; SCPs since May 2026 get 10,240, kept at the stricter value)."""

POLICIES_PER_TARGET = 5
"""SCPs, and separately RCPs, attached directly to one account or OU (FullAWSAccess and RCPFullAWSAccess count)."""


def policy_documents(cfg: SiteConfig) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every guardrail of the site: ``{name: (type, description, document)}``, ``name`` = ``enclave-<site>-<short>``."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    kinds: tuple[tuple[str, dict[str, Callable[[SiteConfig], dict]], dict[str, str]], ...] = (
        (SCP, SERVICE_CONTROL_POLICIES, SCP_DESCRIPTIONS),
        (RCP, RESOURCE_CONTROL_POLICIES, RCP_DESCRIPTIONS),
    )
    for kind, builders, descriptions in kinds:
        for short, build in builders.items():
            description = descriptions[short].format(region=cfg.region)
            found[f"{cfg.name_prefix}-{short}"] = (kind, description, build(cfg))
    return found


@dataclass(frozen=True)
class OrganizationGuardrailsArgs:
    """Inputs of ``OrganizationGuardrails``."""

    config: GuardrailsConfig
    """The validated guardrails configuration (with the site's)."""


class OrganizationGuardrails(pulumi.ComponentResource):
    """The SCPs and RCPs of one site, attached to its data account (or OU), through a provider pinned to the policy administrator.

    Organizations is a global service (botocore: one endpoint, in us-east-1,
    whatever the client's region), so the provider is pinned to the site's
    region like every other, for the residency pack's sake; its
    ``allowed_account_ids`` make it refuse data-account credentials. Policies
    and attachments are ``protect``ed: removing a guardrail is a deliberate act.
    """

    provider: aws.Provider
    """The explicit provider in the policy administrator's account."""
    policy_ids: dict[str, pulumi.Output[str]]
    """Organizations policy id (``p-...``) per policy name."""

    def __init__(self, name: str, args: OrganizationGuardrailsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("enclave:guardrails:OrganizationGuardrails", name, None, opts)
        cfg = args.config
        site = cfg.site
        self.provider = aws.Provider(
            f"{name}-organization",
            region=site.region,
            allowed_account_ids=[cfg.policy_administrator_account_id],
            default_tags=aws.ProviderDefaultTagsArgs(tags=site.residency_tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider, protect=True)
        self.policy_ids = {}
        for policy_name, (kind, description, document) in policy_documents(site).items():
            policy = aws.organizations.Policy(
                policy_name,
                name=policy_name,
                type=kind,
                description=description,
                content=compact_json(document),
                opts=child,
            )
            aws.organizations.PolicyAttachment(
                f"{policy_name}-attachment",
                policy_id=policy.id,
                target_id=cfg.target_id,
                opts=child,
            )
            self.policy_ids[policy_name] = policy.id
        self.register_outputs({"target_id": cfg.target_id, "policy_ids": self.policy_ids})
