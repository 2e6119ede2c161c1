"""TEST-SIDE EXTENSION: the AWS operations moto 5.2.5 does not implement, answered from per-account state.

The audit reads Route 53 Resolver DNS Firewall and the EC2 account-level blocks
(VPC Block Public Access, snapshot and image block public access, serial
console, instance metadata defaults) and SSM's service settings, none of which
moto models; the drifts
also need ``DisassociateResolverQueryLogConfig``, which moto lacks although it
models the associations (that one handler acts on moto's own state).

For the guardrails, moto models AWS Organizations (organizations, accounts,
policies, attachments) but enforces none of it, so this backend adds what AWS
does with that state (each acts on moto's own organizations, read-only):

- the service control policies in effect (``scp_decision``): for an account of
  an organization with all features and SCPs enabled on its root, a request is
  allowed only if every level (root, OUs, the account) has an SCP that allows
  it and none denies it, evaluated by ``tests.iam_eval``; the management account
  and accounts outside an organization are not bound;
- ``iam:SimulatePrincipalPolicy``, which moto lacks: the SCP decision above as
  ``OrganizationsDecisionDetail`` (omitted outside an organization, as AWS
  does), and the principal's own policies and boundary as ``EvalDecision``;
- ``lambda:GetAccountSettings`` (the audit's perimeter probe), which moto
  lacks: refused, with AWS's enhanced access-denied message, when the caller's
  SCPs refuse it;
- who may read the organization's policies: ``ListPoliciesForTarget``,
  ``ListParents`` and ``DescribePolicy`` answer the management account, and a
  member account only if the organization's resource-based delegation policy
  (``PutResourcePolicy``, which moto lacks) allows it (moto answers a member
  from the member's own, empty, backend); ``AttachPolicy`` of an SCP or RCP
  needs all features and the policy type enabled on the root;
- ``enforce_scps(client, principal)``: the same SCP decision on every call of
  one client, for tests of the audit running under the guardrails as they are.

Rather than skip those checks or fake their results, the tests give exactly these
operations a small backend that behaves like AWS's API:

- the state changes only through the same API operations an account sees
  (``CreateFirewallRuleGroup``, ``ModifyVpcBlockPublicAccessOptions``, ...), so
  the compliant estate and every drift are written as AWS API calls;
- botocore validates every request against the service model before it gets
  here (as for any call), and every response is validated against the
  operation's output shape before it is returned (``ParamValidator``, what
  botocore's ``Stubber`` uses): a response AWS could not send fails the test;
- defaults are AWS's documented ones (VPC Block Public Access ``off``, snapshots
  and images ``unblocked``, serial console off, fail-open ``DISABLED``, public
  sharing of SSM documents ``Enable``).

It hooks in the way moto does: a ``before-call`` handler in botocore's
``BUILTIN_HANDLERS`` (so every client created afterwards has it), answering
only the operations in ``HANDLERS`` while ``activate()`` is in force, and
letting every other call through to moto. Import it before creating any boto3
session. What it cannot show is AWS's own behaviour (eventual consistency, the
exact error codes of refusals): the first real deployment checks those
(docs/bootstrap-and-audit.md, "checks for the first real deployment").
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from botocore.handlers import BUILTIN_HANDLERS
from botocore.validate import ParamValidator

ACCOUNT_CONTEXT_KEY = "unmodelled_account"
"""``context`` key a test client may set (``before-parameter-build``) to name the account it acts in."""
_PARAMS_KEY = "unmodelled_params"

_ACTIVE = False
_COUNTER = itertools.count(1)


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class RegionState:
    """What one account holds in one region, in the API's own shapes."""

    account: str
    region: str
    domain_lists: dict[str, dict] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    rule_groups: dict[str, dict] = field(default_factory=dict)
    rules: dict[str, list[dict]] = field(default_factory=dict)
    associations: dict[str, dict] = field(default_factory=dict)
    fail_open: dict[str, str] = field(default_factory=dict)
    vpc_bpa_mode: str = "off"
    vpc_bpa_state: str = "default-state"
    bpa_exclusions: dict[str, dict] = field(default_factory=dict)
    snapshot_bpa: str = "unblocked"
    image_bpa: str = "unblocked"
    serial_console: bool = False
    metadata_defaults: dict[str, Any] = field(default_factory=dict)
    ssm_settings: dict[str, str] = field(default_factory=dict)
    caller: str = ""
    """The IAM principal ARN of the call being answered (a role's ARN for its sessions, else the account root)."""

    def arn(self, kind: str, ident: str) -> str:
        return f"arn:aws:route53resolver:{self.region}:{self.account}:{kind}/{ident}"


