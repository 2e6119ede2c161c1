"""Command-line entry point: one sub-command per module, loaded on demand.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules import their heavy dependencies (pulumi_aws,
boto3) inside ``run`` so that ``--help`` and the other commands stay fast.

Exit codes, for every command: 0 success, 1 the check found a problem,
2 usage, configuration or environment error (with a message on stderr).
Any other exception is a bug: it is reported in one line (``--debug`` prints the
traceback) and exits 2, never a Python traceback on a reviewer's screen.

Which program: ``--program DIR`` when given; else the Pulumi project that holds
the current directory (the nearest ``Pulumi.yaml`` here or above, as the Pulumi
CLI finds it); else this checkout's own project. Installed with ``pip install .``
the tool has no project of its own, so outside a Pulumi project it asks for
``--program``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

COMMANDS = {
    "check": "enclave.check",
    "plan": "enclave.plan",
    "diff": "enclave.diff",
    "review": "enclave.review",
    "bootstrap": "enclave.bootstrap",
    "audit": "enclave.audit",
    "preflight": "enclave.preflight",
    "pseudonymise": "enclave.pseudonymise",
    "policy-config": "enclave.policy_config",
}

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument, file or config: reported on stderr, exit code 2."""


DIST_NAME = "eu-data-enclave"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The checkout this package runs from (site-packages when installed)."""


def version() -> str:
    """The installed distribution's version, else the checkout's ``pyproject.toml`` version."""
    from importlib import metadata

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        pass
    import tomllib

    try:
        return tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def find_project(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` with a ``Pulumi.yaml`` (how the Pulumi CLI finds its project)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return None


def resolve_program(arg: Path | None) -> Path:
    """The program directory a command works on (see the module docstring); ``UsageError`` if there is none."""
    if arg is not None:
        program = arg.resolve()
        if not program.is_dir():
            raise UsageError(f"--program {arg}: no such directory")
        if not (program / "Pulumi.yaml").is_file():
            other = next((n for n in ("Pulumi.yml", "Pulumi.json") if (program / n).is_file()), None)
            if other:
                raise UsageError(f"--program {arg}: {other} is not read here: write the project file as Pulumi.yaml")
            raise UsageError(f"--program {arg}: no Pulumi.yaml there (is it a Pulumi project?)")
        return _readable(program)
    found = find_project(Path.cwd()) or find_project(SOURCE_ROOT)
    if found is None:
        raise UsageError(
            f"no Pulumi project in {Path.cwd()} or above (no Pulumi.yaml): run it inside one or pass --program DIR"
        )
    return _readable(found)


def short_stack_name(name: str) -> str:
    """The stack's own name in ``stack``, ``org/stack`` or ``org/project/stack`` (as ``pulumi -s`` takes it):
    the part that names its ``Pulumi.<stack>.yaml``. ``UsageError`` for any other shape."""
    parts = name.split("/")
    if len(parts) > 3 or not all(parts):
        raise UsageError(f"--stack {name}: expected a stack name, org/stack or org/project/stack")
    return parts[-1]


def _readable(program: Path) -> Path:
    """``program``, once its project and stack files are known to be UTF-8 text (else a one-line error)."""
    from enclave.files import read_text

    for path in sorted([program / "Pulumi.yaml", *program.glob("Pulumi.*.yaml")]):
        read_text(path, "Pulumi project file" if path.name == "Pulumi.yaml" else "stack file")
    return program


def add_report_arguments(parser: argparse.ArgumentParser, formats: tuple[str, ...], format_help: str) -> None:
    """The options every reporting command shares: --format, --output, --policy-config, --soft-fail."""
    parser.add_argument("--format", choices=formats, default="text", help=f"{format_help} (default: text)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE (atomically)")
    parser.add_argument(
        "--policy-config",
        type=Path,
        metavar="FILE",
        help="--policy-pack-config JSON (default: <program>/policy/config/<stack>.json, else derived from the stack config)",
    )
    parser.add_argument(
        "--soft-fail", action="store_true", help="exit 0 even when a mandatory policy is violated (as Checkov)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enclave",
        description="Offline checks, previews and live audits of the EU data enclave.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
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
    argv = sys.argv[1:] if argv is None else list(argv)
    # --debug is accepted anywhere on the line, before or after the command.
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        parser = build_parser()
        args = parser.parse_args(argv)  # argparse exits 2 on usage errors
        return args._run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`enclave diff ... | head`): not an error of ours.
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a crash is a bug, but still one line and exit 2
        if debug:
            traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
        detail = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"error: unexpected {type(exc).__name__}{': ' + detail if detail else ''}{at}; "
            "this is a bug: rerun with --debug for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_USAGE
