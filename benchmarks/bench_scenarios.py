"""How long `POST /_emulator/reset` takes, and how long the shipped scenario suite takes to run.

    python benchmarks/bench_scenarios.py [--resets 200] [--suite-runs 3] [--db PATH]

Starts the emulator (`python -m emulator serve`, a fresh temporary SQLite file unless `--db`) and the example
agent (`scenarios/example_agent/app.py`), each in a child process on a free loopback port.

1. Reset. Before each reset it writes one test's worth of data: a fixture (an account with an agent, its number,
   webhooks, a conversation of 5 messages and a call with 3 transcript rows) and, under a second key, an agent,
   a number, a webhook (a receiver in this process) and one inbound SMS, and waits for the SMS's two webhook
   deliveries, so no background work overlaps the reset. It then times `POST /_emulator/reset`, `--resets`
   times with `{}` (everything) and `--resets` times with `{"key": ...}` (one account), and prints p50 / p99 /
   max of the request as the client saw it and of the `elapsedMs` the emulator reports. Goal: under 20 ms
   (checked at p50; p99 moves with whatever else runs on the machine).
2. Suite. It runs `python -m emulator scenario run scenarios --base-url ... --target .../agent` (all shipped
   scenarios, SMS included) `--suite-runs` times and prints the wall seconds of each run and the seconds the
   scenarios themselves took (the JSON report's `summary.seconds`). Goal: a few seconds (checked: median wall
   time under 10 s).

Exits 1 when a reset or a scenario fails, or a goal is not met. Only loopback traffic; everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator.testing import EmulatorProcess, free_port  # noqa: E402
from emulator.testing.receiver import WebhookReceiver  # noqa: E402

EXAMPLE_APP = ROOT / "scenarios" / "example_agent" / "app.py"
RESET_GOAL_MS = 20.0
SUITE_GOAL_SECONDS = 10.0  # median wall time of the whole shipped suite


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def start_app(emulator_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AGENTPHONE_BASE_URL": emulator_url, "AGENTPHONE_API_KEY": "sk_test_example_sms"}
    env.pop("AGENTPHONE_WEBHOOK_SECRET", None)
    proc = subprocess.Popen([sys.executable, str(EXAMPLE_APP), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the example agent exited with {proc.returncode}")
        try:
            httpx.get(base + "/", timeout=0.5)
            return proc, base
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the example agent did not start in 15 s") from None
            time.sleep(0.05)


def fixture(key: str, n: int) -> dict[str, Any]:
    tag = f"bench{n}"
    return {"accounts": [{
        "key": key,
        "webhook": {"url": "http://127.0.0.1:9/hook", "secret": f"whsec_{tag}"},
        "agents": [{"id": f"agent_{tag}", "name": "Bench", "webhook": {"url": "http://127.0.0.1:9/agent"}}],
        "numbers": [{"id": f"pn_{tag}", "phoneNumber": "+16285550100", "agentId": f"agent_{tag}"}],
        "conversations": [{"id": f"conv_{tag}", "numberId": f"pn_{tag}", "participant": "+14155550199",
                           "messages": [{"direction": "inbound" if i % 2 == 0 else "outbound", "body": f"m{i}"}
                                        for i in range(5)]}],
        "calls": [{"id": f"call_{tag}", "numberId": f"pn_{tag}", "direction": "inbound", "from": "+14155550199",
                   "durationSeconds": 30, "transcripts": [{"transcript": f"t{i}", "response": f"r{i}"}
                                                          for i in range(3)]}],
    }]}


def write_data(control: httpx.Client, n: int, receiver: WebhookReceiver) -> str:
    """One test's worth of rows under two keys; returns the second key. Returns once the SMS's two webhook
    deliveries arrived, so no background work of the emulator overlaps the reset being timed."""
    expected = len(receiver.requests) + 2
    response = control.post("/_emulator/fixtures", json=fixture(f"sk_test_bench_fixture_{n}", n))
    response.raise_for_status()
    key = f"sk_test_bench_{uuid.uuid4().hex[:12]}"
    headers = {"Authorization": f"Bearer {key}"}
    agent = control.post("/v1/agents", json={"name": "Bench"}, headers=headers).json()
    number = control.post("/v1/numbers", json={"agentId": agent["id"]}, headers=headers).json()
    control.post(f"/v1/agents/{agent['id']}/webhook", json={"url": receiver.url},
                 headers=headers).raise_for_status()
    control.post("/_emulator/sms", json={"from": "+14155550198", "to": number["phoneNumber"],
                                         "body": "Hi"}).raise_for_status()
    receiver.wait_for(expected, timeout=10)
    time.sleep(0.002)  # the emulator records each outcome just after the receiver answered
    return key


def time_resets(control: httpx.Client, count: int, receiver: WebhookReceiver,
                per_key: bool) -> tuple[list[float], list[float]]:
    client_ms, server_ms = [], []
    for n in range(count):
        key = write_data(control, n, receiver)
        body = {"key": key} if per_key else {}
        started = time.perf_counter()
        response = control.post("/_emulator/reset", json=body)
        client_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        server_ms.append(float(response.json()["elapsedMs"]))
        if per_key:
            control.post("/_emulator/reset", json={}).raise_for_status()  # start the next round empty too
    return client_ms, server_ms


def run_suite(emulator_url: str, app_url: str, report: Path) -> tuple[int, float, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
    cmd = [sys.executable, "-m", "emulator", "scenario", "run", "scenarios", "--base-url", emulator_url,
           "--target", f"{app_url}/agent", "--report-json", str(report)]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
    return result.returncode, wall, json.loads(report.read_text())["summary"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resets", type=int, default=200, help="resets of each kind to time (default 200)")
    parser.add_argument("--suite-runs", type=int, default=3, help="runs of the scenario suite (default 3)")
    parser.add_argument("--db", default=None, help="database of the emulator (default: a temporary SQLite file)")
    args = parser.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Machine: {os.cpu_count()} CPU(s), load average {load:.2f} before the run")
    problems: list[str] = []
    with EmulatorProcess(db=args.db) as emulator:
        app, app_url = start_app(emulator.base_url)
        try:
            with httpx.Client(base_url=emulator.base_url, timeout=30) as control, WebhookReceiver() as receiver:
                for _ in range(5):  # warm-up: first requests pay for imports and caches
                    write_data(control, 0, receiver)
                    control.post("/_emulator/reset", json={}).raise_for_status()
                print()
                print(f"POST /_emulator/reset after writing data, {args.resets} times each")
                print(f"  {'':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
                for label, per_key in (("everything ({})", False), ("one account ({key})", True)):
                    client_ms, server_ms = time_resets(control, args.resets, receiver, per_key)
                    for what, values in (("request", client_ms), ("elapsedMs (server)", server_ms)):
                        print(f"  {label + ', ' + what:<40} {percentile(values, 50):>8.2f} "
                              f"{percentile(values, 99):>8.2f} {max(values):>8.2f}")
                    if percentile(client_ms, 50) >= RESET_GOAL_MS:
                        problems.append(f"reset {label}: p50 {percentile(client_ms, 50):.1f} ms, goal "
                                        f"under {RESET_GOAL_MS:g} ms")
                control.post("/_emulator/reset", json={}).raise_for_status()

            print()
            print(f"Shipped scenario suite (scenarios/, against the example agent), {args.suite_runs} runs")
            walls, inner = [], []
            with tempfile.TemporaryDirectory() as tmp:
                for i in range(args.suite_runs):
                    code, wall, summary = run_suite(emulator.base_url, app_url, Path(tmp) / f"report{i}.json")
                    walls.append(wall)
                    inner.append(summary["seconds"])
                    print(f"  run {i + 1}: exit {code}, {summary['passed']}/{summary['scenarios']} scenarios, "
                          f"{summary['expectations'] - summary['expectationsFailed']}/{summary['expectations']} "
                          f"expectations, {wall:.2f} s wall ({summary['seconds']:.2f} s running scenarios)")
                    if code != 0:
                        problems.append(f"suite run {i + 1} exited {code}")
            print(f"  median: {statistics.median(walls):.2f} s wall, {statistics.median(inner):.2f} s running "
                  "scenarios (the rest is starting Python and importing the CLI)")
            if statistics.median(walls) >= SUITE_GOAL_SECONDS:
                problems.append(f"suite: median {statistics.median(walls):.1f} s, goal under {SUITE_GOAL_SECONDS:g} s")
        finally:
            app.terminate()
            app.wait(timeout=10)
    if problems:
        print("\nNot met: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"\nGoals met: reset p50 under {RESET_GOAL_MS:g} ms, the suite under {SUITE_GOAL_SECONDS:g} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
