"""`agentphone-emulator scenario run`: progress while it runs, failures, a summary, reports."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from emulator.config import Settings
from emulator.scenarios import report
from emulator.scenarios.model import ScenarioError, discover
from emulator.scenarios.runner import Outcome, Runner


def run(paths: list[str], *, target: str | None = None, base_url: str | None = None, fixtures: list[str] | None = None,
        admin_token: str | None = None, report_json: str | None = None, report_junit: str | None = None,
        out: TextIO | None = None) -> int:
    """Exit code 0 only if every expectation of every scenario held; 2 if a scenario is malformed."""
    out = out or sys.stdout
    try:
        loaded = discover(paths)
    except ScenarioError as exc:
        print(f"error: {exc}", file=out)
        return 2
    if not loaded:
        print(f"error: no scenario files (.yaml, .yml, .json) under {', '.join(paths)}", file=out)
        return 2
    emulator = None
    if base_url is None:
        from emulator.testing.inprocess import InProcessEmulator

        emulator = InProcessEmulator(Settings(db=":memory:", fixtures=list(fixtures or []),
                                              admin_token=admin_token), serve=True).start()
        base_url = emulator.base_url
        print(f"started an emulator at {base_url}", file=out)
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    runner = Runner(base_url, target, admin_token)
    try:
        for index, scenario in enumerate(loaded, 1):
            outcome = runner.run(scenario)
            outcomes.append(outcome)
            print(report.progress_line(outcome, index, len(loaded)), file=out, flush=True)
    finally:
        runner.close()
        if emulator is not None:
            emulator.stop()
    seconds = time.perf_counter() - started
    failures = report.failures_text(outcomes)
    if failures:
        print("\n" + failures, file=out)
    print("\n" + report.summary_table(outcomes), file=out)
    if report_json:
        report.write_json(report_json, outcomes, seconds)
    if report_junit:
        report.write(report_junit, report.to_junit(outcomes, seconds))
    return 0 if all(o.passed for o in outcomes) else 1
