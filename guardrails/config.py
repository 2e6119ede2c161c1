"""The guardrails stack's configuration: its own keys, plus the site's, read from the site's stack file.

The guardrails protect names the site program creates, so the site's values are
never repeated here: ``load_guardrails_config`` reads ``Pulumi.<stack>.yaml`` of
the site program (the repository root, the same stack name) and validates it
with the site's own ``site_config_from_mapping``. A review of the site's stack
file is therefore a review of what its guardrails protect, and the two cannot
drift. Every problem, of either file, is reported at once and nothing is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config import PROJECT as SITE_PROJECT
from components.config import SiteConfig, SiteConfigError, site_config_from_mapping
from guardrails.documents import POLICY_SIZE_LIMIT, oversized

PROJECT = "eu-data-enclave-guardrails"

SITE_PROGRAM_DIR = Path(__file__).resolve().parent.parent
"""The site program whose stack files the guardrails read (the repository root)."""

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ORG_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
_OU_ID_RE = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")

# (key, required, description of the expected form). Pulumi.yaml documents each; a test keeps them in step.
CONFIG_KEYS: tuple[tuple[str, bool, str], ...] = (
    ("managementAccountId", True, "the 12-digit id of the organization's management account"),
    ("organizationId", True, "the organization's id, like o-a1b2c3d4e5"),
    (
        "policyAdministratorAccountId",
        False,
        "the 12-digit id of the account that runs this project: the management account (default) "
        "or the delegated administrator for organization policies",
    ),
    (
        "targetId",
        False,
        "the site's data account id (default) or the id of an OU that holds only it, like ou-ab12-cd34ef56",
    ),
    (
        "ciAccountId",
        False,
        "the 12-digit id of the CI account whose roles assume the deployment role with sts:AssumeRole "
        "(unset when the pipeline reaches it by OIDC web identity)",
    ),
)
_FOREIGN_KEYS_ALLOWED = {"pulumi:disable-default-providers"}


class GuardrailsConfigError(ValueError):
    """Raised when the guardrails' or the site's configuration is invalid; lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid configuration for the site's guardrails ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}); nothing was deployed:\n{lines}"
        )


@dataclass(frozen=True)
class GuardrailsConfig:
    """Everything the operator's guardrails of one site depend on."""

    site: SiteConfig
    """The site's validated configuration (from the site program's stack file)."""
    management_account_id: str
    """The organization's management account: SCPs and RCPs never bind it."""
    organization_id: str
    """The organization the data account must belong to (``o-...``): what the audit checks."""
    policy_administrator_account_id: str
    """The account this project runs in: the management account or the policies' delegated administrator."""
    target_id: str
    """Where the policies are attached: the data account itself, or an OU that holds only it."""
    ci_account_id: str | None = None
    """The pipeline's CI account, whose roles alone may ``sts:AssumeRole`` the deployment role (None: nobody may)."""

    @property
    def name_prefix(self) -> str:
        return self.site.name_prefix

    @property
    def target_is_account(self) -> bool:
        return bool(_ACCOUNT_RE.match(self.target_id))


def _k(name: str) -> str:
    return f"{PROJECT}:{name}"


