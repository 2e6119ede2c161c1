"""``python -m enclave pseudonymise``: pseudonymise identifier columns into the export bucket, for a transfer grant.

Reads the site's pepper from Secrets Manager, replaces each value of the named
columns of CSV (with a header) or JSON Lines files by its keyed hash
(HMAC-SHA256 with the pepper, exactly ``components.pseudonym_secret.pseudonymise``),
and writes each file to ``s3://<export bucket>/<grant's prefix><file name>``
with what the export bucket's policy requires: one PUT per object carrying the
``enclave:pseudonymised`` tag and SSE-KMS with the export key. It runs as the
site's workload role, inside the site (the bucket refuses writes from anyone
else or from outside the site's S3 endpoint).

Streaming in constant memory: rows pass through a generator pipeline into a
temporary spool (memory, then disk); every input is pseudonymised and checked
before the first upload, so a bad file (a missing column, a malformed row)
uploads nothing. Raw values are never written anywhere, not even in messages.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode

from enclave.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from components.config import SiteConfig
    from components.grants import TransferGrant

HELP = "Pseudonymise identifier columns of CSV / JSON Lines files into the site's export bucket, for a transfer grant."

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}

MAX_OBJECT_BYTES = 5 * 1024**3
"""S3's largest single PUT. Exports are single PUTs: a multipart upload's parts carry no tag or key header,
so the export bucket's policy refuses them."""

SPOOL_MEMORY_BYTES = 8 * 1024**2
"""Output kept in memory up to this size per file, then spooled to a temporary file."""

CACHE_ENTRIES = 4096
"""Recent pseudonyms remembered (a user's rows often come together); bounded, so memory stays constant.
Measured: larger caches cost more on new identifiers than they save (bench/pseudonymise.py)."""


class InputError(UsageError):
    """A bad input file: reported with its name (and line), never with its values."""


# --------------------------------------------------------------------------- the library


def pseudonymiser(pepper: bytes, cache_entries: int = CACHE_ENTRIES) -> Callable[[str], str]:
    """``identifier -> pseudonym``, the same as ``components.pseudonym_secret.pseudonymise``, built for many values.

    The keyed HMAC is set up once and copied per value (about 1.25x the rows per
    second of a fresh ``hmac.new`` per value); a small cache of recent identifiers
    (cleared when full, so memory stays constant) doubles that when a user's rows
    come together, and costs about 5% when every identifier is new
    (``python -m bench.pseudonymise``; docs/grants.md). A plain function, not a
    callable object: the call is the hot path.
    """
    from components.pseudonym_secret import pseudonymise

    pseudonymise(pepper, "")  # the same refusal of a short pepper, with the same message
    fresh = hmac.new(pepper, digestmod=hashlib.sha256).copy
    cache: dict[str, str] = {}
    recall = cache.get

    def pseudonym(identifier: str) -> str:
        known = recall(identifier)
        if known is None:
            mac = fresh()
            mac.update(identifier.encode())
            known = mac.hexdigest()
            if len(cache) >= cache_entries:
                cache.clear()
            cache[identifier] = known
        return known

    return pseudonym


def pseudonymise_csv(
    lines: Iterable[str], out: IO[str], columns: Sequence[str], pseudonym: Callable[[str], str], source: str = "<csv>"
) -> int:
    """Copy CSV ``lines`` (header first) to ``out`` with ``columns`` pseudonymised; the number of data rows.

    Empty values stay empty (there is no identifier to hide); blank lines are dropped.
    """
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise InputError(f"{source}: no header row; expected a CSV file whose first row names its columns")
    for name in columns:
        if header.count(name) != 1:
            found = "no" if name not in header else "more than one"
            raise InputError(
                f"{source}: {found} column {name!r} in the header; the columns are {', '.join(map(repr, header))}"
            )
    positions = [header.index(name) for name in columns]
    width = len(header)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    rows = 0
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            raise InputError(f"{source}:{reader.line_num}: {len(row)} fields; the header has {width}")
        for i in positions:
            if row[i]:
                row[i] = pseudonym(row[i])
        writer.writerow(row)
        rows += 1
    return rows


def pseudonymise_jsonl(
    lines: Iterable[str], out: IO[str], columns: Sequence[str], pseudonym: Callable[[str], str], source: str = "<jsonl>"
) -> int:
    """Copy JSON Lines to ``out`` with the top-level ``columns`` of each object pseudonymised; the number of objects.

    Strings and integers are identifiers (an integer as its decimal text, so
    ``42`` and ``"42"`` get the same pseudonym, as in CSV); ``null`` and ``""``
    stay as they are; every object must have every column.
    """
    rows = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{number}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{source}:{number}: a JSON {type(obj).__name__}; expected one object per line")
        for name in columns:
            if name not in obj:
                raise InputError(f"{source}:{number}: no field {name!r}; every object must have {', '.join(columns)}")
            value = obj[name]
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise InputError(
                    f"{source}:{number}: field {name!r} holds a {type(value).__name__}; "
                    "expected a string or integer identifier"
                )
            obj[name] = pseudonym(str(value))
        out.write(dumps(obj))
        out.write("\n")
        rows += 1
    return rows


