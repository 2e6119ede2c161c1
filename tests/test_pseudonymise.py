"""`python -m enclave pseudonymise`: the library on streams, and the command against moto's S3 and Secrets Manager."""

from __future__ import annotations

import io
import json
import shutil
import tracemalloc
from pathlib import Path
from urllib.parse import parse_qsl

import boto3
import pytest
import yaml

from components import clock
from components.pseudonym_secret import pseudonymise
from components.transfer_export import export_bucket_policy
from enclave.cli import main
from enclave.harness import PROJECT_DIR
from enclave.pseudonymise import (
    InputError,
    export_files,
    pseudonymise_csv,
    pseudonymise_jsonl,
    pseudonymiser,
)
from tests.estate import aws_environment
from tests.grants_fixture import AT, DOMAIN, RECIPIENT, config_with, transfer_grant

PEPPER = "p3pperOfDublin" * 5  # 70 alphanumeric characters, like the site's RandomPassword
KEY_ARN = "arn:aws:kms:eu-west-1:222222222222:key/0000abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "enclave-dublin-exports-111111111111"
ENDPOINT = "vpce-0123456789abcdef0"

CSV = (
    "user_id,email,country,watched_seconds\n"
    'u-1,zoë@example.eu,IE,"1,200"\n'
    ",anon@example.eu,NO,30\n"
    "u-1,zoë@example.eu,IE,5\n"
)
JSONL = (
    '{"user_id": 42, "email": "ola@example.no", "country": "NO"}\n'
    "\n"
    '{"user_id": "42", "email": null, "country": "SE", "tags": ["a"]}\n'
)


def p(value: str) -> str:
    return pseudonymise(PEPPER.encode(), value)


def csv_out(text: str, columns=("user_id", "email"), **kwargs) -> str:
    out = io.StringIO()
    pseudonymise_csv(io.StringIO(text), out, columns, pseudonymiser(PEPPER.encode(), **kwargs))
    return out.getvalue()


# --------------------------------------------------------------------------- the library


def test_the_pseudonymiser_is_the_sites_keyed_hash_and_stays_so_past_its_cache():
    values = ["user-42", "zoë@example.eu", "", "x" * 1000, *(f"u{i}" for i in range(50))]
    fast = pseudonymiser(PEPPER.encode(), cache_entries=8)  # small cache: cleared several times
    assert [fast(v) for v in values * 2] == [p(v) for v in values * 2]
    with pytest.raises(ValueError, match="pepper is 5 bytes; expected at least 32"):
        pseudonymiser(b"short")


def test_csv_identifier_columns_are_replaced_and_nothing_else():
    assert csv_out(CSV) == (
        "user_id,email,country,watched_seconds\n"
        f'{p("u-1")},{p("zoë@example.eu")},IE,"1,200"\n'
        f",{p('anon@example.eu')},NO,30\n"
        f"{p('u-1')},{p('zoë@example.eu')},IE,5\n"
    )
    assert csv_out(CSV) == csv_out(CSV), "deterministic"


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        (CSV, ("user_id", "phone"), "<csv>: no column 'phone' in the header; the columns are 'user_id', 'email'"),
        ("a,a\n1,2\n", ("a",), "<csv>: more than one column 'a' in the header"),
        ("", ("a",), "<csv>: no header row"),
        ("user_id,email\nu-1\n", ("user_id",), "<csv>:2: 1 fields; the header has 2"),
    ],
)
def test_csv_problems_name_the_file_and_line_never_a_value(text, columns, message):
    with pytest.raises(InputError) as err:
        csv_out(text, columns)
    assert str(err.value).startswith(message)
    assert "u-1" not in str(err.value)


