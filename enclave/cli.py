"""Command-line entry point: one sub-command per module, loaded on demand.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import their heavy dependencies (pulumi_aws,
boto3) inside ``run`` so that ``--help`` and the other commands stay fast.

Exit codes, for every command: 0 success, 1 the check found a problem,
2 usage, configuration or environment error (with a message on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "check": "enclave.check",
    "plan": "enclave.plan",
    "diff": "enclave.diff",
    "review": "enclave.review",
    "bootstrap": "enclave.bootstrap",
    "audit": "enclave.audit",
    "pseudonymise": "enclave.pseudonymise",
}

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument, file or config: reported on stderr, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m enclave",
        description="Offline checks, previews and live audits of the EU data enclave.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not built yet
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits 2 on usage errors
    try:
        return args._run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