def read_site_stack_values(stack: str, site_dir: Path | None = None) -> dict[str, Any]:
    """The flat ``namespace:key`` config of the site's ``Pulumi.<stack>.yaml``, as the CLI would pass it.

    ``site_dir`` defaults to ``SITE_PROGRAM_DIR``. Raises ``GuardrailsConfigError`` when the file is
    missing or unreadable.
    """
    site_dir = SITE_PROGRAM_DIR if site_dir is None else site_dir
    path = site_dir / f"Pulumi.{stack}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        known = sorted(p.name for p in site_dir.glob("Pulumi.*.yaml"))
        raise GuardrailsConfigError(
            [
                f"{path}: no such file; the guardrails stack {stack!r} protects the site stack of the same "
                f"name (site stack files: {', '.join(known) or 'none'}): create the site stack first"
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise GuardrailsConfigError([f"{path}: not valid YAML: {exc}"]) from None
    config = (data or {}).get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise GuardrailsConfigError([f"{path}: expected a 'config:' mapping of the site's keys"])
    values: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            raise GuardrailsConfigError([f"{path}: {key} is an encrypted secret; the site keeps none in stack config"])
        values[key if ":" in key else f"{SITE_PROJECT}:{key}"] = value
    return values


def guardrails_config_from_mapping(values: Mapping[str, Any], site_values: Mapping[str, Any]) -> GuardrailsConfig:
    """Validate the guardrails stack's flat config and the site's into a ``GuardrailsConfig``.

    Raises ``GuardrailsConfigError`` listing every problem of both.
    """
    problems: list[str] = []
    try:
        site: SiteConfig | None = site_config_from_mapping(site_values)
    except SiteConfigError as exc:
        site = None
        problems += [f"the site's stack file: {p}" for p in exc.problems]

    known = {_k(name) for name, _, _ in CONFIG_KEYS}
    for key in sorted(values):
        if key in known or key in _FOREIGN_KEYS_ALLOWED:
            continue
        if key.startswith(f"{PROJECT}:"):
            problems.append(
                f"{key}: unknown key (value {values[key]!r}); the known keys are {', '.join(sorted(known))}"
            )
        elif key.startswith("aws:"):
            problems.append(
                f"{key}: must not be set (value {values[key]!r}); the guardrails pin their provider to the "
                "site's region and the policy administrator's account: remove it"
            )
        elif key.startswith(f"{SITE_PROJECT}:"):
            problems.append(
                f"{key}: is the site's key; the guardrails read it from the site's Pulumi.<stack>.yaml: remove it here"
            )
    disabled = values.get("pulumi:disable-default-providers")
    if isinstance(disabled, str):
        try:
            disabled = json.loads(disabled)
        except json.JSONDecodeError:
            disabled = None
    if not isinstance(disabled, list) or not ({"aws", "*"} & set(disabled)):
        problems.append(
            f"pulumi:disable-default-providers: is {values.get('pulumi:disable-default-providers')!r}, expected a "
            'list that contains "aws" (every resource must use the explicit organization provider)'
        )

    got: dict[str, str | None] = {}
    for name, required, expected in CONFIG_KEYS:
        raw = values.get(_k(name))
        if raw in (None, ""):
            if required:
                problems.append(f"{_k(name)}: missing; set it in Pulumi.<stack>.yaml to {expected}")
            got[name] = None
        elif not isinstance(raw, str):
            problems.append(f"{_k(name)}: {raw!r} is not a string; expected {expected} (quote it)")
            got[name] = None
        else:
            got[name] = raw

    def check(name: str, ok: bool) -> None:
        if got[name] is not None and not ok:
            expected = next(e for n, _, e in CONFIG_KEYS if n == name)
            problems.append(f"{_k(name)}: {got[name]!r} is invalid; expected {expected}")
            got[name] = None

    check("managementAccountId", bool(_ACCOUNT_RE.match(got["managementAccountId"] or "")))
    check("organizationId", bool(_ORG_ID_RE.match(got["organizationId"] or "")))
    check("policyAdministratorAccountId", bool(_ACCOUNT_RE.match(got["policyAdministratorAccountId"] or "")))
    check("ciAccountId", bool(_ACCOUNT_RE.match(got["ciAccountId"] or "")))
    target = got["targetId"]
    check("targetId", bool(_ACCOUNT_RE.match(target or "") or _OU_ID_RE.match(target or "")))

    management = got["managementAccountId"]
    administrator = got["policyAdministratorAccountId"] or management
    if site is not None:
        data = site.data_account_id
        # SCPs and RCPs never bind the management account, and the data account must not hold its own guardrails.
        if management == data:
            problems.append(
                f"{_k('managementAccountId')}: {management!r} is the site's data account; SCPs and RCPs do not "
                "bind the management account, so the data must live in a member account"
            )
        if got["policyAdministratorAccountId"] and administrator == data:
            problems.append(
                f"{_k('policyAdministratorAccountId')}: {administrator!r} is the site's data account; the data "
                "account must not administer its own guardrails: use the management account or another delegated administrator"
            )
        if administrator and administrator == site.auditor_account_id:
            problems.append(
                f"{_k('policyAdministratorAccountId')}: {administrator!r} is the auditor's account; the auditor "
                "must stay independent of the party that holds the guardrails"
            )
        if got["targetId"] and _ACCOUNT_RE.match(got["targetId"]) and got["targetId"] != data:
            problems.append(
                f"{_k('targetId')}: {got['targetId']!r} is not the site's data account {data}; attach the "
                "guardrails to the data account or to an OU that holds only it"
            )
        problems += _ci_account_problems(got["ciAccountId"], site, {management, administrator})
    if problems:
        raise GuardrailsConfigError(problems)
    assert site is not None and management and administrator  # for the type checker: no problems left
    config = GuardrailsConfig(
        site=site,
        management_account_id=management,
        organization_id=got["organizationId"],
        policy_administrator_account_id=administrator,
        target_id=got["targetId"] or site.data_account_id,
        ci_account_id=got["ciAccountId"],
    )
    too_long = oversized(site, config.ci_account_id)
    if too_long:
        raise GuardrailsConfigError(
            [
                f"{name}: the site's configuration makes it {size} characters, over Organizations' limit of "
                f"{POLICY_SIZE_LIMIT}: list fewer staff principals, or end some transfer grants"
                for name, size in too_long
            ]
        )
    return config


def _ci_account_problems(ci: str | None, site: SiteConfig, operator_accounts: set[str | None]) -> list[str]:
    """Why ``ciAccountId`` may not be this account: the pipeline is neither inside the site nor any other party."""
    if not ci:
        return []
    recipients = {g.recipient_account_id for g in site.transfer_grants}
    staff = {arn.split(":")[4] for arn in site.staff_principals}
    reasons = (
        (ci == site.data_account_id, "the site's data account: the pipeline reaches the deployer from outside it"),
        (ci == site.operator_account_id, "the operator's key account: one party would both hold the keys and deploy"),
        (ci == site.auditor_account_id, "the auditor's account: the auditor must stay independent of the deployment"),
        (ci in operator_accounts, "the account that holds the guardrails: one party would both deploy and lift them"),
        (ci in staff, "a staff principal's account: staff reach data only through the staff gate, never as deployer"),
        (ci in recipients, "a transfer recipient's account: a recipient must not deploy its own grant"),
    )
    return [
        f"{_k('ciAccountId')}: {ci!r} is {why}; use the CI account that runs only the reviewed pipeline"
        for bad, why in reasons
        if bad
    ]


def load_guardrails_config() -> GuardrailsConfig:
    """Load and validate the current stack's guardrails config and the same-named site stack's config."""
    import pulumi

    from components.config import current_config_values

    return guardrails_config_from_mapping(current_config_values(), read_site_stack_values(pulumi.get_stack()))
