"""Baselines: a run's observations saved under a name, and later runs compared with them.

What a comparison does with each difference:
  * the end (status, endReason), the actions (digits pressed by either side, transfers, hang-ups,
    tool calls, in order and by turn) and the deliveries (how many of each event and outcome) gate
    the build: a difference fails the scenario;
  * wording: a turn whose reply changed is reported, and fails only when the baseline's reply held a
    phrase the scenario marks `mustSay` and the new one lacks it;
  * latency gates only when a limit is given (`--max-latency-increase 20%`). The figure compared is
    the median (p50) of the final-chunk times the emulator recorded per answered turn (the first-chunk
    median when no turn closed); a median shrugs off the one slow turn a busy machine produces. It
    fails when the new median exceeds the baseline's by more than the percentage AND by more than
    LATENCY_FLOOR_MS, since on loopback a few milliseconds are noise however large they are in percent.
A scenario missing from the baseline, or missing from the run, is reported without failing.

Baselines are JSON files named `<name>.baseline.json` in the baseline directory (by default a
`baselines` folder beside the first scenario path); scenario discovery skips them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.scenarios.expect import Check
from emulator.scenarios.runner import Outcome

FORMAT = "agentphone-emulator baseline"
SUFFIX = ".baseline.json"
LATENCY_FLOOR_MS = 25.0
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class BaselineError(Exception):
    """A baseline that cannot be used (bad name, missing, unreadable)."""


def path_of(directory: Path, name: str) -> Path:
    if not NAME.fullmatch(name):
        raise BaselineError(f"baseline name {name!r}: use letters, digits, '.', '_' and '-' (up to 100).")
    return directory / f"{name}{SUFFIX}"


def default_dir(paths: list[str]) -> Path:
    first = Path(paths[0])
    return (first if first.is_dir() else first.parent) / "baselines"


def parse_percent(text: str) -> float:
    """"20%" or "20" -> 0.2."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if match is None:
        raise BaselineError(f"--max-latency-increase {text!r}: give a percentage like 20%.")
    return float(match.group(1)) / 100


# --- observing ---------------------------------------------------------------------------------------------


def actions(rows: list[dict[str, Any]]) -> list[str]:
    """What each side did, in order, by turn."""
    out = []
    for row in rows:
        turn = row.get("turn") or row.get("kind")
        if row.get("callerDigits"):
            out.append(f"{turn}: caller pressed {row['callerDigits']}")
        if row.get("kind") == "hangup":
            out.append(f"{turn}: caller hung up")
        if row.get("digits"):
            out.append(f"{turn}: agent pressed {row['digits']}")
        for tool in row.get("toolCalls") or []:
            out.append(f"{turn}: tool {tool.get('name') if isinstance(tool, dict) else tool}")
        if row.get("action") == "transfer":
            out.append(f"{turn}: agent transferred" + (f" to {row['transferredTo']}" if row.get("transferredTo")
                                                        else " (no transferNumber)"))
        if row.get("hangup"):
            out.append(f"{turn}: agent hung up")
    return out