STATE: dict[tuple[str, str], RegionState] = {}
DELEGATIONS: dict[str, str] = {}
"""Management account -> its organization's resource-based delegation policy (``PutResourcePolicy``)."""


def activate() -> None:
    """Start with an empty account state everywhere (call at the start of each test's moto)."""
    global _ACTIVE
    STATE.clear()
    DELEGATIONS.clear()
    _ACTIVE = True


def deactivate() -> None:
    global _ACTIVE
    STATE.clear()
    DELEGATIONS.clear()
    _ACTIVE = False


def _state(account: str, region: str) -> RegionState:
    return STATE.setdefault((account, region), RegionState(account, region))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _id(prefix: str) -> str:
    return f"{prefix}-{next(_COUNTER):017x}"


# --------------------------------------------------------------------------- Route 53 Resolver DNS Firewall


def _domain_list(state: RegionState, list_id: str) -> dict:
    if list_id not in state.domain_lists:
        raise ApiError("ResourceNotFoundException", f"domain list {list_id} not found")
    return state.domain_lists[list_id]


def _rule_group(state: RegionState, group_id: str) -> dict:
    if group_id not in state.rule_groups:
        raise ApiError("ResourceNotFoundException", f"rule group {group_id} not found")
    return state.rule_groups[group_id]


def _association(state: RegionState, association_id: str) -> dict:
    if association_id not in state.associations:
        raise ApiError("ResourceNotFoundException", f"association {association_id} not found")
    return state.associations[association_id]


def create_firewall_domain_list(state: RegionState, p: dict) -> dict:
    ident = _id("rslvr-fdl")
    state.domain_lists[ident] = {
        "Id": ident,
        "Arn": state.arn("firewall-domain-list", ident),
        "Name": p["Name"],
        "DomainCount": 0,
        "Status": "COMPLETE",
        "CreatorRequestId": p["CreatorRequestId"],
        "CreationTime": _now(),
        "ModificationTime": _now(),
    }
    state.domains[ident] = []
    return {"FirewallDomainList": state.domain_lists[ident]}


def update_firewall_domains(state: RegionState, p: dict) -> dict:
    listing = _domain_list(state, p["FirewallDomainListId"])
    current = state.domains[listing["Id"]]
    if p["Operation"] == "ADD":
        current = sorted(set(current) | set(p["Domains"]))
    elif p["Operation"] == "REMOVE":
        current = [d for d in current if d not in p["Domains"]]
    else:
        current = sorted(set(p["Domains"]))
    state.domains[listing["Id"]] = current
    listing.update(DomainCount=len(current), ModificationTime=_now())
    return {"Id": listing["Id"], "Name": listing["Name"], "Status": "COMPLETE"}


def get_firewall_domain_list(state: RegionState, p: dict) -> dict:
    return {"FirewallDomainList": _domain_list(state, p["FirewallDomainListId"])}


def list_firewall_domains(state: RegionState, p: dict) -> dict:
    listing = _domain_list(state, p["FirewallDomainListId"])
    return {"Domains": list(state.domains[listing["Id"]])}


def create_firewall_rule_group(state: RegionState, p: dict) -> dict:
    ident = _id("rslvr-frg")
    state.rule_groups[ident] = {
        "Id": ident,
        "Arn": state.arn("firewall-rule-group", ident),
        "Name": p["Name"],
        "RuleCount": 0,
        "Status": "COMPLETE",
        "OwnerId": state.account,
        "CreatorRequestId": p["CreatorRequestId"],
        "ShareStatus": "NOT_SHARED",
        "CreationTime": _now(),
        "ModificationTime": _now(),
    }
    state.rules[ident] = []
    return {"FirewallRuleGroup": state.rule_groups[ident]}


def get_firewall_rule_group(state: RegionState, p: dict) -> dict:
    return {"FirewallRuleGroup": _rule_group(state, p["FirewallRuleGroupId"])}


_RULE_FIELDS = (
    "FirewallDomainListId",
    "Name",
    "Priority",
    "Action",
    "BlockResponse",
    "BlockOverrideDomain",
    "BlockOverrideDnsType",
    "BlockOverrideTtl",
    "FirewallDomainRedirectionAction",
    "Qtype",
)


