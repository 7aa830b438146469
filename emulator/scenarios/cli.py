"""`agentphone-emulator scenario run`: progress while it runs, failures, a summary, reports, baselines."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from emulator.config import Settings
from emulator.scenarios import baseline, report
from emulator.scenarios.model import ScenarioError, discover
from emulator.scenarios.runner import Outcome, Runner


def run(paths: list[str], *, target: str | None = None, base_url: str | None = None, fixtures: list[str] | None = None,
        admin_token: str | None = None, report_json: str | None = None, report_junit: str | None = None,
        out: TextIO | None = None, seed: int = 0, record: bool = False, save_baseline: str | None = None,
        compare_with: str | None = None, baseline_dir: str | None = None,
        max_latency_increase: str | None = None) -> int:
    """Exit code 0 only if every expectation of every scenario held (and the baseline's gates, when compared);
    2 if a scenario, a baseline or an option cannot be used."""
    out = out or sys.stdout
    try:
        loaded = discover(paths)
        folder = Path(baseline_dir) if baseline_dir else baseline.default_dir(paths)
        saved = baseline.load(baseline.path_of(folder, compare_with)) if compare_with else None
        save_to = baseline.path_of(folder, save_baseline) if save_baseline else None
        increase = baseline.parse_percent(max_latency_increase) if max_latency_increase else None
    except (ScenarioError, baseline.BaselineError) as exc:
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
    runner = Runner(base_url, target, admin_token, seed=seed, record=record)
    names = baseline.Names()
    try:
        for index, scenario in enumerate(loaded, 1):
            outcome = runner.run(scenario)
            outcomes.append(outcome)
            if saved is not None:  # its gates count among its expectations
                baseline.compare_one(outcome, names.key(outcome), saved, increase)
            print(report.progress_line(outcome, index, len(loaded)), file=out, flush=True)
    finally:
        runner.close()
        if emulator is not None:
            emulator.stop()
    seconds = time.perf_counter() - started
    extra = baseline.unmatched(saved, names) if saved is not None else []
    failures = report.failures_text(outcomes, baseline=saved is None)  # else the baseline block shows those
    if failures:
        print("\n" + failures, file=out)
    figures = report.metrics_text(outcomes)
    if figures:
        print("\nmetrics:\n" + figures, file=out)
    if saved is not None:
        print("\n" + report.baseline_text(outcomes, extra), file=out)
    print("\n" + report.summary_table(outcomes), file=out)
    if save_to is not None:
        baseline.save(save_to, save_baseline or "", outcomes, seed)
        print(f"saved baseline {save_baseline} to {save_to}", file=out)
    if report_json:
        report.write_json(report_json, outcomes, seconds, extra)
    if report_junit:
        report.write(report_junit, report.to_junit(outcomes, seconds))
    return 0 if all(o.passed for o in outcomes) else 1