def test_jsonl_fields_are_replaced_integers_as_their_text():
    out = io.StringIO()
    rows = pseudonymise_jsonl(io.StringIO(JSONL), out, ["user_id", "email"], pseudonymiser(PEPPER.encode()))
    assert rows == 2
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {"user_id": p("42"), "email": p("ola@example.no"), "country": "NO"}
    assert second == {"user_id": p("42"), "email": None, "country": "SE", "tags": ["a"]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"email": "a@b.eu"}', "<jsonl>:1: no field 'user_id'"),
        ('{"user_id": true}', "<jsonl>:1: field 'user_id' holds a bool; expected a string or integer identifier"),
        ('{"user_id": {"id": 1}}', "<jsonl>:1: field 'user_id' holds a dict"),
        ("[1, 2]", "<jsonl>:1: a JSON list; expected one object per line"),
        ('{"user_id": "secret-value"', "<jsonl>:1: not JSON ("),
    ],
)
def test_jsonl_problems_name_the_line_never_a_value(line, message):
    with pytest.raises(InputError) as err:
        pseudonymise_jsonl(io.StringIO(line), io.StringIO(), ["user_id"], pseudonymiser(PEPPER.encode()))
    assert str(err.value).startswith(message) and "secret-value" not in str(err.value)


def test_streaming_memory_does_not_grow_with_the_input():
    def peak(rows: int) -> int:
        lines = ("user_id,email\n", *(f"u-{i},user{i}@example.eu\n" for i in range(rows)))
        tracemalloc.start()
        try:
            pseudonymise_csv(
                iter(lines), Sink(), ["user_id", "email"], pseudonymiser(PEPPER.encode(), cache_entries=256)
            )
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(8_000)
    assert large < small * 1.5 + 64 * 1024, (small, large)


class Sink(io.StringIO):
    """Discards what is written (a stream whose contents the memory test must not count)."""

    def write(self, text: str) -> int:
        return len(text)


# --------------------------------------------------------------------------- the command, on moto


def put_conditions_hold(policy: dict, headers: dict[str, str]) -> list[str]:
    """The Sids of the export bucket policy's PutObject denies that this request would trigger.

    The request comes from the workload role through the site's endpoint (what the
    deployment provides); the rest of the context is what the request carries.
    """
    tags = dict(parse_qsl(headers.get("x-amz-tagging", "")))
    context = {
        "aws:PrincipalArn": "arn:aws:iam::111111111111:role/enclave-dublin-workload",
        "aws:SourceVpce": ENDPOINT,
        "s3:x-amz-server-side-encryption": headers.get("x-amz-server-side-encryption"),
        "s3:x-amz-server-side-encryption-aws-kms-key-id": headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
        "s3:x-amz-copy-source": headers.get("x-amz-copy-source"),
        **{f"s3:RequestObjectTag/{k}": v for k, v in tags.items()},
    }
    triggered = []
    for s in policy["Statement"]:
        if s["Effect"] != "Deny" or s.get("Action") not in ("s3:PutObject", "s3:*"):
            continue
        if s["Action"] == "s3:*":
            continue  # the account perimeter: the workload is of the data account
        for operator, pairs in s.get("Condition", {}).items():
            for key, expected in pairs.items():
                value = context.get(key)
                if operator in ("StringNotEquals", "ArnNotEquals"):
                    hit = value != expected
                elif operator == "Null":
                    hit = (value is None) == (expected == "true")
                else:
                    raise AssertionError(f"{s['Sid']}: no rule here for {operator}")
                if hit:
                    triggered.append(s["Sid"])
    return triggered


aws_env = pytest.fixture(aws_environment)


@pytest.fixture
def aws(aws_env, monkeypatch):
    """moto in-process (fake credentials, one shared model loader), the pepper and the export bucket."""
    monkeypatch.setenv(clock.ENV, clock.format_utc(AT))
    session = boto3.Session(region_name="eu-west-1")
    session.client("secretsmanager").create_secret(Name="enclave-dublin-pseudonym-pepper", SecretString=PEPPER)
    session.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return session