def create_firewall_rule(state: RegionState, p: dict) -> dict:
    group = _rule_group(state, p["FirewallRuleGroupId"])
    if p.get("FirewallDomainListId"):
        _domain_list(state, p["FirewallDomainListId"])
    if p["Action"] == "BLOCK" and not p.get("BlockResponse"):
        raise ApiError("ValidationException", "BlockResponse is required for a BLOCK rule")
    rule = {
        "FirewallRuleGroupId": group["Id"],
        **{k: p[k] for k in _RULE_FIELDS if k in p},
        "CreatorRequestId": p["CreatorRequestId"],
        "CreationTime": _now(),
        "ModificationTime": _now(),
    }
    state.rules[group["Id"]].append(rule)
    group["RuleCount"] = len(state.rules[group["Id"]])
    return {"FirewallRule": rule}


def _find_rule(state: RegionState, p: dict) -> dict:
    _rule_group(state, p["FirewallRuleGroupId"])
    for rule in state.rules[p["FirewallRuleGroupId"]]:
        if rule.get("FirewallDomainListId") == p.get("FirewallDomainListId"):
            return rule
    raise ApiError("ResourceNotFoundException", "rule not found")


def update_firewall_rule(state: RegionState, p: dict) -> dict:
    rule = _find_rule(state, p)
    rule.update({k: p[k] for k in _RULE_FIELDS if k in p}, ModificationTime=_now())
    return {"FirewallRule": rule}


def delete_firewall_rule(state: RegionState, p: dict) -> dict:
    rule = _find_rule(state, p)
    state.rules[p["FirewallRuleGroupId"]].remove(rule)
    state.rule_groups[p["FirewallRuleGroupId"]]["RuleCount"] -= 1
    return {"FirewallRule": rule}


def list_firewall_rules(state: RegionState, p: dict) -> dict:
    _rule_group(state, p["FirewallRuleGroupId"])
    rules = [
        r
        for r in state.rules[p["FirewallRuleGroupId"]]
        if all(r.get(k) == p[k] for k in ("Priority", "Action") if k in p)
    ]
    return {"FirewallRules": rules}


def associate_firewall_rule_group(state: RegionState, p: dict) -> dict:
    group = _rule_group(state, p["FirewallRuleGroupId"])
    for other in state.associations.values():
        if other["VpcId"] == p["VpcId"] and other["Priority"] == p["Priority"]:
            raise ApiError("ConflictException", f"priority {p['Priority']} is taken on {p['VpcId']}")
    ident = _id("rslvr-frgassoc")
    state.associations[ident] = {
        "Id": ident,
        "Arn": state.arn("firewall-rule-group-association", ident),
        "FirewallRuleGroupId": group["Id"],
        "VpcId": p["VpcId"],
        "Name": p["Name"],
        "Priority": p["Priority"],
        "MutationProtection": p.get("MutationProtection", "DISABLED"),
        "Status": "COMPLETE",
        "CreatorRequestId": p["CreatorRequestId"],
        "CreationTime": _now(),
        "ModificationTime": _now(),
    }
    return {"FirewallRuleGroupAssociation": state.associations[ident]}


def update_firewall_rule_group_association(state: RegionState, p: dict) -> dict:
    association = _association(state, p["FirewallRuleGroupAssociationId"])
    association.update({k: p[k] for k in ("Priority", "MutationProtection", "Name") if k in p})
    association["ModificationTime"] = _now()
    return {"FirewallRuleGroupAssociation": association}


def disassociate_firewall_rule_group(state: RegionState, p: dict) -> dict:
    association = _association(state, p["FirewallRuleGroupAssociationId"])
    if association["MutationProtection"] == "ENABLED":
        raise ApiError("ValidationException", "disable mutation protection before disassociating the rule group")
    del state.associations[association["Id"]]
    return {"FirewallRuleGroupAssociation": {**association, "Status": "DELETING"}}


def list_firewall_rule_group_associations(state: RegionState, p: dict) -> dict:
    keys = ("FirewallRuleGroupId", "VpcId", "Priority", "Status")
    return {
        "FirewallRuleGroupAssociations": [
            a for a in state.associations.values() if all(a.get(k) == p[k] for k in keys if k in p)
        ]
    }


def _firewall_config(state: RegionState, vpc_id: str) -> dict:
    return {
        "Id": f"rslvr-fc-{vpc_id.removeprefix('vpc-')}",
        "ResourceId": vpc_id,
        "OwnerId": state.account,
        "FirewallFailOpen": state.fail_open.get(vpc_id, "DISABLED"),
    }


def update_firewall_config(state: RegionState, p: dict) -> dict:
    state.fail_open[p["ResourceId"]] = p["FirewallFailOpen"]
    return {"FirewallConfig": _firewall_config(state, p["ResourceId"])}


def get_firewall_config(state: RegionState, p: dict) -> dict:
    return {"FirewallConfig": _firewall_config(state, p["ResourceId"])}


