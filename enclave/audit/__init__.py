"""``python -m enclave audit``: check a deployed site's guarantees with read-only AWS calls.

Independent of Pulumi's state: it reads what runs in the data account and the
site's region (see ``enclave.audit.checks``) and writes a report whose SHA-256
digest lets the auditor prove later what was found (``enclave.audit.report``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from enclave.cli import EXIT_FAIL, EXIT_OK, UsageError

HELP = "Audit a deployed site with read-only AWS calls; exit 1 if any guarantee is broken."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from enclave.audit.common import add_report_arguments

    add_report_arguments(
        parser,
        reports="report.json and report.md",
        operator_help="AWS profile to describe the operator's keys with (default: the caller's credentials, "
        "cross-account)",
    )


def run(args: argparse.Namespace) -> int:
    from components.config import SiteConfigError, site_config_from_mapping
    from enclave.audit import grants
    from enclave.audit import report as rep
    from enclave.audit.checks import run_audit
    from enclave.audit.common import caller_account, load_guardrails, load_site_values, session_in

    values = load_site_values(args.stack, args.config)
    try:
        cfg = site_config_from_mapping(values)
    except SiteConfigError as exc:
        raise UsageError(str(exc)) from exc
    guardrails = load_guardrails(args.stack, values)
    if args.out is not None:
        check_out_dir(args.out)
    session = session_in(cfg)
    account = caller_account(session, cfg, cfg.data_account_id, "data account (dataAccountId)")
    key_session = session_in(cfg, args.operator_profile) if args.operator_profile else session
    now = datetime.now(UTC).replace(microsecond=0)
    timestamp = now.isoformat().replace("+00:00", "Z")
    audit = run_audit(
        cfg,
        session,
        account,
        key_session,
        now=now,
        progress=_progress,
        guardrails=guardrails,
        guardrails_source=f"guardrails/Pulumi.{args.stack}.yaml",
    )
    report = rep.build(
        stack=args.stack,
        site=cfg.site,
        account=account,
        region=cfg.region,
        operator=cfg.operator_account_id,
        timestamp=timestamp,
        results=audit.results,
        grants=grants.listing(audit),
    )
    render = {"text": rep.to_text, "json": rep.to_json, "markdown": rep.to_markdown}[args.format]
    if args.out is not None:
        write_reports(args.out, {"report.json": rep.to_json(report), "report.md": rep.to_markdown(report)})
    sys.stdout.write(render(report))
    # Exit 0 only when every check passed: a result left unverified is a guarantee not proven.
    return EXIT_OK if rep.passed(report) else EXIT_FAIL


def _progress(line: str) -> None:
    # Progress goes to stderr: stdout carries only the report (it may be piped into a file or jq).
    print(line, file=sys.stderr, flush=True)


def check_out_dir(out: Path) -> None:
    """``UsageError`` unless ``out`` is (or can be created as) a writable directory; nothing is created."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is not writable" if existing == out else f"cannot be created ({existing} is not writable)"
        raise UsageError(f"--out {out}: {what}")


def write_reports(out: Path, files: dict[str, str]) -> None:
    """Write each file atomically (a temporary file in ``out``, then renamed): never a half-written report."""
    staged: list[tuple[str, Path]] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            staged.append((tmp, out / name))
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"--out {out}: cannot write the report ({exc.strerror or exc})") from exc
