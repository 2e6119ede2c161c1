"""The floor: what starting Python and importing exactly the program's libraries costs.

The list is derived, not written down: every resource type the program
registers (from a recorded run) is looked up in the resource-module registry
that its SDK package fills on import (``pulumi_aws``'s own ``resource_modules``
table), which names the Python module and class that define it. Importing
those classes is what any run of the program must pay, offline or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.timing import BenchError

if TYPE_CHECKING:
    from enclave.harness import ProgramRun

PROVIDER_PREFIX = "pulumi:providers:"


def program_classes(run: ProgramRun) -> list[tuple[str, str]]:
    """``(module, class)`` of every custom resource type in ``run``, sorted, without duplicates.

    Raises ``BenchError`` for a type no imported SDK package registered (the
    floor would silently leave its import out).
    """
    from pulumi.runtime import rpc

    found: set[tuple[str, str]] = set()
    for res in run.resources:
        if not res.custom:
            continue  # components are the program's own code, not a library import
        if res.type.startswith(PROVIDER_PREFIX):
            pkg = res.type[len(PROVIDER_PREFIX) :]
            packages = rpc._RESOURCE_PACKAGES.get(pkg) or []  # noqa: SLF001 - the SDK's registry
            info = next((getattr(p, "pkg_info", None) for p in packages), None)
            if not info or info.get("token") != res.type:
                raise BenchError(f"provider type {res.type}: no SDK package registered it")
            found.add((info["fqn"], info["class"]))
            continue
        pkg, mod, _cls = res.type.split(":")
        modules = rpc._RESOURCE_MODULES.get(f"{pkg}:{mod}") or []  # noqa: SLF001
        info = next((getattr(m, "mod_info", None) for m in modules), None)
        if not info or res.type not in info.get("classes", {}):
            raise BenchError(f"resource type {res.type}: no SDK module registered it")
        found.add((info["fqn"], info["classes"][res.type]))
    return sorted(found)


def floor_script(classes: list[tuple[str, str]], gc_paused: bool = False) -> str:
    """Python source that imports ``pulumi`` and touches each class (SDK submodules load lazily, on first use).

    ``gc_paused`` imports with the cyclic collector off, as ``enclave.harness``
    runs the program: the floor for that way of importing.
    """
    pairs = ", ".join(f"({m!r}, {c!r})" for m, c in classes)
    pause = "import gc\ngc.disable()\n" if gc_paused else ""
    return (
        f"{pause}import importlib\nimport pulumi\nfor m, c in [{pairs}]:\n    getattr(importlib.import_module(m), c)\n"
    )