def list_firewall_configs(state: RegionState, p: dict) -> dict:
    # The configurations the account has defined (AWS's default, fail closed, applies to the others).
    return {"FirewallConfigs": [_firewall_config(state, vpc) for vpc in sorted(state.fail_open)]}


def list_firewall_domain_lists(state: RegionState, p: dict) -> dict:
    keys = ("Id", "Arn", "Name", "ManagedOwnerName", "CreatorRequestId")
    return {"FirewallDomainLists": [{k: d[k] for k in keys if k in d} for d in state.domain_lists.values()]}


def disassociate_resolver_query_log_config(state: RegionState, p: dict) -> dict:
    """moto models query logging but not this operation: it is applied to moto's own associations."""
    from moto.route53resolver.models import route53resolver_backends

    backend = route53resolver_backends[state.account][state.region]
    for ident, association in list(backend.resolver_query_log_config_associations.items()):
        if (association.resolver_query_log_config_id, association.resource_id) == (
            p["ResolverQueryLogConfigId"],
            p["ResourceId"],
        ):
            del backend.resolver_query_log_config_associations[ident]
            backend.resolver_query_log_configs[p["ResolverQueryLogConfigId"]].association_count -= 1
            return {"ResolverQueryLogConfigAssociation": {**association.description(), "Status": "DELETING"}}
    raise ApiError("ResourceNotFoundException", "no such query log config association")


# --------------------------------------------------------------------------- EC2 account-level settings


def _bpa_options(state: RegionState) -> dict:
    return {
        "AwsAccountId": state.account,
        "AwsRegion": state.region,
        "State": state.vpc_bpa_state,
        "InternetGatewayBlockMode": state.vpc_bpa_mode,
        "ManagedBy": "account",
        "ExclusionsAllowed": "allowed",
    }


def modify_vpc_block_public_access_options(state: RegionState, p: dict) -> dict:
    state.vpc_bpa_mode, state.vpc_bpa_state = p["InternetGatewayBlockMode"], "update-complete"
    return {"VpcBlockPublicAccessOptions": _bpa_options(state)}


def describe_vpc_block_public_access_options(state: RegionState, p: dict) -> dict:
    return {"VpcBlockPublicAccessOptions": _bpa_options(state)}


def create_vpc_block_public_access_exclusion(state: RegionState, p: dict) -> dict:
    if bool(p.get("VpcId")) == bool(p.get("SubnetId")):
        raise ApiError("InvalidParameterCombination", "name exactly one of VpcId and SubnetId")
    kind, ident = ("vpc", p["VpcId"]) if p.get("VpcId") else ("subnet", p["SubnetId"])
    exclusion_id = _id("vpcbpa-exclude")
    state.bpa_exclusions[exclusion_id] = {
        "ExclusionId": exclusion_id,
        "InternetGatewayExclusionMode": p["InternetGatewayExclusionMode"],
        "ResourceArn": f"arn:aws:ec2:{state.region}:{state.account}:{kind}/{ident}",
        "State": "create-complete",
        "CreationTimestamp": datetime.now(UTC),
        "LastUpdateTimestamp": datetime.now(UTC),
    }
    return {"VpcBlockPublicAccessExclusion": state.bpa_exclusions[exclusion_id]}


def delete_vpc_block_public_access_exclusion(state: RegionState, p: dict) -> dict:
    if p["ExclusionId"] not in state.bpa_exclusions:
        raise ApiError("InvalidVpcBlockPublicAccessExclusionId.NotFound", f"{p['ExclusionId']} not found")
    exclusion = state.bpa_exclusions[p["ExclusionId"]]
    exclusion.update(State="delete-complete", DeletionTimestamp=datetime.now(UTC))
    return {"VpcBlockPublicAccessExclusion": exclusion}


def describe_vpc_block_public_access_exclusions(state: RegionState, p: dict) -> dict:
    wanted = p.get("ExclusionIds")
    return {
        "VpcBlockPublicAccessExclusions": [
            e for e in state.bpa_exclusions.values() if not wanted or e["ExclusionId"] in wanted
        ]
    }


def _setter(attribute: str, response_key: str, value: Callable[[dict], Any], get_only: bool = False) -> Callable:
    def handler(state: RegionState, p: dict) -> dict:
        if not get_only:
            setattr(state, attribute, value(p))
        response = {response_key: getattr(state, attribute)}
        if get_only:
            response["ManagedBy"] = "account"
        return response

    return handler


def modify_instance_metadata_defaults(state: RegionState, p: dict) -> dict:
    keys = ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "InstanceMetadataTags", "HttpTokensEnforced")
    for key in keys:
        if key in p:
            # AWS: "no-preference" clears an account-level default (and -1 the hop limit).
            if p[key] in ("no-preference", -1):
                state.metadata_defaults.pop(key, None)
            else:
                state.metadata_defaults[key] = p[key]
    return {"Return": True}


