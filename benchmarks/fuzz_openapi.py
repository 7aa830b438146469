"""Schemathesis over the emulator's own /openapi.json, against a real emulator it starts, for a bounded time.

    pip install -e '.[fuzz]'
    python benchmarks/fuzz_openapi.py [--seconds 180] [--workers 1] [--seed N] [--report-dir DIR] [--db URL]
                                      [--sub-account]

Starts `python -m emulator serve` (loopback, a fresh temporary SQLite file or `--db`, an admin token) and runs
`schemathesis run` twice against its /openapi.json, splitting the time between them:

1. the `/v1` API, as one account (`Authorization: Bearer sk_test_...`; with `--sub-account`, as a sub-account
   of it made first, `X-Sub-Account-Id` on every request), two thirds of the time;
2. the control API (`/_emulator/*`), as the admin (`X-Emulator-Admin-Token`), the rest.

Every check schemathesis has runs (`--checks all`: no 5xx, status codes, content types and response bodies as
documented, schema-valid input accepted, schema-invalid input rejected, and the stateful ones), with two
settings. A schema-valid request may be answered 400, or 402 when the account's balance has run out; a
schema-invalid one may be answered 413 when its body is over the 1 MiB limit (a string longer than a field
allows can be). The emulator answers 422 when a field breaks a rule the document states, and 400 (the vendor's
"Bad request") when every field keeps its rules but the request is refused anyway: by the state of other
records (a released number, no webhook set, a call not started), by the current time (an expiry in the past),
or by fields that disagree with each other (a Canadian area code with country US). No schema can state those,
so a fuzzer's schema-valid request can meet them. It then prints, per run and in all: the test cases
generated, the 5xx answers (counted from the emulator's own log of unhandled errors, so each one is counted,
and from schemathesis' server-error check), and the failures by kind with the operations they were found on.
The JSON reports stay in --report-dir for `st replay`-style digging. Exit code: 0 when no failure of any kind
was found, else 1. It is a script, not a test: the default test suite does not run it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.testing import EmulatorProcess  # noqa: E402

CRASH_LINE = "Unhandled error on"
CONFIG = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "402", "403", "404", "409", "429", "5xx"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
"""


@dataclass
class Run:
    name: str
    cases: int = 0
    server_errors: int = 0  # answers >= 500 the emulator logged as unhandled
    failures: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # "CODE title" -> (count, operations)
    errors: list[str] = field(default_factory=list)


def schemathesis_command() -> list[str]:
    found = shutil.which("schemathesis") or shutil.which("st")
    if found is None:
        sys.exit("schemathesis is not installed: pip install -e '.[fuzz]'")
    return [found]


def fuzz(name: str, proc: EmulatorProcess, headers: list[str], include: str, seconds: int, workers: int,
         seed: int | None, report: Path) -> Run:
    log_before = proc.log.read_text(errors="replace").count(CRASH_LINE)
    config = report.with_suffix(".toml")
    config.write_text(CONFIG)
    cmd = [*schemathesis_command(), "--config-file", str(config), "--no-color", "run",
           f"{proc.base_url}/openapi.json", "--checks", "all",
           "--max-time", str(seconds), "--workers", str(workers), "--include-path-regex", include,
           "--report", "json", "--report-json-path", str(report)]
    for header in headers:
        cmd += ["-H", header]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    (report.with_suffix(".txt")).write_text(out.stdout + out.stderr)
    run = Run(name)
    run.server_errors = proc.log.read_text(errors="replace").count(CRASH_LINE) - log_before
    if not report.exists():
        run.errors.append(f"schemathesis wrote no report (exit {out.returncode}): {out.stderr.strip()[-500:]}")
        return run
    data = json.loads(report.read_text())
    run.cases = data["test_cases"]["generated"]
    for failure in data["failures"]:
        run.failures[f"{failure['code']} {failure['title']}"] = (failure["count"], failure["operations"])
    run.errors = [json.dumps(error)[:300] for error in data.get("errors", [])]
    return run


def show(run: Run) -> None:
    print(f"\n{run.name}: {run.cases:,} test cases, {run.server_errors} answers >= 500 in the emulator's log")
    if not run.failures:
        print("  failures: none")
    for kind, (count, operations) in sorted(run.failures.items()):
        print(f"  {kind}: {count}")
        for operation in operations:
            print(f"      {operation}")
    for error in run.errors:
        print(f"  error: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=180, help="the whole time budget, split between the runs")
    # One worker by default: with several threads, Python 3.11's ast module (which Hypothesis uses to describe
    # strategies) can fail with "AST constructor recursion depth mismatch", a schemathesis run error.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, help="schemathesis' seed, to repeat a run")
    parser.add_argument("--report-dir", type=Path, help="where the JSON reports and outputs go (default: temp)")
    parser.add_argument("--sub-account", action="store_true",
                        help="fuzz /v1 as a sub-account of the key (X-Sub-Account-Id on every request)")
    parser.add_argument("--db", help="the database to serve from (default: a new SQLite file); e.g. an empty "
                                     "PostgreSQL database, postgresql+asyncpg://user@host:port/name")
    args = parser.parse_args()
    reports = args.report_dir or Path(tempfile.mkdtemp(prefix="fuzz-openapi-"))
    reports.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    key = f"sk_test_fuzz{uuid.uuid4().hex[:16]}"
    api_seconds = max(1, args.seconds * 2 // 3)
    with EmulatorProcess(db=args.db, args=["--admin-token", token, "--log-level", "error"]) as proc:
        api_headers, api_name = [f"Authorization: Bearer {key}"], "/v1 API (one account key)"
        if args.sub_account:
            with httpx.Client(base_url=proc.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
                made = client.post("/v1/sub-accounts", json={"name": "Fuzzed"})
                made.raise_for_status()
            api_headers.append(f"X-Sub-Account-Id: {made.json()['id']}")
            api_name = "/v1 API (a sub-account of the key)"
        runs = [
            fuzz(api_name, proc, api_headers, "^/v1/", api_seconds, args.workers, args.seed, reports / "v1.json"),
            fuzz("control API (admin token)", proc, [f"X-Emulator-Admin-Token: {token}"], "^/_emulator/",
                 max(1, args.seconds - api_seconds), args.workers, args.seed, reports / "control.json"),
        ]
    for run in runs:
        show(run)
    kinds: dict[str, int] = {}
    for run in runs:
        for kind, (count, _) in run.failures.items():
            kinds[kind] = kinds.get(kind, 0) + count
    total_5xx = sum(run.server_errors for run in runs)
    print(f"\nin all: {sum(r.cases for r in runs):,} test cases, {total_5xx} answers >= 500, "
          f"{sum(kinds.values())} failures" + (": " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
                                              if kinds else ""))
    print(f"reports: {reports}")
    return 0 if not kinds and not total_5xx and not any(r.errors for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
