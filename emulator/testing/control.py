"""A client for the emulator's control API (`/_emulator/*`), shared by the pytest plugin and the
scenario runner, and the one loop that waits for a call to end.

    with ControlClient("http://127.0.0.1:8000") as control:
        control.set_account(key, plan="scale")
        call = control.dial_in("+14155550100", number, [{"say": "Hi"}])
        done = control.wait_for_call(key, call["id"])

A refused control call raises `ControlError` (an AssertionError, so a test fails with the emulator's
own sentence); a call still in progress when the wait gives up raises `CallStillInProgress`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

ADMIN_HEADER = "X-Emulator-Admin-Token"
POLL_SECONDS = 0.02
# How long `wait_for_call` waits by default: a cap for a call that never ends, not an expectation
# (simulated calls end in milliseconds of wall time unless the emulator runs in real time).
CALL_CAP_SECONDS = 120.0


class ControlError(AssertionError):
    """The emulator answered a request with an error status."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.method = response.request.method
        self.path = response.request.url.path
        self.text = response.text
        self.detail: Any  # the emulator's sentence (`detail`), or the start of a body that is not JSON
        try:
            body = response.json()
        except ValueError:
            self.detail = response.text[:200]
        else:
            self.detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
        super().__init__(f"{self.method} {self.path} -> {self.status}: {self.text}")


class CallStillInProgress(AssertionError):
    """`wait_for_call` gave up on a call that had not ended."""

    def __init__(self, call_id: str, seconds: float, call: dict[str, Any], ended: bool) -> None:
        self.call_id, self.seconds, self.call, self.ended = call_id, seconds, call, ended
        tail = "; it was ended" if ended else ""
        super().__init__(f"call {call_id} still {call.get('status')} after {seconds:g} s{tail}")


def checked(response: httpx.Response) -> Any:
    """The JSON body of a successful response (None when empty); a `ControlError` otherwise."""
    if response.status_code >= 400:
        raise ControlError(response)
    return response.json() if response.content else None


def _injected(response: httpx.Response) -> bool:
    """An answer an injected fault made (POST /_emulator/faults, or a call turn's `api-error`)."""
    if response.status_code < 429:
        return False
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, str) and detail.startswith("Injected fault")


def wait_for_call(api: httpx.Client, call_id: str, timeout: float = CALL_CAP_SECONDS, *,
                  pending: Iterable[str] = ("in-progress",), end_on_timeout: bool = False,
                  poll: float = POLL_SECONDS) -> dict[str, Any]:
    """Poll `GET /v1/calls/{id}` with `api` (a client with the owner's key) until the call's status is
    not one of `pending`; returns it, transcripts included. An answer made by an injected fault is polled
    again. With `end_on_timeout`, a call still going
    when `timeout` runs out is ended (`POST /v1/calls/{id}/end`) before `CallStillInProgress` is raised."""
    waiting = set(pending)
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/calls/{call_id}")
        if _injected(response) and time.monotonic() < deadline:  # a fault armed for the agent, not for this poll
            time.sleep(poll)
            continue
        call: dict[str, Any] = checked(response)
        if call.get("status") not in waiting:
            return call
        if time.monotonic() > deadline:
            if end_on_timeout:
                api.post(f"/v1/calls/{call_id}/end")
            raise CallStillInProgress(call_id, timeout, call, end_on_timeout)
        time.sleep(poll)


