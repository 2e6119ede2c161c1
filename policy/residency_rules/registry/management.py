"""Account management and governance: organization guardrails, resource groups, quotas, budgets."""

from . import checked, safe
from ._rules import ID, REG

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:organizations/policy:Policy": checked("a guardrail document: only its Allow statements could open anything, and they are scanned; AWS Organizations is global, so it has no region of its own", ID, REG),
    "aws:organizations/policyAttachment:PolicyAttachment": checked("attaches a guardrail to a site account, or to an OU or root only if it is a service or resource control policy", ID),
    "aws:resourcegroups/group:Group": safe("a saved query over resources of the site"),
    "aws:resourcegroups/resource:Resource": safe("adds a resource of the site to a group"),
    "aws:servicequotas/serviceQuota:ServiceQuota": safe("asks AWS to raise a quota in the region"),
    "aws:budgets/budget:Budget": safe("a cost budget; its notification addresses are scanned like every input"),
    "aws:costexplorer/costAllocationTag:CostAllocationTag": safe("makes a tag count in cost reports"),
}
# fmt: on