def get_instance_metadata_defaults(state: RegionState, p: dict) -> dict:
    level = dict(state.metadata_defaults)
    if level:
        level["ManagedBy"] = "account"
    return {"AccountLevel": level}


SSM_DEFAULTS = {"/ssm/documents/console/public-sharing-permission": "Enable"}
"""AWS's defaults of the SSM service settings the audit reads (public sharing is allowed until disabled)."""


def _ssm_setting(state: RegionState, setting_id: str) -> dict:
    if setting_id not in SSM_DEFAULTS:
        raise ApiError("ServiceSettingNotFound", f"setting {setting_id} not found")
    value = state.ssm_settings.get(setting_id, SSM_DEFAULTS[setting_id])
    return {
        "SettingId": setting_id,
        "SettingValue": value,
        "ARN": f"arn:aws:ssm:{state.region}:{state.account}:servicesetting{setting_id}",
        "Status": "Customized" if setting_id in state.ssm_settings else "Default",
    }


def get_service_setting(state: RegionState, p: dict) -> dict:
    return {"ServiceSetting": _ssm_setting(state, p["SettingId"])}


def update_service_setting(state: RegionState, p: dict) -> dict:
    _ssm_setting(state, p["SettingId"])
    state.ssm_settings[p["SettingId"]] = p["SettingValue"]
    return {}


def reset_service_setting(state: RegionState, p: dict) -> dict:
    _ssm_setting(state, p["SettingId"])
    state.ssm_settings.pop(p["SettingId"], None)
    return {"ServiceSetting": _ssm_setting(state, p["SettingId"])}


# --------------------------------------------------------------------------- AWS Organizations: what AWS enforces

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"


def _organization(account: str) -> Any | None:
    """moto's organizations backend of the organization ``account`` belongs to (its management account's)."""
    from moto.organizations.models import organizations_backends

    if account in organizations_backends.master_accounts:
        master, partition = organizations_backends.master_accounts[account]
        return organizations_backends[master][partition]
    own = organizations_backends[account]["aws"]
    return own if own.org is not None else None


def _root(backend: Any) -> Any:
    return next(ou for ou in backend.ou if ou.type == "ROOT")


def _levels(backend: Any, account: str) -> list[Any]:
    """The account and every OU above it, up to the root: each level's attached policies apply."""
    node = next(a for a in backend.accounts if a.id == account)
    levels = [node]
    while node.parent_id:
        node = next(ou for ou in backend.ou if ou.id == node.parent_id)
        levels.append(node)
        if node.type == "ROOT":
            break
    return levels


def scp_decision(account: str, action: str, resource: str, context: dict[str, Any]) -> str:
    """``allowed``, ``explicitDeny`` or ``implicitDeny``: what the SCPs binding ``account`` say of one request."""
    from tests.iam_eval import Request, allows, denies

    backend = _organization(account)
    if backend is None or backend.org.master_account_id == account:
        return "allowed"  # no organization, or its management account: SCPs bind neither
    enabled = {t["Type"] for t in _root(backend).policy_types if t.get("Status") == "ENABLED"}
    if backend.org.feature_set != "ALL" or SCP not in enabled:
        return "allowed"
    request = Request(action=action, resource=resource, context=context)
    decision = "allowed"
    for level in _levels(backend, account):
        documents = [json.loads(p.content) for p in level.attached_policies if p.type == SCP]
        if any(denies(d, request) for d in documents):
            return "explicitDeny"
        if not any(allows(d, request) for d in documents):
            decision = "implicitDeny"
    return decision


def scp_refusal(caller_session: str, action: str, decision: str) -> str:
    """AWS's enhanced access-denied message for a request an SCP refused."""
    why = (
        "with an explicit deny in a service control policy"
        if decision == "explicitDeny"
        else f"because no service control policy allows the {action} action"
    )
    return f"User: {caller_session} is not authorized to perform: {action} on resource: * {why}"


def _delegated(backend: Any, caller: str, action: str) -> bool:
    from tests.iam_eval import Request, allows

    content = DELEGATIONS.get(backend.account_id)
    return bool(content) and bool(allows(json.loads(content), Request(action=action, resource="*", principal=caller)))