PSEUDONYMISERS = {"csv": pseudonymise_csv, "jsonl": pseudonymise_jsonl}


# --------------------------------------------------------------------------- exports


@dataclass
class Export:
    """One pseudonymised file, spooled and ready to upload."""

    source: Path
    key: str
    """Object key: the grant's prefix and the file's name."""
    fmt: str
    rows: int
    size: int
    sha256: str
    body: IO[bytes]


def spool(source: Path, key: str, fmt: str, columns: Sequence[str], pseudonym: Callable[[str], str]) -> Export:
    """Pseudonymise ``source`` into a temporary spool (constant memory); the spooled export."""
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")
    try:
        text = io.TextIOWrapper(body, encoding="utf-8", newline="", write_through=True)
        with source.open(encoding="utf-8", newline="") as lines:
            rows = PSEUDONYMISERS[fmt](lines, text, columns, pseudonym, source.name)
        text.flush()
        text.detach()
    except UnicodeDecodeError as exc:
        body.close()
        raise InputError(f"{source.name}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except BaseException:
        body.close()
        raise
    size = body.tell()
    if size > MAX_OBJECT_BYTES:
        body.close()
        raise InputError(
            f"{source.name}: the pseudonymised file is {size} bytes, more than the 5 GiB of one PUT (the export "
            "bucket takes single PUTs only): split the input"
        )
    digest = hashlib.sha256()
    body.seek(0)
    for chunk in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(chunk)
    body.seek(0)
    return Export(source, key, fmt, rows, size, digest.hexdigest(), body)


def put_request(cfg: SiteConfig, grant: TransferGrant, export: Export, columns: Sequence[str], key_arn: str) -> dict:
    """The PutObject parameters: what the export bucket's policy requires, and what the recipient needs to know."""
    from components.grants import GRANT_TAG, PSEUDONYMISED_TAG

    return {
        "Bucket": cfg.bucket_name("exports"),
        "Key": export.key,
        "Body": export.body,
        "ContentType": CONTENT_TYPES[export.fmt],
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": key_arn,
        "Tagging": urlencode({PSEUDONYMISED_TAG: "true", GRANT_TAG: grant.ticket}),
        "Metadata": {
            "pseudonymised-columns": ",".join(columns),
            "rows": str(export.rows),
            "sha256": export.sha256,
            "legal-basis": grant.legal_basis,
        },
    }


def read_pepper(cfg: SiteConfig, session: Any) -> bytes:
    """The site's pepper, from its Secrets Manager secret in the site's region."""
    from botocore.exceptions import BotoCoreError, ClientError

    from components.pseudonym_secret import pepper_secret_name

    name = pepper_secret_name(cfg)
    try:
        secret = session.client("secretsmanager", region_name=cfg.region).get_secret_value(SecretId=name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(
            f"cannot read the pepper {name} in {cfg.region} (secretsmanager:GetSecretValue: {error.get('Code')}): "
            "run inside the site as the workload role, the only principal the secret lets read it"
        ) from None
    except BotoCoreError as exc:
        raise UsageError(f"cannot read the pepper {name} in {cfg.region}: {exc}") from None
    value = secret.get("SecretString")
    return value.encode("utf-8") if value is not None else secret["SecretBinary"]


def export_files(
    cfg: SiteConfig,
    grant: TransferGrant,
    inputs: Sequence[tuple[Path, str]],
    columns: Sequence[str],
    key_arn: str,
    session: Any,
    report: Callable[[str], None] = print,
) -> list[Export]:
    """Pseudonymise every ``(path, format)`` and upload them under the grant's prefix; the exports written.

    Every file is pseudonymised before the first upload: a bad one uploads nothing.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    pseudonym = pseudonymiser(read_pepper(cfg, session))
    exports: list[Export] = []
    try:
        for path, fmt in inputs:
            exports.append(spool(path, f"{grant.prefix}{path.name}", fmt, columns, pseudonym))
        s3 = session.client("s3", region_name=cfg.region)
        for done, export in enumerate(exports):
            try:
                s3.put_object(**put_request(cfg, grant, export, columns, key_arn))
            except (ClientError, BotoCoreError) as exc:
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else exc
                written = ", ".join(e.key for e in exports[:done]) or "none"
                raise UsageError(
                    f"s3:PutObject of s3://{cfg.bucket_name('exports')}/{export.key} failed ({code}); already "
                    f"written: {written}. The export bucket takes writes only from the workload role through the "
                    "site's S3 endpoint, with the export key"
                ) from None
            report(
                f"wrote s3://{cfg.bucket_name('exports')}/{export.key}: {export.rows} rows, sha256 {export.sha256}, "
                f"for {grant.ticket} (account {grant.recipient_account_id}, readable until "
                f"{grant.not_after.strftime('%Y-%m-%dT%H:%M:%SZ')})"
            )
    finally:
        for export in exports:
            export.body.close()
    return exports


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="the site's stack (its Pulumi.<stack>.yaml declares the grant)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--grant", metavar="TICKET", help="the transfer grant the export is for (its ticket)")
    which.add_argument("--prefix", help="the export prefix of a transfer grant in force, e.g. exports/acme-research/")
    parser.add_argument(
        "--columns", required=True, help="comma-separated identifier columns (CSV header names or JSON fields)"
    )
    parser.add_argument(
        "--key-arn",
        required=True,
        help="the export key's ARN (pulumi stack output export_key_arn); every write must name it",
    )
    parser.add_argument("--format", choices=sorted(set(FORMATS.values())), help="input format (default: by extension)")
    parser.add_argument("--program", type=Path, default=None, help="the Pulumi program directory (default: this one)")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="CSV or JSON Lines files")


def _site_config(program: Path, stack: str) -> SiteConfig:
    from components.config import SiteConfigError, site_config_from_mapping
    from enclave.harness import HarnessError, load_stack_config

    try:
        return site_config_from_mapping(load_stack_config(program, stack))
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    except SiteConfigError as exc:
        raise UsageError(f"stack {stack!r}: {'; '.join(exc.problems)}") from None


def choose_grant(cfg: SiteConfig, ticket: str | None, prefix: str | None) -> TransferGrant:
    """The transfer grant named by ticket (or owning the prefix) that is in force; ``UsageError`` otherwise."""
    from components.clock import format_utc

    declared = cfg.transfer_grants
    if ticket is not None:
        found = [g for g in declared if g.ticket == ticket]
        if not found:
            known = ", ".join(g.ticket for g in declared) or "none"
            raise UsageError(
                f"--grant {ticket}: no transfer grant of stack {cfg.site} has this ticket (declared: {known})"
            )
    else:
        found = [g for g in declared if g.prefix == prefix]
        if not found:
            known = ", ".join(sorted({g.prefix for g in declared})) or "none"
            raise UsageError(
                f"--prefix {prefix}: no transfer grant of stack {cfg.site} has this prefix (declared: {known})"
            )
    live = [g for g in found if g in cfg.transfer_grants_in_force]
    if not live:
        ended = max(g.not_after for g in found)
        raise UsageError(
            f"{'--grant ' + ticket if ticket else '--prefix ' + str(prefix)}: the grant expired at {format_utc(ended)}; "
            "its recipient can no longer read exports: ask for a new grant by pull request"
        )
    return max(live, key=lambda g: g.not_after)


def _inputs(paths: Sequence[Path], fmt: str | None) -> list[tuple[Path, str]]:
    chosen, names = [], set()
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        kind = fmt or FORMATS.get(path.suffix.lower())
        if kind is None:
            raise UsageError(f"{path}: unknown format; name it .csv, .jsonl or .ndjson, or pass --format")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", path.name):
            raise UsageError(f"{path}: the object name {path.name!r} must be letters, digits, '.', '_' or '-'")
        if path.name in names:
            raise UsageError(f"{path}: another input has the name {path.name!r}; each file becomes one object")
        names.add(path.name)
        chosen.append((path, kind))
    return chosen


def _columns(raw: str) -> list[str]:
    columns = [c.strip() for c in raw.split(",")]
    if not all(columns) or len(set(columns)) != len(columns):
        raise UsageError(f"--columns {raw!r}: expected distinct, non-empty names separated by commas")
    return columns


def _key_arn(cfg: SiteConfig, arn: str) -> str:
    pattern = rf"arn:aws:kms:{re.escape(cfg.region)}:{cfg.operator_account_id}:key/[0-9a-f-]{{36}}"
    if not re.fullmatch(pattern, arn):
        raise UsageError(
            f"--key-arn {arn!r}: expected the export key of the site, arn:aws:kms:{cfg.region}:"
            f"{cfg.operator_account_id}:key/<id> (pulumi stack output export_key_arn)"
        )
    return arn


def run(args: argparse.Namespace) -> int:
    import boto3

    from enclave.harness import PROJECT_DIR

    cfg = _site_config(args.program or PROJECT_DIR, args.stack)
    grant = choose_grant(cfg, args.grant, args.prefix)
    columns = _columns(args.columns)
    key_arn = _key_arn(cfg, args.key_arn)
    inputs = _inputs(args.inputs, args.format)
    export_files(
        cfg, grant, inputs, columns, key_arn, boto3.Session(), report=lambda line: print(line, file=sys.stdout)
    )
    return EXIT_OK
