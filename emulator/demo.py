"""`agentphone-emulator demo`: the whole thing in one command, from a checkout of the repository.

It starts an emulator (in memory, so every demo starts from the same state) and the example agent
(scenarios/example_agent/app.py) as child processes, loads the demo fixture (fixtures/demo.yaml),
runs the shipped scenarios (scenarios/) against them, and prints where to look next. Then it keeps
both running until Ctrl-C (or stops at once with --once). Whatever happens, it stops every process
it started before it returns; the exit code is the scenarios' (0 when every expectation held).

The demo data is the repository's own, read from the directory given (the working directory by
default), not copies inside the package: the scenarios and the agent are examples to read and
change, and the demo runs whatever the checkout holds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx
import yaml

from emulator.serve import PortUnavailable, bind
from emulator.waiting import NotReady, wait_for_emulator, wait_for_port

FIXTURE = Path("fixtures") / "demo.yaml"
SCENARIOS = Path("scenarios")
AGENT_APP = SCENARIOS / "example_agent" / "app.py"
SMS_KEY = "sk_test_example_sms"  # the key the shipped SMS scenario texts as, so the agent can answer
FIXTURE_AGENT_URL = "http://127.0.0.1:8790"  # where fixtures/demo.yaml points its webhooks
READY_SECONDS = 120.0
STOP_SECONDS = 10.0


class DemoError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Demo:
    root: Path
    port: int
    agent_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def agent_url(self) -> str:
        return f"http://127.0.0.1:{self.agent_port}"

    def shown(self, path: Path) -> str:
        """`path` as the user can type it from the working directory."""
        full = self.root / path
        try:
            return str(full.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(full.resolve())


def check_checkout(root: Path) -> None:
    missing = [str(p) for p in (FIXTURE, SCENARIOS, AGENT_APP) if not (root / p).exists()]
    if missing:
        where = "the working directory" if root == Path(".") else str(root)
        raise DemoError(f"the demo runs from a checkout of agentphone-emulator, and {where} has no "
                        f"{', '.join(missing)}; run it from the repository's top directory, or pass --dir PATH.",
                        code=2)


class Child:
    """A child process whose output goes to a temporary log, shown when it fails.

    It runs in a process group of its own, so a Ctrl-C in the terminal reaches the demo alone, which
    then stops its children in order (rather than seeing them die under it).
    """

    def __init__(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        self.name = name
        fd, log = tempfile.mkstemp(prefix=f"agentphone-demo-{name.replace(' ', '-')}-", suffix=".log")
        self.log = Path(log)
        with os.fdopen(fd, "wb") as out:
            own_group: dict[str, Any] = {} if sys.platform == "win32" else {"process_group": 0}
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                                  stdin=subprocess.DEVNULL, **own_group)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip()
        except OSError:
            return ""

    def failed(self, why: str) -> DemoError:
        """The error to raise when this child failed: `why`, and what the child printed."""
        text = self.output()
        return DemoError(why + (f"\n{self.name} said:\n{text}" if text else ""))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.unlink(missing_ok=True)


def _clean_env() -> dict[str, str]:
    """The demo's children ignore the caller's emulator settings (a token or strict keys would break it)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_")}


def start_emulator(demo: Demo, children: list[Child]) -> None:
    cmd = [sys.executable, "-m", "emulator", "serve", "--host", "127.0.0.1", "--port", str(demo.port),
           "--db", ":memory:"]
    child = Child("the emulator", cmd, _clean_env())
    children.append(child)
    try:
        wait_for_emulator(demo.url, READY_SECONDS, child.proc)
    except NotReady as exc:
        raise child.failed(f"the emulator did not start: {exc}") from None


def check_agent_port(demo: Demo) -> None:
    """A clear sentence now, rather than the agent's own bind error after the emulator started."""
    try:
        bind("127.0.0.1", demo.agent_port).close()
    except PortUnavailable as exc:
        raise DemoError(f"the example agent {exc}".replace("--port", "--agent-port")) from None


def start_agent(demo: Demo, children: list[Child]) -> None:
    env = {**_clean_env(), "AGENTPHONE_BASE_URL": demo.url, "AGENTPHONE_API_KEY": SMS_KEY}
    cmd = [sys.executable, str(demo.root / AGENT_APP), "--host", "127.0.0.1", "--port", str(demo.agent_port)]
    child = Child("the example agent", cmd, env)
    children.append(child)
    try:
        wait_for_port(demo.agent_url, READY_SECONDS, child.proc)
    except NotReady as exc:
        raise child.failed(f"the example agent did not start: {exc}") from None