class ControlClient:
    """The control API of one emulator at `base_url` (sending the admin token when it has one)."""

    def __init__(self, base_url: str, admin_token: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token
        self._transport = transport
        self._timeout = timeout
        headers = {ADMIN_HEADER: admin_token} if admin_token else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    # --- plumbing --------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one control request; its JSON answer, or `ControlError`."""
        return checked(self.http.request(method, path, **kwargs))

    def api(self, key: str) -> httpx.Client:
        """An HTTP client for the `/v1` API as `key` (close it, or use it in a `with`)."""
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"},
                            timeout=self._timeout, transport=self._transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the emulator ----------------------------------------------------------------------------

    def health(self) -> Any:
        return self.request("GET", "/_emulator/health")

    def reset(self, key: str | None = None) -> Any:
        """Remove one key's account (and its sub-accounts), or everything when no key is given."""
        return self.request("POST", "/_emulator/reset", json={"key": key} if key else {})

    def clock(self, key: str | None = None) -> Any:
        """The emulator's clock, or (with `key`) that account's."""
        return self.request("GET", "/_emulator/clock", params={"key": key} if key else None)

    def advance_clock(self, seconds: float, key: str | None = None) -> Any:
        """Move the emulator's clock (every account's with it), or only `key`'s account (and its sub-accounts)."""
        return self.request("POST", "/_emulator/clock", json={"advance": seconds, **({"key": key} if key else {})})

    def set_clock(self, when: str, key: str | None = None) -> Any:
        return self.request("POST", "/_emulator/clock", json={"set": when, **({"key": key} if key else {})})

    # --- the outside world -----------------------------------------------------------------------

    def send_sms(self, sender: str, to: str, body: str) -> Any:
        """An SMS from `sender` to one of the emulator's numbers."""
        return self.request("POST", "/_emulator/sms", json={"from": sender, "to": to, "body": body})

    def dial_in(self, sender: str | None, to: str, turns: list[dict[str, Any]], **caller: Any) -> Any:
        """An inbound call from `sender` to one of the emulator's numbers, the caller saying `turns` (and
        `persona={...}, seed=7`, or `drive=True`; `analysis={...}`: what the call's end reports)."""
        return self.request("POST", "/_emulator/calls/inbound",
                            json={"from": sender, "to": to, "turns": turns, **caller})

    def set_callee(self, e164: str, turns: list[dict[str, Any]], key: str | None = None, **caller: Any) -> Any:
        """What the person at `e164` says when called (only on calls of `key`'s account, when given): `turns`,
        and `persona={...}, seed=7` for a caller that pursues a goal, or `drive=True` for `drive_caller`."""
        return self.request("PUT", f"/_emulator/callees/{e164}", json={"turns": turns, **caller},
                            params={"key": key} if key else None)

    def drive_caller(self, call_id: str, turn: dict[str, Any] | None = None) -> Any:
        """A driven caller: give the turn it was asked for (none: just hear the agent); returns the next
        question (`state` asking, with `heard`), `waiting` (ask again) or `ended`."""
        return self.request("POST", f"/_emulator/calls/{call_id}/caller", json={"turn": turn} if turn else {})

    def delete_callee(self, e164: str, key: str | None = None) -> httpx.Response:
        """Forget a callee script; the raw response (a script already gone is not an error here)."""
        return self.http.delete(f"/_emulator/callees/{e164}", params={"key": key} if key else None)

    def callees(self) -> Any:
        return self.request("GET", "/_emulator/callees")

    # --- faults, accounts, fixtures --------------------------------------------------------------

    def add_fault(self, **fault: Any) -> Any:
        return self.request("POST", "/_emulator/faults", json=fault)

    def faults(self) -> Any:
        return self.request("GET", "/_emulator/faults")

    def clear_faults(self) -> Any:
        return self.request("DELETE", "/_emulator/faults")

    def account(self, key: str) -> Any:
        return self.request("GET", f"/_emulator/accounts/{key}")

    def set_account(self, key: str, **settings: Any) -> Any:
        """Change an account's plan, balance or add-ons (`plan="scale"`, `balanceCents=...`)."""
        return self.request("PATCH", f"/_emulator/accounts/{key}", json=settings)

    def load_fixtures(self, fixture: dict[str, Any] | str | Path) -> Any:
        """Load a fixture: a dict, or the path of a YAML/JSON file on this machine."""
        if isinstance(fixture, dict):
            return self.request("POST", "/_emulator/fixtures", json=fixture)
        return self.request("POST", "/_emulator/fixtures", content=Path(fixture).read_text(),
                            headers={"Content-Type": "application/yaml"})

    # --- calls -----------------------------------------------------------------------------------

    def wait_for_call(self, key: str, call_id: str, timeout: float = CALL_CAP_SECONDS, *,
                      end_on_timeout: bool = False) -> dict[str, Any]:
        """Wait until `key`'s call is no longer in progress; returns it with its transcript."""
        with self.api(key) as api:
            return wait_for_call(api, call_id, timeout, end_on_timeout=end_on_timeout)
    # --- the request journal (GET /_emulator/requests): what the code under test asked of /v1 ---------------

    def requests(self, key: str | None = None, *, method: str | None = None, path: str | None = None,
                 since: int | str | None = None) -> list[dict[str, Any]]:
        """The /v1 requests made (by `key`, or by every key), oldest first: each with method, path, query,
        body, status and time. `path` is exact or a glob (`/v1/calls/*`); `since` a `seq` or an ISO time."""
        params = {name: value for name, value in
                  (("key", key), ("method", method), ("path", path), ("since", since)) if value is not None}
        journal: dict[str, Any] = self.request("GET", "/_emulator/requests", params={**params, "limit": 10_000})
        entries: list[dict[str, Any]] = journal["data"]
        return entries

    def assert_requested(self, method: str, path: str, *, count: int | None = 1, json: Any = ...,
                         key: str | None = None, since: int | str | None = None) -> list[dict[str, Any]]:
        """Fail unless exactly `count` (None: at least one) `method path` requests were made whose JSON body
        contains `json` (its fields with these values; others may be there too). Returns them."""
        made = self.requests(key, method=method, path=path, since=since)
        found = [e for e in made if json is ... or self._contains(e["body"], json)]
        if (len(found) == count) if count is not None else found:
            return found
        wanted = f"{'at least one' if count is None else count} {method.upper()} {path}"
        if json is not ...:
            wanted += f" with a body containing {json!r}"
        seen = "\n".join(f"  #{e['seq']} {e['method']} {e['path']} -> {e['status']}: {e['body']!r}" for e in made)
        raise AssertionError(f"Expected {wanted}; {len(found)} matched. The {method.upper()} {path} requests made:\n"
                             + (seen or "  (none)"))

    @staticmethod
    def _contains(actual: Any, expected: Any) -> bool:
        """Whether `actual` holds `expected`: objects by the fields `expected` names, lists item by item."""
        if isinstance(expected, dict):
            return isinstance(actual, dict) and all(
                name in actual and ControlClient._contains(actual[name], value) for name, value in expected.items())
        if isinstance(expected, list):
            return isinstance(actual, list) and len(actual) == len(expected) and all(
                ControlClient._contains(a, e) for a, e in zip(actual, expected, strict=True))
        if isinstance(actual, bool) or isinstance(expected, bool):  # True is not 1 in JSON
            return actual is expected
        return bool(actual == expected)
