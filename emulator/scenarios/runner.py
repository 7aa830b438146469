"""Running scenarios against an emulator over HTTP, exactly as a user's code would talk to it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulator.scenarios.expect import Check, call_checks, reply_checks, turn_checks
from emulator.scenarios.model import Loaded

POLL_SECONDS = 0.02
# How long to wait for deliveries still on their way (not yet attempted once) when a scenario ends.
SETTLE_SECONDS = 10.0


class SetupError(Exception):
    """The emulator refused a setup step: the scenario cannot run."""


@dataclass
class Outcome:
    loaded: Loaded
    checks: list[Check] = field(default_factory=list)
    call: dict[str, Any] | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.loaded.scenario.name

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


class Runner:
    def __init__(self, base_url: str, target: str | None = None, admin_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.target = target
        headers = {"X-Emulator-Admin-Token": admin_token} if admin_token else {}
        self.control = httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def close(self) -> None:
        self.control.close()

    def run(self, loaded: Loaded) -> Outcome:
        started = time.perf_counter()
        outcome = Outcome(loaded)
        try:
            if loaded.scenario.channel == "sms":
                self._run_sms(loaded, outcome)
            else:
                self._run_call(loaded, outcome)
        except (SetupError, httpx.HTTPError) as exc:
            outcome.checks.append(Check("scenario setup", False, f"{loaded.source}: the scenario could not run: {exc}"))
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome

    # -- setup -----------------------------------------------------------------------------------

    def _ok(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise SetupError(f"{what} failed with HTTP {response.status_code}: {detail}")
        return response.json()

    def _account(self, loaded: Loaded) -> httpx.Client:
        scenario = loaded.scenario
        key = scenario.key or f"sk_test_scenario_{uuid.uuid4().hex[:16]}"
        if loaded.fixture_agent is None:
            self._ok(self.control.post("/_emulator/reset", json={"key": key}), "resetting the scenario account")
            self._ok(self.control.patch(f"/_emulator/accounts/{key}", json={"plan": "scale"}), "choosing a plan")
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def _agent(self, loaded: Loaded, api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
        """The agent and the number it answers on (created for the scenario, or taken from a fixture)."""
        scenario = loaded.scenario
        if loaded.fixture_agent is not None:
            agent = self._ok(api.get(f"/v1/agents/{loaded.fixture_agent}"), "reading the fixture agent")
            if not agent.get("numbers"):
                raise SetupError(f"fixture agent {loaded.fixture_agent} has no phone number")
            number = self._ok(api.get(f"/v1/numbers/{agent['numbers'][0]['id']}"), "reading its number")
        else:
            agent = self._ok(api.post("/v1/agents", json=loaded.agent_fields), "creating the agent")
            number = self._ok(api.post("/v1/numbers", json={"agentId": agent["id"]}), "buying a number")
        target = scenario.webhook or self.target
        needs_hook = scenario.channel == "sms" or not (agent.get("voiceMode") == "hosted" or scenario.system_prompt)
        if target and target != "configured":
            body: dict[str, Any] = {"url": target}
            if scenario.context_limit is not None:
                body["contextLimit"] = scenario.context_limit
            if scenario.timeout is not None:
                body["timeout"] = scenario.timeout
            self._ok(api.post(f"/v1/agents/{agent['id']}/webhook", json=body), "setting the agent webhook")
        elif needs_hook and loaded.fixture_agent is None:
            raise SetupError("this scenario needs a webhook: give 'webhook' in the scenario or --target")
        return agent, number

    # -- calls -----------------------------------------------------------------------------------

    def _run_call(self, loaded: Loaded, outcome: Outcome) -> None:
        scenario = loaded.scenario
        with self._account(loaded) as api:
            agent, number = self._agent(loaded, api)
            to, scope = "", {}
            if scenario.direction == "inbound":
                call = self._ok(self.control.post("/_emulator/calls/inbound", json={
                    "from": scenario.from_, "to": number["phoneNumber"], "turns": loaded.script,
                }), "dialing in")
            else:
                to = scenario.to or f"+1415555{uuid.uuid4().int % 10_000:04d}"
                # Scoped to the scenario's account: runs in parallel may script the same destination.
                scope = {"key": api.headers["Authorization"].removeprefix("Bearer ")}
                self._ok(self.control.put(f"/_emulator/callees/{to}", json={"turns": loaded.script}, params=scope),
                         "registering the callee script")
                body = {"agentId": agent["id"], "toNumber": to, "fromNumberId": number["id"]}
                for name in ("initial_greeting", "system_prompt", "variables"):
                    value = getattr(scenario, name)
                    if value is not None:
                        body[_camel(name)] = value
                call = self._ok(api.post("/v1/calls", json=body), "placing the call")
            try:
                call = self._wait(api, call["id"], scenario.wait_seconds)
            finally:
                if scenario.direction == "outbound":
                    self.control.delete(f"/_emulator/callees/{to}", params=scope)
            outcome.call = call
            outcome.transcript = list(call.get("transcripts", []))
            outcome.deliveries = self._deliveries(api, agent["id"], call["id"])
        for path, expect in loaded.turn_expects.items():
            outcome.checks += turn_checks(path, expect, outcome.transcript, "turn", call.get("endReason"))
        outcome.checks += call_checks(scenario.expect, call, outcome.transcript, outcome.deliveries)
        if not outcome.checks:
            outcome.checks.append(Check("call: finished", call.get("status") != "in-progress",
                                        f"the call did not finish: status {call.get('status')}"))

    def _wait(self, api: httpx.Client, call_id: str, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            call = self._ok(api.get(f"/v1/calls/{call_id}"), "reading the call")
            if call["status"] != "in-progress":
                return call
            if time.monotonic() > deadline:
                api.post(f"/v1/calls/{call_id}/end")
                raise SetupError(f"call {call_id} was still in progress after {seconds:g} s (waitSeconds); "
                                 "it was ended")
            time.sleep(POLL_SECONDS)

    def _deliveries(self, api: httpx.Client, agent_id: str, call_id: str | None = None) -> list[dict[str, Any]]:
        """The agent's deliveries (of one call) once each has had its first attempt: call.ended and
        message.received go out in the background and may still be on their way when the call ends."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            rows = [d for d in self._ok(api.get(f"/v1/agents/{agent_id}/webhook/deliveries", params={"limit": 100}),
                                        "reading deliveries") if call_id is None or d.get("messageId") == call_id]
            if time.monotonic() > deadline or not any(d.get("status") == "pending" and not d.get("attemptCount")
                                                       for d in rows):
                return rows
            time.sleep(POLL_SECONDS)

    # -- sms -------------------------------------------------------------------------------------

    def _run_sms(self, loaded: Loaded, outcome: Outcome) -> None:
        scenario = loaded.scenario
        sender = scenario.from_ or f"+1415556{uuid.uuid4().int % 10_000:04d}"
        with self._account(loaded) as api:
            agent, number = self._agent(loaded, api)
            for i, step in enumerate(scenario.messages):
                sent = self._ok(self.control.post("/_emulator/sms", json={
                    "from": sender, "to": number["phoneNumber"], "body": step.send,
                }), "sending the inbound SMS")
                message = sent["message"]
                reply = self._reply(api, message, scenario.reply_wait_seconds)
                row = {"kind": "sms", "turn": f"messages[{i}]", "transcript": step.send,
                       "response": reply["body"] if reply else None}
                outcome.transcript.append(row)
                if step.expect is not None:
                    outcome.checks += reply_checks(f"message messages[{i}]", step.expect, row, outcome.transcript,
                                                   len(outcome.transcript) - 1, f"messages[{i}]")
            outcome.deliveries = self._deliveries(api, agent["id"])
        outcome.checks += call_checks(scenario.expect, {}, outcome.transcript, outcome.deliveries)
        if not outcome.checks:
            outcome.checks.append(Check("sms: messages delivered", True))

    def _reply(self, api: httpx.Client, message: dict[str, Any], seconds: float) -> dict[str, Any] | None:
        """The agent's first outbound message after `message` in its conversation, if one comes in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            page = self._ok(api.get(f"/v1/conversations/{message['conversationId']}/messages",
                                    params={"after": message["receivedAt"], "limit": 50}), "reading replies")
            replies = [m for m in page["data"] if m["direction"] == "outbound"]
            if replies:
                return replies[-1]
            time.sleep(POLL_SECONDS * 5)
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
