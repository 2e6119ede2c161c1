"""``python -m enclave audit``: check a deployed site's guarantees with read-only AWS calls.

Independent of Pulumi's state: it reads what runs in the data account and the
site's region (see ``enclave.audit.checks``) and writes a report whose SHA-256
digest lets the auditor prove later what was found (``enclave.audit.report``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Audit a deployed site with read-only AWS calls; exit 1 if any guarantee is broken."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from enclave.audit.common import add_site_arguments

    add_site_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="what to print on stdout (default: text)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write report.json and report.md into DIR")
    parser.add_argument(
        "--operator-profile",
        metavar="PROFILE",
        help="AWS profile to describe the operator's keys with (default: the caller's credentials, cross-account)",
    )


def run(args: argparse.Namespace) -> int:
    from enclave.audit import report as rep
    from enclave.audit.checks import run_checks
    from enclave.audit.common import caller_account, load_site, session_in

    cfg = load_site(args.stack, args.config)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a directory")
    session = session_in(cfg)
    account = caller_account(session, cfg, cfg.data_account_id, "data account (dataAccountId)")
    key_session = session_in(cfg, args.operator_profile) if args.operator_profile else session
    timestamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    results = run_checks(cfg, session, account, key_session)
    report = rep.build(
        stack=args.stack,
        site=cfg.site,
        account=account,
        region=cfg.region,
        operator=cfg.operator_account_id,
        timestamp=timestamp,
        results=results,
    )
    render = {"text": rep.to_text, "json": rep.to_json, "markdown": rep.to_markdown}[args.format]
    sys.stdout.write(render(report))
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "report.json").write_text(rep.to_json(report), encoding="utf-8")
            (args.out / "report.md").write_text(rep.to_markdown(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--out {args.out}: cannot write the report ({exc.strerror})") from exc
    return EXIT_FAIL if report["summary"]["failed"] else EXIT_OK