def repoint(value: Any, old: str, new: str) -> Any:
    """`value` with every string that starts with `old` starting with `new` instead."""
    if isinstance(value, dict):
        return {k: repoint(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [repoint(v, old, new) for v in value]
    if isinstance(value, str) and value.startswith(old):
        return new + value[len(old):]
    return value


def load_fixture(demo: Demo) -> dict[str, Any]:
    """Load fixtures/demo.yaml, its webhooks pointed at the example agent wherever it listens."""
    data = repoint(yaml.safe_load((demo.root / FIXTURE).read_text()), FIXTURE_AGENT_URL, demo.agent_url)
    if not isinstance(data, dict):
        raise DemoError(f"{demo.shown(FIXTURE)} is not a fixture: it must be a mapping with `accounts`.")
    response = httpx.post(f"{demo.url}/_emulator/fixtures", json=data, timeout=30, trust_env=False)
    if response.status_code >= 400:
        raise DemoError(f"loading {demo.shown(FIXTURE)} failed with HTTP {response.status_code}: {response.text}")
    return data


def next_steps(demo: Demo, fixture: dict[str, Any], once: bool) -> str:
    url, agent = demo.url, demo.agent_url
    accounts = fixture.get("accounts") or [{}]
    first = accounts[0]
    key = first.get("key", "sk_test_demo")
    numbers = [n.get("phoneNumber", "") for n in first.get("numbers") or []]
    agents = ", ".join(a.get("id", "") for a in first.get("agents") or [])
    scenarios = demo.shown(SCENARIOS)
    lines = [
        "",
        "The demo ran with (all stopped now):" if once else "The demo is running:",
        f"  emulator       {url}  (in memory: each demo starts from {demo.shown(FIXTURE)} alone)",
        f"  inspector      {url}/  (watch calls, texts and webhook deliveries live)",
        f"  API docs       {url}/docs",
        f"  example agent  {agent}/agent  ({demo.shown(AGENT_APP)})",
        f"  demo account   key {key}: agents {agents}; numbers {', '.join(numbers)}",
        f"                 (fixed IDs, numbers and webhook secret: see {demo.shown(FIXTURE)})",
    ]
    if once:
        again = "agentphone-emulator demo" + ("" if demo.root == Path(".") else f" --dir {demo.shown(Path('.'))}")
        lines += [
            "",
            f"Keep it running to explore:  {again}",
            f"Run it again for CI:         {again} --once",
        ]
        return "\n".join(lines)
    call = json.dumps({"from": "+14155559999", "to": numbers[0] if numbers else "+14155550100",
                       "turns": [{"say": "Where is my order?"}]})
    lines += [
        "",
        "Try it from another terminal:",
        f'  curl -H "Authorization: Bearer {key}" {url}/v1/agents',
        f"  curl -X POST {url}/_emulator/calls/inbound -H 'Content-Type: application/json' \\",
        f"       -d '{call}'",
        f'  curl -H "Authorization: Bearer {key}" {url}/v1/calls',
        f'  python: AgentPhone(api_key="{key}", base_url="{url}")',
        "Run the scenarios again:",
        f"  agentphone-emulator scenario run {scenarios} --base-url {url} --target {agent}/agent",
        "",
        "Press Ctrl-C to stop the emulator and the example agent.",
    ]
    return "\n".join(lines)


STOP_SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM (a CI job's timeout, `kill`) and SIGHUP (a closed terminal) all stop the demo the
    same way, children included; SIGINT even when the shell started the demo with it ignored."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_until_interrupted(children: list[Child], out: TextIO) -> None:
    try:
        while True:
            for child in children:
                if (code := child.proc.poll()) is not None:
                    raise child.failed(f"{child.name} exited unexpectedly with code {code}.")
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("Stopping the emulator and the example agent.", file=out, flush=True)


def run_demo(root: Path, *, port: int = 8000, agent_port: int = 8790, once: bool = False,
             out: TextIO | None = None) -> int:
    from emulator.scenarios.cli import run as run_scenarios

    out = out or sys.stdout
    demo = Demo(root, port, agent_port)
    children: list[Child] = []
    try:
        with _stop_on_signals():
            check_checkout(root)
            check_agent_port(demo)
            print(f"Starting the emulator on {demo.url} and the example agent on {demo.agent_url} ...",
                  file=out, flush=True)
            start_emulator(demo, children)
            start_agent(demo, children)
            fixture = load_fixture(demo)
            code = run_scenarios([str(root / SCENARIOS)], target=f"{demo.agent_url}/agent", base_url=demo.url,
                                 out=out)
            print(next_steps(demo, fixture, once), file=out, flush=True)
            if not once:
                serve_until_interrupted(children, out)
            return code
    except DemoError as exc:
        print(f"error: {exc}", file=out, flush=True)
        return exc.code
    except KeyboardInterrupt:
        print("interrupted", file=out, flush=True)
        return 130
    finally:
        for child in reversed(children):
            child.stop()
