"""Scenario results for people (progress, a summary table, failures) and for CI (JSON, JUnit XML)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from emulator.scenarios import metrics
from emulator.scenarios.runner import Outcome


def suite_metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    calls = [o for o in outcomes if o.metrics is not None]
    return metrics.of_suite([o.metrics for o in calls if o.metrics is not None], [o.transcript for o in calls])


def progress_line(outcome: Outcome, index: int, total: int) -> str:
    verdict = "PASS" if outcome.passed else "FAIL"
    held = sum(c.passed for c in outcome.checks)
    return (f"[{index}/{total}] {verdict}  {outcome.name}  ({held}/{len(outcome.checks)} expectations, "
            f"{outcome.seconds:.2f} s)")


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [("scenario", "result", "expectations", "status", "seconds")]
    for o in outcomes:
        status = (o.call or {}).get("status", "sms" if o.loaded.scenario.channel == "sms" else "-")
        rows.append((o.name, "pass" if o.passed else "FAIL", f"{sum(c.passed for c in o.checks)}/{len(o.checks)}",
                     str(status), f"{o.seconds:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(o.passed for o in outcomes)
    checks = sum(len(o.checks) for o in outcomes)
    held = sum(c.passed for o in outcomes for c in o.checks)
    lines.append(f"\n{passed}/{len(outcomes)} scenarios passed, {held}/{checks} expectations held.")
    suite = suite_metrics(outcomes)
    if suite["calls"]:
        lines.append(f"{suite['calls']} calls: {metrics.line(suite)}.")
    return "\n".join(lines)


def metrics_text(outcomes: list[Outcome]) -> str:
    """Each call's figures, one line per scenario."""
    return "\n".join(f"  {o.name}: {metrics.line(o.metrics)}" for o in outcomes if o.metrics is not None)


def failures_text(outcomes: list[Outcome], *, baseline: bool = True) -> str:
    """Every failed expectation with its message (without the baseline's gates unless `baseline`)."""
    blocks = []
    for o in outcomes:
        for check in o.failures:
            if baseline or not check.name.startswith("baseline "):
                blocks.append(f"FAILED {o.name} ({o.loaded.source})\n{check.message}")
    return "\n\n".join(blocks)


def baseline_text(outcomes: list[Outcome], extra: list[str]) -> str:
    """The comparison with a baseline, scenario by scenario, for people."""
    blocks = [o.baseline["text"] for o in outcomes if o.baseline is not None]
    blocks += [f"note {line}" for line in extra]
    return "\n".join(blocks)


def to_json(outcomes: list[Outcome], seconds: float, baseline_notes: list[str] | None = None) -> dict[str, Any]:
    return {
        "summary": {
            "scenarios": len(outcomes),
            "passed": sum(o.passed for o in outcomes),
            "failed": sum(not o.passed for o in outcomes),
            "expectations": sum(len(o.checks) for o in outcomes),
            "expectationsFailed": sum(len(o.failures) for o in outcomes),
            "seconds": round(seconds, 3),
            "metrics": suite_metrics(outcomes),
            "baselineNotes": baseline_notes or [],
        },
        "scenarios": [
            {
                "name": o.name,
                "source": o.loaded.source,
                "passed": o.passed,
                "seconds": o.seconds,
                "callId": (o.call or {}).get("id"),
                "status": (o.call or {}).get("status"),
                "endReason": (o.call or {}).get("endReason"),
                "durationSeconds": (o.call or {}).get("durationSeconds"),
                "expectations": [{"name": c.name, "passed": c.passed, "turn": c.turn, "message": c.message}
                                 for c in o.checks],
                "metrics": o.metrics,
                "disturbed": [{"turn": r.get("turn"), "fault": r.get("fault"), "noise": r.get("noise")}
                              for r in o.transcript if r.get("fault") or r.get("noise")],
                "baseline": o.baseline,
                "transcript": o.transcript,
            }
            for o in outcomes
        ],
    }


def to_junit(outcomes: list[Outcome], seconds: float) -> str:
    """One <testsuite> per scenario and one <testcase> per expectation."""
    tests = sum(len(o.checks) for o in outcomes)
    failures = sum(len(o.failures) for o in outcomes)
    root = ET.Element("testsuites", name="agentphone-emulator scenarios", tests=str(tests), failures=str(failures),
                      time=f"{seconds:.3f}")
    for o in outcomes:
        suite = ET.SubElement(root, "testsuite", name=o.name, tests=str(len(o.checks)),
                              failures=str(len(o.failures)), time=f"{o.seconds:.3f}", file=o.loaded.source)
        if o.metrics is not None:
            props = ET.SubElement(suite, "properties")
            for name, value in o.metrics.items():
                if value is not None:
                    ET.SubElement(props, "property", name=f"metric.{name}", value=f"{value:g}")
        notes = (o.baseline or {}).get("text")
        if notes:
            ET.SubElement(suite, "system-out").text = notes
        for check in o.checks:
            case = ET.SubElement(suite, "testcase", classname=o.name, name=check.name,
                                 time=f"{o.seconds / max(len(o.checks), 1):.3f}")
            if not check.passed:
                failure = ET.SubElement(case, "failure", message=check.message.splitlines()[0][:500])
                failure.text = check.message
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write(path: str, text: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def write_json(path: str, outcomes: list[Outcome], seconds: float, baseline_notes: list[str] | None = None) -> None:
    write(path, json.dumps(to_json(outcomes, seconds, baseline_notes), indent=2))