@pytest.fixture
def program(tmp_path):
    """A copy of the project's config whose dublin stack declares the transfer grant."""
    prog = tmp_path / "program"
    prog.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", prog / "Pulumi.yaml")
    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.dublin.yaml").read_text())
    doc["config"]["eu-data-enclave:platformApproverDomains"] = [DOMAIN]
    doc["config"]["eu-data-enclave:transferGrants"] = [transfer_grant()]
    (prog / "Pulumi.dublin.yaml").write_text(yaml.safe_dump(doc))
    return prog


def inputs(tmp_path: Path) -> list[Path]:
    (tmp_path / "views.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "profiles.jsonl").write_text(JSONL, encoding="utf-8")
    return [tmp_path / "views.csv", tmp_path / "profiles.jsonl"]


def run_cli(capsys, program: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["pseudonymise", "--stack", "dublin", "--program", str(program), "--key-arn", KEY_ARN, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_exports_carry_what_the_bucket_policy_requires(aws, tmp_path):
    cfg = config_with(transfers=[transfer_grant()])
    (grant,) = cfg.transfer_grants
    sent: list[dict] = []
    aws.events.register("before-send.s3.*", lambda request, **_: sent.append({**request.headers, "url": request.url}))
    files = [(path, path.suffix.lstrip(".")) for path in inputs(tmp_path)]
    export_files(cfg, grant, files, ["user_id", "email"], KEY_ARN, aws, report=lambda _: None)

    assert len(sent) == 2, "one single PUT per file: the policy refuses multipart parts"
    policy = export_bucket_policy(cfg, KEY_ARN, ENDPOINT, cfg.transfer_grants_in_force)
    for headers in sent:
        text = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
        assert put_conditions_hold(policy, text) == []
        assert "uploadId" not in headers["url"] and "x-amz-copy-source" not in {k.lower() for k in headers}

    s3 = aws.client("s3")
    for name in ("views.csv", "profiles.jsonl"):
        key = f"exports/acme-research/{name}"
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KEY_ARN)
        tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]}
        assert tags == {"enclave:pseudonymised": "true", "enclave:grant": "XFER-77"}
        assert head["Metadata"]["pseudonymised-columns"] == "user_id,email"
        assert head["Metadata"]["legal-basis"] == "SCC"
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        for raw in ("u-1", "zoë@example.eu", "anon@example.eu", "ola@example.no", '"42"', ": 42"):
            assert raw not in body, f"{name} holds a raw identifier"
    views = s3.get_object(Bucket=BUCKET, Key="exports/acme-research/views.csv")["Body"].read().decode()
    assert views == csv_out(CSV)
    assert s3.head_object(Bucket=BUCKET, Key="exports/acme-research/views.csv")["Metadata"]["rows"] == "3"


def test_cli_writes_every_file_and_reports_each(aws, program, tmp_path, capsys):
    code, out, err = run_cli(
        capsys, program, "--grant", "XFER-77", "--columns", "user_id,email", *map(str, inputs(tmp_path))
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"wrote s3://{BUCKET}/exports/acme-research/views.csv: 3 rows, sha256 ")
    assert lines[1].startswith(f"wrote s3://{BUCKET}/exports/acme-research/profiles.jsonl: 2 rows")
    assert f"for XFER-77 (account {RECIPIENT}, readable until 2026-05-31T00:00:00Z)" in lines[0]
    # --prefix finds the same grant.
    code, out, _ = run_cli(
        capsys, program, "--prefix", "exports/acme-research/", "--columns", "user_id,email", str(tmp_path / "views.csv")
    )
    assert code == 0 and "for XFER-77" in out


