"""reviewed-types: a site program uses only resource types the pack has reviewed.

The perimeter rules can only vouch for what they understand. A type that is
in the registry (``registry/``) was reviewed: it is residency-safe, or a named
rule checks it, or it is forbidden (its rule reports that). Any other
``aws:`` type is refused here until someone reviews it: into the registry
with a reason and tests, or for one stack in its policy config
(``reviewedTypes``: the type, a reason and an approver).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from . import exceptions, names
from .registry import REGISTRY

NAME = names.REVIEWED_TYPES

LOCAL_PACKAGES = ("random",)
"""Packages whose resources never leave the machine running the deployment (pulumi-random)."""

REVIEWED_TYPES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Types this stack may use although the pack's registry has not reviewed them.",
    "items": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "pattern": "^aws:[A-Za-z0-9]+/[A-Za-z0-9]+:[A-Za-z0-9_]+$"},
            "reason": {"type": "string", "minLength": 1},
            "approver": {"type": "string", "minLength": 1},
        },
        "required": ["type", "reason", "approver"],
        "additionalProperties": False,
    },
}


def _config_reviewed(args: ResourceValidationArgs) -> set[str]:
    entries = args.get_config().get("reviewedTypes") or []
    return {
        e["type"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("type"), str) and e.get("reason") and e.get("approver")
    }


def unreviewed_message(resource_type: str) -> str:
    service = resource_type.split(":")[1].split("/")[0]
    return (
        f"{resource_type} is not a type the residency pack has reviewed, so no rule can vouch that it keeps "
        f"data in the site: review it into the registry (policy/residency_rules/registry/, with a reason or the "
        f"rule that checks it, and tests; see docs/policy-pack.md) or list it under '{NAME}'.reviewedTypes in "
        f"this stack's policy config with a reason and an approver (service '{service}')"
    )


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    typ = args.resource_type
    if not typ.startswith("aws:"):
        return  # providers: region-pinned; local packages: safe; other packages: region-pinned refuses them
    if typ in REGISTRY or typ in _config_reviewed(args):
        return
    report_violation(unreviewed_message(typ))


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Every AWS resource type is one the pack has reviewed (its registry) or the stack's policy config lists with a reason.",
    validate=exceptions.resource_policy(NAME, validate),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=exceptions.config_schema({"reviewedTypes": REVIEWED_TYPES_SCHEMA}),
)
