"""Generated estates: the program copied into a directory with N stacks, each a distinct valid site."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import yaml

from bench.timing import BenchError

TEMPLATE_STACK = "dublin"
"""The shipped stack whose file the generated ones start from (keys, comments aside)."""


def program_files(program_dir: Path) -> list[str]:
    """``Pulumi.yaml``, ``__main__.py`` and the top-level local packages/modules ``__main__.py`` imports."""
    tree = ast.parse((program_dir / "__main__.py").read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    local = sorted(
        name for name in roots if (program_dir / name / "__init__.py").exists() or (program_dir / f"{name}.py").exists()
    )
    return ["Pulumi.yaml", "__main__.py", *(n if (program_dir / n).is_dir() else f"{n}.py" for n in local)]


def site_config(template: dict, project: str, index: int, regions: tuple[str, ...]) -> dict:
    """The ``config:`` mapping of generated site ``index``: own name, EEA region, accounts and CIDR."""
    site = f"site{index:02d}"
    region = regions[index % len(regions)]
    data = f"{600000000000 + 2 * index:012d}"
    operator = f"{600000000000 + 2 * index + 1:012d}"
    values = {
        "site": site,
        "region": region,
        "availabilityZones": [f"{region}{zone}" for zone in "abc"],
        "dataAccountId": data,
        "operatorAccountId": operator,
        "operatorRoleArn": f"arn:aws:iam::{operator}:role/enclave-key-custodian",
        "operatorExternalId": f"{site}-operator",
        "deploymentRoleArn": f"arn:aws:iam::{data}:role/enclave-deployer",
        "auditorExternalId": f"eu-audit-{site}",
        "staffPrincipals": [f"arn:aws:iam::{data}:role/trust-and-safety-oncall"],
        "vpcCidr": f"10.{64 + index}.0.0/16",
    }
    config = dict(template)
    for key, value in values.items():
        qualified = f"{project}:{key}"
        if qualified not in config:
            raise BenchError(f"template stack has no {qualified}: the generator is out of date with the config")
        config[qualified] = value
    return config


def write_estate(dest: Path, count: int, program_dir: Path) -> list[str]:
    """Copy the program to ``dest`` with ``count`` generated stacks; return their names.

    Each stack's config is validated by the program's own config loader before
    anything is timed, so a generator bug fails here rather than as a slow check.
    """
    from components.config import EEA_REGIONS, site_config_from_mapping
    from enclave.harness import load_stack_config, project_name

    if count < 1:
        raise BenchError(f"site count must be at least 1, got {count}")
    dest.mkdir(parents=True, exist_ok=True)
    for name in program_files(program_dir):
        src = program_dir / name
        # copytree/copy2 keep mtimes, so the copied bytecode caches stay valid.
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)
    project = project_name(program_dir)
    template = yaml.safe_load((program_dir / f"Pulumi.{TEMPLATE_STACK}.yaml").read_text())["config"]
    stacks = []
    for index in range(count):
        config = site_config(template, project, index, EEA_REGIONS)
        stack = config[f"{project}:site"]
        (dest / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        site_config_from_mapping(load_stack_config(dest, stack))  # raises SiteConfigError naming the key
        stacks.append(stack)
    return stacks