def listed(aws) -> list[str]:
    return [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--grant", "XFER-9", "--columns", "user_id"],
            "--grant XFER-9: no transfer grant of stack dublin has this ticket (declared: XFER-77)",
        ),
        (["--prefix", "exports/other/", "--columns", "user_id"], "--prefix exports/other/: no transfer grant"),
        (["--grant", "XFER-77", "--columns", "user_id,,email"], "--columns 'user_id,,email': expected distinct"),
        (["--grant", "XFER-77", "--columns", "user_id,phone"], "views.csv: no column 'phone' in the header"),
    ],
)
def test_bad_input_exits_2_and_uploads_nothing(aws, program, tmp_path, capsys, argv, message):
    code, out, err = run_cli(capsys, program, *argv, *map(str, inputs(tmp_path)))
    assert code == 2 and out == "", out
    assert err.startswith(f"error: {message}"), err
    assert listed(aws) == [], "a bad input half-writes nothing"


def test_a_bad_second_file_uploads_not_even_the_first(aws, program, tmp_path, capsys):
    good, _ = inputs(tmp_path)
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"user_id": "u-9"}\n{"email": "x"}\n')
    code, _, err = run_cli(capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(good), str(bad))
    assert code == 2 and err.startswith("error: broken.jsonl:2: no field 'user_id'")
    assert listed(aws) == []


def test_an_expired_grant_is_refused(aws, program, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(clock.ENV, "2026-06-01T00:00:00Z")
    code, _, err = run_cli(capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(inputs(tmp_path)[0]))
    assert code == 2 and err.startswith("error: --grant XFER-77: the grant expired at 2026-05-31T00:00:00Z")


def test_the_key_must_be_the_sites_export_key(aws, program, tmp_path, capsys):
    code = main(
        [
            "pseudonymise",
            "--stack",
            "dublin",
            "--program",
            str(program),
            "--grant",
            "XFER-77",
            "--columns",
            "user_id",
            "--key-arn",
            "alias/aws/s3",
            str(inputs(tmp_path)[0]),
        ]
    )
    assert code == 2 and capsys.readouterr().err.startswith("error: --key-arn 'alias/aws/s3': expected the export key")


def test_without_the_pepper_nothing_is_written(aws, program, tmp_path, capsys):
    aws.client("secretsmanager").delete_secret(
        SecretId="enclave-dublin-pseudonym-pepper", ForceDeleteWithoutRecovery=True
    )
    code, _, err = run_cli(capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(inputs(tmp_path)[0]))
    assert code == 2
    assert err.startswith(
        "error: cannot read the pepper enclave-dublin-pseudonym-pepper in eu-west-1 (secretsmanager:GetSecretValue: ResourceNotFoundException)"
    )
    assert listed(aws) == []


def test_a_refused_upload_says_what_was_written(aws, program, tmp_path, capsys):
    aws.client("s3").delete_bucket(Bucket=BUCKET)
    code, _, err = run_cli(capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(inputs(tmp_path)[0]))
    assert code == 2
    assert err.startswith(
        f"error: s3:PutObject of s3://{BUCKET}/exports/acme-research/views.csv failed (NoSuchBucket); already written: none"
    )


def test_unknown_formats_and_clashing_names_are_refused(aws, program, tmp_path, capsys):
    odd = tmp_path / "views.txt"
    odd.write_text(CSV)
    code, _, err = run_cli(capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(odd))
    assert code == 2 and "unknown format; name it .csv, .jsonl or .ndjson, or pass --format" in err
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / "views.csv"
    twin.write_text(CSV)
    code, _, err = run_cli(
        capsys, program, "--grant", "XFER-77", "--columns", "user_id", str(inputs(tmp_path)[0]), str(twin)
    )
    assert code == 2 and "another input has the name 'views.csv'" in err


def test_benchmark_compares_equal_work():
    from bench.pseudonymise import measure, same_output, synthetic_csv

    assert same_output(synthetic_csv(3000, 300, together=True)), "the library and the plain hmac loop must agree"
    results, rows = measure(1, True, rows=300)
    assert len(results["inputs"]) == 3 and len(rows) == 6
    for figures in results["inputs"].values():
        assert figures["baseline"]["rows_per_second"] > 0 and figures["speedup"] > 0
