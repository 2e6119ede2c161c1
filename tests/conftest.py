"""Shared fixtures: site config, Pulumi mocks that record what the engine would receive.

Pulumi's runtime is process-global. Every fixture here resets it before use,
so a test never sees another test's config, stack or resources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings
from pulumi.runtime.stack import wait_for_rpcs

from components.config import SiteConfig, site_config_from_mapping
from enclave.harness import PROJECT_DIR, EnclaveMocks, RecordingMonitor, load_stack_config, run_program

STACKS = ("dublin", "hamar")

KEY_ARN = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
"""A plain operator-key ARN for building one component alone (dublin's region and operator account)."""


def settled(monitor: RecordingMonitor, *outputs):
    """``outputs`` resolved, plus every register request the monitor saw once all have finished."""

    async def settle(values):
        await wait_for_rpcs(await_all_outstanding_tasks=False)
        return values, list(monitor.records)

    return pulumi.Output.all(*outputs).apply(settle)


def stack_config(stack: str = "dublin") -> dict[str, Any]:
    """The flat config the CLI would pass for a shipped stack."""
    return load_stack_config(PROJECT_DIR, stack)


def use_mocks(stack: str = "dublin", config: dict[str, Any] | None = None) -> RecordingMonitor:
    """Reset the runtime, set the stack's config and mocks; return the recording monitor.

    Call it at the start of a test, before building any resource.
    """
    config = stack_config(stack) if config is None else config
    mocks = EnclaveMocks(config, stack)
    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config))
    pulumi.runtime.set_mocks(mocks, project="eu-data-enclave", stack=stack, preview=False, monitor=monitor)
    return monitor


@pytest.fixture
def dublin_config() -> SiteConfig:
    return site_config_from_mapping(stack_config("dublin"))


@pytest.fixture
def hamar_config() -> SiteConfig:
    return site_config_from_mapping(stack_config("hamar"))


@pytest.fixture
def monitor() -> RecordingMonitor:
    """Mocks for the dublin stack; the monitor records every registration."""
    return use_mocks("dublin")


@pytest.fixture
def site_providers(monitor, dublin_config):
    """The dublin site's two explicit providers, under mocks."""
    from components.site_providers import SiteProviders, SiteProvidersArgs

    return SiteProviders(dublin_config.name_prefix, SiteProvidersArgs(config=dublin_config))


_RUNS: dict[str, Any] = {}


@pytest.fixture
def program_run():
    """``program_run(stack)``: the whole program evaluated for a shipped stack (cached per process)."""

    def get(stack: str):
        if stack not in _RUNS:
            _RUNS[stack] = run_program(stack)
        return _RUNS[stack]

    return get


def project_dir() -> Path:
    return PROJECT_DIR
