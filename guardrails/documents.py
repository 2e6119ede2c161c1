"""Every guardrail document of a site, as pure data: what the program sends, the config sizes and the audit compares.

Pure functions of the configuration: the program serialises these documents,
the configuration refuses one that would exceed Organizations' size limit,
and the audit compares the attached policies with them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from components.config import SiteConfig
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

Builder = Callable[[SiteConfig, str | None], dict[str, Any]]


def policy_documents(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every guardrail of the site: ``{name: (type, description, document)}``, ``name`` = ``enclave-<site>-<short>``.

    ``ci_account_id`` is the guardrails' ``ciAccountId`` (the pipeline's account), if any. Transfer
    recipients are those of ``cfg.transfer_grants_in_force``, judged at ``cfg.as_of``.
    """
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    kinds: tuple[tuple[str, dict[str, Builder], dict[str, str]], ...] = (
        (SCP, SERVICE_CONTROL_POLICIES, SCP_DESCRIPTIONS),
        (RCP, RESOURCE_CONTROL_POLICIES, RCP_DESCRIPTIONS),
    )
    for kind, builders, descriptions in kinds:
        for short, build in builders.items():
            description = descriptions[short].format(region=cfg.region)
            found[f"{cfg.name_prefix}-{short}"] = (kind, description, build(cfg, ci_account_id))
    return found


def oversized(cfg: SiteConfig, ci_account_id: str | None = None) -> list[tuple[str, int]]:
    """The documents longer than ``POLICY_SIZE_LIMIT``, with their sizes (empty when all fit)."""
    sizes = [(name, len(compact_json(doc))) for name, (_k, _d, doc) in policy_documents(cfg, ci_account_id).items()]
    return [(name, size) for name, size in sizes if size > POLICY_SIZE_LIMIT]


def deployable_contents(cfg: SiteConfig, ci_account_id: str | None = None) -> dict[str, list[str]]:
    """Per policy name, every content a deploy of this config could have left attached, newest first.

    The documents name the transfer grants in force when the operator deployed them; a grant that
    expired since stays in the attached policy (inert: its window statements deny it) until the next
    deploy. So the first content is the document at ``cfg.as_of``; the others are the documents at
    each earlier instant a declared grant expired, while it was still in force. The audit: the first
    content is current; a later one is stale but safe (ask the operator to deploy); any other is not
    this config's.
    """
    instants = [cfg.as_of] + sorted((g.not_after for g in cfg.transfer_grants if g.not_after < cfg.as_of), reverse=True)
    contents: dict[str, list[str]] = {}
    for at in instants:
        for name, (_k, _d, doc) in policy_documents(dataclasses.replace(cfg, evaluated_at=at), ci_account_id).items():
            text = compact_json(doc)
            if text not in contents.setdefault(name, []):
                contents[name].append(text)
    return contents