def deliveries(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        label = f"{row.get('eventType')} {row.get('status')}"
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def latency(figures: dict[str, Any] | None) -> float | None:
    figures = figures or {}
    value = figures.get("finalChunkMsP50")
    return value if value is not None else figures.get("firstChunkMsP50")


def observe(outcome: Outcome) -> dict[str, Any]:
    call = outcome.call or {}
    return {
        "source": outcome.loaded.source,
        "status": call.get("status"),
        "endReason": call.get("endReason"),
        "actions": actions(outcome.transcript),
        "deliveries": deliveries(outcome.deliveries),
        "replies": [{"turn": r.get("turn") or r.get("kind"), "caller": r.get("transcript"), "agent": r.get("response")}
                    for r in outcome.transcript],
        "latencyMs": latency(outcome.metrics),
        "metrics": outcome.metrics,
    }


class Names:
    """Scenario names as baselines key them (a repeated name gets ' #2', ' #3', ...)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def key(self, outcome: Outcome) -> str:
        name, n = outcome.name, 1
        while name in self.seen:
            n += 1
            name = f"{outcome.name} #{n}"
        self.seen.append(name)
        return name


def keyed(outcomes: list[Outcome]) -> dict[str, Outcome]:
    names = Names()
    return {names.key(o): o for o in outcomes}


def save(path: Path, name: str, outcomes: list[Outcome], seed: int) -> None:
    body = {"format": FORMAT, "version": 1, "name": name, "seed": seed,
            "savedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "scenarios": {key: observe(o) for key, o in keyed(outcomes).items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        name = path.name[:-len(SUFFIX)]
        raise BaselineError(f"{path}: no such baseline; save one first with --save-baseline {name}.")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: not a readable baseline ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("scenarios"), dict):
        raise BaselineError(f"{path}: not a baseline saved by --save-baseline.")
    return data


# --- comparing ---------------------------------------------------------------------------------------------


def _list_diff(before: list[str], after: list[str]) -> str:
    import difflib

    return "\n".join(f"    {line}" for line in difflib.ndiff(before, after) if line[:1] in "-+")


def _gate(outcome: Outcome, label: str, what: str, ok: bool, detail: str) -> None:
    outcome.checks.append(Check(f"baseline {label}: {what}", ok, "" if ok else f"baseline {label}: {detail}"))


def compare(outcome: Outcome, before: dict[str, Any], label: str, max_increase: float | None) -> dict[str, Any]:
    """Gate `outcome` on `before` (its checks get the gating comparisons); returns what differed."""
    now = observe(outcome)
    notes: list[str] = []
    end_before = f"{before.get('status')} / {before.get('endReason')}"
    end_now = f"{now['status']} / {now['endReason']}"
    _gate(outcome, label, "the same end", end_before == end_now,
          f"the call ended {end_now} (status / endReason); the baseline ended {end_before}.")
    _gate(outcome, label, "the same actions", before.get("actions") == now["actions"],
          "the actions changed (- baseline, + now):\n" + _list_diff(before.get("actions") or [], now["actions"]))
    if before.get("deliveries") != now["deliveries"]:
        changes = [f"{k}: {(before.get('deliveries') or {}).get(k, 0)} -> {now['deliveries'].get(k, 0)}"
                   for k in sorted(set(before.get("deliveries") or {}) | set(now["deliveries"]))
                   if (before.get("deliveries") or {}).get(k, 0) != now["deliveries"].get(k, 0)]
        _gate(outcome, label, "the same deliveries", False, "the deliveries changed: " + "; ".join(changes) + ".")
    else:
        _gate(outcome, label, "the same deliveries", True, "")
    replies_now = {r["turn"]: r for r in now["replies"]}
    lost: list[str] = []
    for old in before.get("replies") or []:
        new = replies_now.get(old["turn"])
        said_before, said_now = old.get("agent") or "", (new or {}).get("agent") or ""
        if new is None:
            notes.append(f"{old['turn']}: no longer reached (the baseline's agent said {said_before!r})")
        elif said_before != said_now:
            notes.append(f"{old['turn']}: the agent said {said_now!r} (baseline: {said_before!r})")
        for phrase in outcome.loaded.scenario.must_say:
            if phrase.lower() in said_before.lower() and phrase.lower() not in said_now.lower():
                lost.append(f"{old['turn']}: {phrase!r} is gone (now {said_now!r})")
    if outcome.loaded.scenario.must_say:
        _gate(outcome, label, "every must-say phrase still said", not lost,
              "a must-say phrase was dropped: " + "; ".join(lost) + ".")
    was, is_ = before.get("latencyMs"), now["latencyMs"]
    if was is not None and is_ is not None:
        change = f"median turn latency {was:g} ms -> {is_:g} ms"
        notes.append(change)
        if max_increase is not None:
            limit = max(was * (1 + max_increase), was + LATENCY_FLOOR_MS)
            _gate(outcome, label, f"latency within +{max_increase:.0%}", is_ <= limit,
                  f"{change}, more than +{max_increase:.0%} (and {LATENCY_FLOOR_MS:g} ms) above the baseline.")
    gates = [c for c in outcome.checks if c.name.startswith(f"baseline {label}:")]
    result = {"name": label, "failed": [c.message for c in gates if not c.passed], "notes": notes}
    result["text"] = text(f"{outcome.name} ({outcome.loaded.source})", result)
    return result


def text(name: str, result: dict[str, Any]) -> str:
    lines = [f"{name} vs baseline {result['name']}:"]
    lines += [f"  FAIL {m}" for m in result["failed"]]
    lines += [f"  note {m}" for m in result["notes"]]
    if len(lines) == 1:
        lines.append("  no differences")
    return "\n".join(lines)


def compare_one(outcome: Outcome, key: str, data: dict[str, Any], max_increase: float | None) -> None:
    """Compare one outcome with its entry in the baseline `data` (gates become its checks)."""
    label = str(data.get("name"))
    entry = data["scenarios"].get(key)
    if entry is None:
        outcome.baseline = {"name": label, "failed": [], "notes": ["not in the baseline"],
                            "text": f"{key}: new, not in baseline {label}"}
    else:
        outcome.baseline = compare(outcome, entry, label, max_increase)


def unmatched(data: dict[str, Any], names: Names) -> list[str]:
    """Scenarios the baseline has and this run did not."""
    return [f"{key}: in baseline {data.get('name')}, not in this run" for key in data["scenarios"]
            if key not in names.seen]