def _organization_read(
    operation: str, answer: Callable[[Any, dict], dict]
) -> Callable[[RegionState, dict], dict | None]:
    """A read AWS serves only to the management account, or to an account its delegation policy allows."""

    def handler(state: RegionState, p: dict) -> dict | None:
        backend = _organization(state.account)
        if backend is None:
            raise ApiError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
        if backend.account_id == state.account:
            return None  # the management account: moto answers from its own state
        if not _delegated(backend, state.caller, f"organizations:{operation}"):
            raise ApiError("AccessDeniedException", "You don't have permissions to access this resource.")
        return answer(backend, p)

    return handler


def _list_policies_for_target(backend: Any, p: dict) -> dict:
    policies, _ = backend.list_policies_for_target(target_id=p["TargetId"], policy_type=p["Filter"])
    return {"Policies": policies}


def attach_policy(state: RegionState, p: dict) -> dict | None:
    backend = _organization(state.account)
    if backend is None or backend.account_id != state.account:
        return None  # moto refuses a member itself
    policy = backend.get_policy_by_id(p["PolicyId"])
    enabled = {t["Type"] for t in _root(backend).policy_types if t.get("Status") == "ENABLED"}
    if policy.type in (SCP, RCP) and (backend.org.feature_set != "ALL" or policy.type not in enabled):
        raise ApiError("PolicyTypeNotEnabledException", f"{policy.type} is not enabled in the root")
    return None


def put_resource_policy(state: RegionState, p: dict) -> dict:
    backend = _organization(state.account)
    if backend is None or backend.account_id != state.account:
        raise ApiError("AccessDeniedException", "only the management account sets the delegation policy")
    DELEGATIONS[state.account] = p["Content"]
    return describe_resource_policy(state, p)


def describe_resource_policy(state: RegionState, p: dict) -> dict:
    backend = _organization(state.account)
    content = DELEGATIONS.get(backend.account_id) if backend is not None else None
    if content is None:
        raise ApiError("ResourcePolicyNotFoundException", "no resource policy")
    arn = f"arn:aws:organizations::{backend.account_id}:resourcepolicy/{backend.org.id}/rp-{backend.org.id[2:10]}"
    return {
        "ResourcePolicy": {
            "ResourcePolicySummary": {"Id": f"rp-{backend.org.id[2:10]}", "Arn": arn},
            "Content": content,
        }
    }


def delete_resource_policy(state: RegionState, p: dict) -> dict:
    describe_resource_policy(state, p)
    DELEGATIONS.pop(state.account, None)
    return {}


# --------------------------------------------------------------------------- what AWS evaluates for a principal


def _identity_decision(account: str, principal: str, action: str, resource: str, context: dict) -> str:
    """The principal's own policies (inline and attached) capped by its boundary, as moto holds them."""
    from moto.iam.models import iam_backends

    from tests.iam_eval import Request, allows, denies

    iam = iam_backends[account]["aws"]
    role = iam.get_role_by_arn(principal)
    request = Request(action=action, resource=resource, principal=principal, context=context)
    documents = [json.loads(d) if isinstance(d, str) else d for d in role.policies.values()]
    documents += [_default_document(m) for m in role.managed_policies.values()]
    boundary = (
        [_default_document(iam.get_policy(role.permissions_boundary_arn))] if role.permissions_boundary_arn else []
    )
    if any(denies(d, request) for d in documents + boundary):
        return "explicitDeny"
    if not any(allows(d, request) for d in documents) or (boundary and not allows(boundary[0], request)):
        return "implicitDeny"
    return "allowed"


def _default_document(policy: Any) -> dict:
    document = next(v.document for v in policy.versions if v.version_id == policy.default_version_id)
    return json.loads(document) if isinstance(document, str) else document


def simulate_principal_policy(state: RegionState, p: dict) -> dict:
    from moto.iam.models import iam_backends

    source = p["PolicySourceArn"]
    account = source.split(":")[4]
    try:
        iam_backends[account]["aws"].get_role_by_arn(source)
    except Exception as exc:  # moto's IAMNotFoundException
        raise ApiError("NoSuchEntity", f"no role {source}", 404) from exc
    context = {
        e["ContextKeyName"]: e["ContextKeyValues"][0] if len(e["ContextKeyValues"]) == 1 else e["ContextKeyValues"]
        for e in p.get("ContextEntries", [])
    }
    in_organization = _organization(account) is not None
    results = []
    for action in p["ActionNames"]:
        for resource in p.get("ResourceArns") or ["*"]:
            organizations = scp_decision(account, action, resource, context)
            identity = _identity_decision(account, source, action, resource, context)
            decisions = {organizations, identity}
            decision = (
                "explicitDeny"
                if "explicitDeny" in decisions
                else "allowed"
                if decisions == {"allowed"}
                else "implicitDeny"
            )
            entry: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision,
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            if in_organization:
                entry["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": organizations == "allowed"}
            results.append(entry)
    return {"EvaluationResults": results, "IsTruncated": False}


