"""Synthetic stacks of any size, made of replicas of the real program's recorded resources.

Replica ``k`` of the program gets unique URNs and names (``<name>-r<k>``), its
references (provider, parent, dependencies) pointed at its own replicas, and
every physical name in its inputs and outputs re-prefixed (``enclave-dublin``
becomes ``enclave-dublin-r<k>``), so the copies are distinct sites' worth of
buckets, keys, roles and policies with the real program's mix of types. A
stack of ``n`` resources is whole replicas plus the first part of one more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enclave.harness import ProgramRun, RecordedResource


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def replica(resources: list[RecordedResource], k: int, name_prefix: str) -> list[RecordedResource]:
    """Copy ``k`` of ``resources`` (``k == 0``: the resources themselves)."""
    if k == 0:
        return list(resources)
    suffix = f"-r{k}"
    urns = {r.urn for r in resources}

    def urn(u: str) -> str:
        return u + suffix if u in urns else u

    def provider(ref: str) -> str:
        if not ref:
            return ref
        prov_urn, _, prov_id = ref.rpartition("::")
        return f"{urn(prov_urn)}::{prov_id}{suffix}"

    new_prefix = name_prefix + suffix
    return [
        replace(
            r,
            urn=urn(r.urn),
            name=r.name + suffix,
            inputs=_rename(r.inputs, name_prefix, new_prefix),
            redacted_inputs=_rename(r.redacted_inputs, name_prefix, new_prefix),
            provider=provider(r.provider),
            parent=urn(r.parent),
            dependencies=[urn(u) for u in r.dependencies],
            property_dependencies={k: [urn(u) for u in v] for k, v in r.property_dependencies.items()},
            id=_rename(r.id, name_prefix, new_prefix),
            outputs=_rename(r.outputs, name_prefix, new_prefix),
        )
        for r in resources
    ]


def synthetic_run(base: ProgramRun, size: int, name_prefix: str) -> ProgramRun:
    """A ``ProgramRun`` of exactly ``size`` resources replicated from ``base``."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    resources: list[RecordedResource] = []
    k = 0
    while len(resources) < size:
        resources.extend(replica(base.resources, k, name_prefix)[: size - len(resources)])
        k += 1
    return replace(base, resources=resources)
