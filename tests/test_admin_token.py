"""An emulator listening beyond loopback guards its control API: real child processes on 0.0.0.0."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from emulator.exposure import is_loopback
from emulator.testing import EmulatorProcess, new_key

TOKEN = re.compile(r"X-Emulator-Admin-Token: (\S+)")
LOG_CAP = 60.0  # how long to wait for a line the process prints right after it starts answering


@contextmanager
def emulator(*args: str, env: dict[str, str] | None = None) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(db=":memory:", args=list(args))
    if env:
        proc.env = {**(proc.env or {}), **env}
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        proc.cleanup()


def printed(proc: EmulatorProcess, needle: str) -> str:
    """The process's output once it holds `needle` (the banner follows the first answers by a moment)."""
    deadline = time.monotonic() + LOG_CAP
    while True:
        text = proc.log.read_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def admin(token: str) -> dict[str, str]:
    return {"X-Emulator-Admin-Token": token}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_beyond_loopback_a_token_is_generated_printed_once_and_required() -> None:
    with emulator("--host", "0.0.0.0") as proc, httpx.Client(base_url=proc.base_url, timeout=10) as http:
        out = printed(proc, "X-Emulator-Admin-Token:")
        tokens = TOKEN.findall(out)
        assert len(tokens) == 1, out
        token = tokens[0]
        assert len(token) >= 32 and out.count(token) == 1
        assert "0.0.0.0 is reachable from other machines" in out

        for method, path in [("POST", "/_emulator/reset"), ("POST", "/_emulator/clock"),
                             ("GET", "/_emulator/clock"), ("GET", "/_emulator/feedback")]:
            refused = http.request(method, path, json={"advance": 1})
            assert refused.status_code == 401, (path, refused.text)
            assert "admin token" in refused.json()["detail"]
            wrong = http.request(method, path, json={"advance": 1}, headers=admin(token + "x"))
            assert wrong.status_code == 401, (path, wrong.text)

        assert http.get("/_emulator/health").status_code == 200
        moved = http.post("/_emulator/clock", json={"advance": 60}, headers=admin(token))
        assert moved.status_code == 200 and moved.json()["offsetSeconds"] == 60
        assert http.post("/_emulator/reset", headers={"Authorization": f"Bearer {token}"}).json()["reset"] == \
            "everything"

        key = new_key()  # an account key still drives its own account, and only that
        own = http.patch(f"/_emulator/accounts/{key}", json={"plan": "pro"}, headers=bearer(key))
        assert own.status_code == 200 and own.json()["plan"] == "pro"
        assert http.get("/_emulator/accounts", headers=bearer(key)).status_code == 403  # every account: global
        mine = http.post("/_emulator/clock", json={"advance": 1}, headers=bearer(key))  # its own clock only
        assert mine.status_code == 200 and mine.json()["offsetSeconds"] == 1 and mine.json()["accountId"]
        assert http.get("/_emulator/clock", headers=admin(token)).json()["offsetSeconds"] == 0  # reset above
        assert http.patch(f"/_emulator/accounts/{new_key()}", json={}, headers=bearer(key)).status_code == 403
        assert http.get("/v1/agents", headers=bearer(key)).status_code == 200


def test_a_given_token_is_used_and_not_printed() -> None:
    with emulator("--host", "0.0.0.0", "--admin-token", "chosen-token-1") as proc, \
            httpx.Client(base_url=proc.base_url, timeout=10) as http:
        out = printed(proc, "health:")
        assert "X-Emulator-Admin-Token" not in out and "chosen-token-1" not in out
        assert http.post("/_emulator/reset").status_code == 401
        assert http.post("/_emulator/reset", headers=admin("chosen-token-1")).status_code == 200


def test_an_empty_token_variable_counts_as_none_given() -> None:
    """What docker-compose passes when AGENTPHONE_EMULATOR_ADMIN_TOKEN is unset: a token is generated."""
    with emulator("--host", "0.0.0.0", env={"AGENTPHONE_EMULATOR_ADMIN_TOKEN": ""}) as proc, \
            httpx.Client(base_url=proc.base_url, timeout=10) as http:
        token = TOKEN.findall(printed(proc, "X-Emulator-Admin-Token:"))[0]
        assert http.post("/_emulator/reset").status_code == 401
        assert http.post("/_emulator/reset", headers=admin(token)).status_code == 200


def test_no_admin_token_opens_the_control_api_with_a_warning() -> None:
    with emulator("--host", "0.0.0.0", "--no-admin-token") as proc, \
            httpx.Client(base_url=proc.base_url, timeout=10) as http:
        out = printed(proc, "health:")
        assert "warning: listening on 0.0.0.0 with no admin token (--no-admin-token)" in out
        assert "X-Emulator-Admin-Token" not in out
        assert http.post("/_emulator/clock", json={"advance": 5}).status_code == 200
        assert http.post("/_emulator/reset").json()["reset"] == "everything"


def test_loopback_stays_open_without_a_token() -> None:
    with emulator() as proc, httpx.Client(base_url=proc.base_url, timeout=10) as http:
        out = printed(proc, "health:")
        assert "X-Emulator-Admin-Token" not in out and "warning" not in out
        assert http.post("/_emulator/reset").status_code == 200


def test_token_and_no_token_together_are_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--admin-token", "t", "--no-admin-token"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--admin-token and --no-admin-token contradict each other" in done.stderr


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("10.0.0.1", False), ("fe80::1%eth0", False),
])
def test_which_addresses_are_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
