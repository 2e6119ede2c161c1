"""The site's guardrails: organization policies the operator holds. Wiring only; see docs/guardrails.md."""

import sys
from pathlib import Path

# The CLI runs this file with guardrails/ as the working directory and only it on
# sys.path; the shared `components` and this `guardrails` package live one level up.
_REPO = str(Path(__file__).resolve().parent.parent)
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

import pulumi  # noqa: E402

from guardrails.config import load_guardrails_config  # noqa: E402
from guardrails.organization_guardrails import OrganizationGuardrails, OrganizationGuardrailsArgs  # noqa: E402

cfg = load_guardrails_config()
guardrails = OrganizationGuardrails(cfg.name_prefix, OrganizationGuardrailsArgs(config=cfg))

pulumi.export("site", cfg.site.site)
pulumi.export("region", cfg.site.region)
pulumi.export("organization_id", cfg.organization_id)
pulumi.export("management_account_id", cfg.management_account_id)
pulumi.export("policy_administrator_account_id", cfg.policy_administrator_account_id)
pulumi.export("target_id", cfg.target_id)
pulumi.export("policy_ids", guardrails.policy_ids)