def _session_arn(caller: str) -> str:
    """How AWS names the caller in a refusal: the assumed-role session for a role."""
    if ":role/" in caller:
        account, name = caller.split(":")[4], caller.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{account}:assumed-role/{name}/audit"
    return caller


def _scp_context(state: RegionState, region: str) -> dict[str, str]:
    return {"aws:RequestedRegion": region, "aws:PrincipalArn": state.caller, "aws:PrincipalAccount": state.account}


def get_account_settings(state: RegionState, p: dict) -> dict:
    action = "lambda:GetAccountSettings"
    decision = scp_decision(state.account, action, "*", _scp_context(state, state.region))
    if decision != "allowed":
        raise ApiError("AccessDeniedException", scp_refusal(_session_arn(state.caller), action, decision), 403)
    return {
        "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "ConcurrentExecutions": 1000},
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }


def enforce_scps(client: Any, principal: str) -> Any:
    """Refuse every call of ``client`` that the SCPs binding ``principal``'s account refuse (as AWS would).

    ``principal`` is the IAM role (or user) ARN the client acts as; global services
    (IAM, Organizations) carry ``aws:RequestedRegion`` us-east-1.
    """
    from enclave.audit.common import iam_action

    account = principal.split(":")[4]

    def refuse(model: Any, **_: Any) -> tuple | None:
        action = iam_action(client, model.name)
        host = client.meta.endpoint_url.split("//", 1)[-1]
        region = client.meta.region_name if f".{client.meta.region_name}." in host else "us-east-1"
        context = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal, "aws:PrincipalAccount": account}
        decision = scp_decision(account, action, "*", context)
        if decision == "allowed":
            return None
        code = {"ec2": "UnauthorizedOperation", "s3": "AccessDenied"}.get(model.service_model.signing_name)
        error = {
            "Error": {
                "Code": code or "AccessDeniedException",
                "Message": scp_refusal(_session_arn(principal), action, decision),
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return SimpleNamespace(status_code=403, headers={}), error

    client.meta.events.register("before-call", refuse, unique_id="enforce-scps")
    return client


HANDLERS: dict[tuple[str, str], Callable[[RegionState, dict], dict | None]] = {
    ("organizations", "ListPoliciesForTarget"): _organization_read("ListPoliciesForTarget", _list_policies_for_target),
    ("organizations", "ListParents"): _organization_read("ListParents", lambda b, p: b.list_parents(**p)),
    ("organizations", "DescribePolicy"): _organization_read("DescribePolicy", lambda b, p: b.describe_policy(**p)),
    ("organizations", "AttachPolicy"): attach_policy,
    ("organizations", "PutResourcePolicy"): put_resource_policy,
    ("organizations", "DescribeResourcePolicy"): describe_resource_policy,
    ("organizations", "DeleteResourcePolicy"): delete_resource_policy,
    ("iam", "SimulatePrincipalPolicy"): simulate_principal_policy,
    ("lambda", "GetAccountSettings"): get_account_settings,
    ("ssm", "GetServiceSetting"): get_service_setting,
    ("ssm", "UpdateServiceSetting"): update_service_setting,
    ("ssm", "ResetServiceSetting"): reset_service_setting,
    ("route53resolver", "CreateFirewallDomainList"): create_firewall_domain_list,
    ("route53resolver", "UpdateFirewallDomains"): update_firewall_domains,
    ("route53resolver", "GetFirewallDomainList"): get_firewall_domain_list,
    ("route53resolver", "ListFirewallDomains"): list_firewall_domains,
    ("route53resolver", "CreateFirewallRuleGroup"): create_firewall_rule_group,
    ("route53resolver", "GetFirewallRuleGroup"): get_firewall_rule_group,
    ("route53resolver", "CreateFirewallRule"): create_firewall_rule,
    ("route53resolver", "UpdateFirewallRule"): update_firewall_rule,
    ("route53resolver", "DeleteFirewallRule"): delete_firewall_rule,
    ("route53resolver", "ListFirewallRules"): list_firewall_rules,
    ("route53resolver", "AssociateFirewallRuleGroup"): associate_firewall_rule_group,
    ("route53resolver", "UpdateFirewallRuleGroupAssociation"): update_firewall_rule_group_association,
    ("route53resolver", "DisassociateFirewallRuleGroup"): disassociate_firewall_rule_group,
    ("route53resolver", "ListFirewallRuleGroupAssociations"): list_firewall_rule_group_associations,
    ("route53resolver", "UpdateFirewallConfig"): update_firewall_config,
    ("route53resolver", "GetFirewallConfig"): get_firewall_config,
    ("route53resolver", "ListFirewallConfigs"): list_firewall_configs,
    ("route53resolver", "ListFirewallDomainLists"): list_firewall_domain_lists,
    ("route53resolver", "DisassociateResolverQueryLogConfig"): disassociate_resolver_query_log_config,
    ("ec2", "ModifyVpcBlockPublicAccessOptions"): modify_vpc_block_public_access_options,
    ("ec2", "DescribeVpcBlockPublicAccessOptions"): describe_vpc_block_public_access_options,
    ("ec2", "CreateVpcBlockPublicAccessExclusion"): create_vpc_block_public_access_exclusion,
    ("ec2", "DeleteVpcBlockPublicAccessExclusion"): delete_vpc_block_public_access_exclusion,
    ("ec2", "DescribeVpcBlockPublicAccessExclusions"): describe_vpc_block_public_access_exclusions,
    ("ec2", "EnableSnapshotBlockPublicAccess"): _setter("snapshot_bpa", "State", lambda p: p["State"]),
    ("ec2", "DisableSnapshotBlockPublicAccess"): _setter("snapshot_bpa", "State", lambda p: "unblocked"),
    ("ec2", "GetSnapshotBlockPublicAccessState"): _setter("snapshot_bpa", "State", None, get_only=True),
    ("ec2", "EnableImageBlockPublicAccess"): _setter(
        "image_bpa", "ImageBlockPublicAccessState", lambda p: p["ImageBlockPublicAccessState"]
    ),
    ("ec2", "DisableImageBlockPublicAccess"): _setter(
        "image_bpa", "ImageBlockPublicAccessState", lambda p: "unblocked"
    ),
    ("ec2", "GetImageBlockPublicAccessState"): _setter("image_bpa", "ImageBlockPublicAccessState", None, get_only=True),
    ("ec2", "EnableSerialConsoleAccess"): _setter("serial_console", "SerialConsoleAccessEnabled", lambda p: True),
    ("ec2", "DisableSerialConsoleAccess"): _setter("serial_console", "SerialConsoleAccessEnabled", lambda p: False),
    ("ec2", "GetSerialConsoleAccessStatus"): _setter(
        "serial_console", "SerialConsoleAccessEnabled", None, get_only=True
    ),
    ("ec2", "ModifyInstanceMetadataDefaults"): modify_instance_metadata_defaults,
    ("ec2", "GetInstanceMetadataDefaults"): get_instance_metadata_defaults,
}


# --------------------------------------------------------------------------- the hook


def _caller(request_signer: Any, context: dict) -> tuple[str, str]:
    """(account, IAM principal ARN) of a call: a role's sessions are the role, other credentials the account root."""
    from moto.iam.models import get_account_id_from
    from moto.sts.models import sts_backends

    key = request_signer._credentials.get_frozen_credentials().access_key
    account = context.get(ACCOUNT_CONTEXT_KEY) or get_account_id_from(key)
    session = sts_backends[account]["aws"].get_assumed_role_from_access_key(key)
    return account, session.role_arn if session is not None else f"arn:aws:iam::{account}:root"


def _remember_params(params: dict, context: dict, **_: Any) -> None:
    # before-call sees the serialised request; the handlers want the API parameters.
    context[_PARAMS_KEY] = params


def _answer(model: Any, request_signer: Any, context: dict, **_: Any) -> tuple | None:
    handler = HANDLERS.get((model.service_model.service_name, model.name))
    if not _ACTIVE or handler is None:
        return None
    account, caller = _caller(request_signer, context)
    state = _state(account, context["client_region"])
    state.caller = caller
    try:
        answered = handler(state, copy.deepcopy(context.get(_PARAMS_KEY, {})))
        if answered is None:
            return None  # AWS would answer as moto does: let moto
        body = copy.deepcopy(answered)
    except ApiError as err:
        error = {
            "Error": {"Code": err.code, "Message": err.message},
            "ResponseMetadata": {"HTTPStatusCode": err.status},
        }
        return SimpleNamespace(status_code=err.status, headers={}), error
    report = ParamValidator().validate(body, model.output_shape)
    if report.has_errors():
        raise AssertionError(
            f"{model.name}: the test backend built a response AWS could not send:\n{report.generate_report()}"
        )
    body["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": f"unmodelled-{next(_COUNTER)}"}
    return SimpleNamespace(status_code=200, headers={}), body


BUILTIN_HANDLERS.append(("before-parameter-build", _remember_params))
BUILTIN_HANDLERS.append(("before-call", _answer))
