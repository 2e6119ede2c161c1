"""The site's organization policies, created and attached from the management account (or the policies' delegated administrator)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from guardrails.config import GuardrailsConfig
from guardrails.documents import policy_documents
from guardrails.service_control import compact_json


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
    and attachments are ``protect``ed: removing a guardrail is a deliberate act;
    a sandbox's are not, so the operator can tear them down after the trial.
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
        child = pulumi.ResourceOptions(parent=self, provider=self.provider, protect=not site.sandbox)
        self.policy_ids = {}
        for policy_name, (kind, description, document) in policy_documents(site, cfg.ci_account_id).items():
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
