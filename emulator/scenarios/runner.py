"""Running scenarios against an emulator over HTTP, exactly as a user's code would talk to it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from emulator.scenarios import metrics
from emulator.scenarios.chat import Cassette, CassetteError, ChatCaller
from emulator.scenarios.expect import Check, call_checks, metric_checks, persona_checks, reply_checks, turn_checks
from emulator.scenarios.model import Loaded
from emulator.testing.control import CallStillInProgress, ControlClient, ControlError, checked, wait_for_call

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
    metrics: dict[str, Any] | None = None  # a call's figures (emulator.scenarios.metrics)
    baseline: dict[str, Any] | None = None  # the comparison with a saved baseline, when one was asked for

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
    """Runs scenarios through `control` (a `ControlClient`, made from `base_url` and `admin_token` when
    not given; one that is given stays open at `close()`)."""

    def __init__(self, base_url: str, target: str | None = None, admin_token: str | None = None, *,
                 control: ControlClient | None = None, seed: int = 0, record: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.target = target
        self.seed = seed  # personas' random choices (a scenario's own `seed` wins)
        self.record = record  # model callers ask their endpoint and rewrite their cassettes
        self._own_control = control is None
        self.control = control or ControlClient(self.base_url, admin_token)

    def close(self) -> None:
        if self._own_control:
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
        try:
            return checked(response)
        except ControlError as exc:
            raise _refused(exc, what) from None

    @contextmanager
    def _step(self, what: str) -> Iterator[None]:
        """A control call: a refusal becomes the SetupError that names the step."""
        try:
            yield
        except ControlError as exc:
            raise _refused(exc, what) from None

    def _account(self, loaded: Loaded) -> httpx.Client:
        scenario = loaded.scenario
        key = scenario.key or f"sk_test_scenario_{uuid.uuid4().hex[:16]}"
        if loaded.fixture_agent is None:
            with self._step("resetting the scenario account"):
                self.control.reset(key)
            with self._step("choosing a plan"):
                self.control.set_account(key, plan="scale")
        return self.control.api(key)

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
            to, scope = "", ""
            caller = loaded.caller(self.seed)
            turns = caller.pop("turns")
            if scenario.analysis is not None:  # what the call's end reports instead of the derived analysis
                caller["analysis"] = scenario.analysis
            if scenario.direction == "inbound":
                with self._step("dialing in"):
                    call = self.control.dial_in(scenario.from_, number["phoneNumber"], turns, **caller)
            else:
                to = scenario.to or f"+1415555{uuid.uuid4().int % 10_000:04d}"
                # Scoped to the scenario's account: runs in parallel may script the same destination.
                scope = api.headers["Authorization"].removeprefix("Bearer ")
                with self._step("registering the callee script"):
                    self.control.set_callee(to, turns, key=scope, **caller)
                body = {"agentId": agent["id"], "toNumber": to, "fromNumberId": number["id"]}
                for name in ("initial_greeting", "system_prompt", "variables"):
                    value = getattr(scenario, name)
                    if value is not None:
                        body[_camel(name)] = value
                call = self._ok(api.post("/v1/calls", json=body), "placing the call")
            try:
                if caller.get("drive"):
                    self._drive(loaded, call["id"], outcome)
                call = self._wait(api, call["id"], scenario.wait_seconds)
            finally:
                if scenario.direction == "outbound":
                    self.control.delete_callee(to, key=scope)
            outcome.call = call
            outcome.transcript = list(call.get("transcripts", []))
            outcome.deliveries = self._deliveries(api, agent["id"], call["id"])
        rows = outcome.transcript
        for path, expect in loaded.turn_expects.items():
            outcome.checks += turn_checks(path, expect, rows, "turn", call.get("endReason"))
        outcome.checks += call_checks(scenario.expect, call, rows, outcome.deliveries)
        if scenario.persona is not None:
            outcome.checks += persona_checks(scenario.persona, rows)
        outcome.checks += metric_checks(scenario.expect, metrics.of_call(call, rows, 0, 0), rows)
        if not outcome.checks:
            outcome.checks.append(Check("call: finished", call.get("status") != "in-progress",
                                        f"the call did not finish: status {call.get('status')}"))
        outcome.metrics = metrics.of_call(call, rows, sum(c.passed for c in outcome.checks), len(outcome.checks))

    def _drive(self, loaded: Loaded, call_id: str, outcome: Outcome) -> None:
        """Speak for a model caller, turn by turn, until the call ends (or the cassette cannot go on)."""
        persona = loaded.scenario.persona
        assert persona is not None and persona.model is not None
        deadline = time.monotonic() + loaded.scenario.wait_seconds
        cassette: Cassette | None = None
        try:
            cassette = Cassette(loaded.cassette, self.record)
            chat = ChatCaller(persona, persona.model, cassette)
            with self._step("driving the caller"):
                answer = self.control.drive_caller(call_id)
                while answer["state"] != "ended" and time.monotonic() < deadline:
                    turn = chat.next_turn(answer["heard"]) if answer["state"] == "asking" else None
                    answer = self.control.drive_caller(call_id, turn)
        except CassetteError as exc:
            outcome.checks.append(Check("call: the model caller had an answer", False, f"{loaded.source}: {exc}"))
            self._hang_up(call_id, deadline)  # the caller cannot go on; the call is checked as it stands
        finally:
            if cassette is not None:
                cassette.save()

    def _hang_up(self, call_id: str, deadline: float) -> None:
        """A driven caller hangs up at its next question (the one pending, or the next one put)."""
        try:
            answer = self.control.drive_caller(call_id)
            while answer["state"] == "waiting" and time.monotonic() < deadline:
                answer = self.control.drive_caller(call_id)
            if answer["state"] == "asking":
                self.control.drive_caller(call_id, {"hangup": True})
        except ControlError:
            pass

    def _wait(self, api: httpx.Client, call_id: str, seconds: float) -> dict[str, Any]:
        try:
            with self._step("reading the call"):
                return wait_for_call(api, call_id, seconds, end_on_timeout=True, poll=POLL_SECONDS)
        except CallStillInProgress:
            raise SetupError(f"call {call_id} was still in progress after {seconds:g} s (waitSeconds); "
                             "it was ended") from None

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
                if step.after:
                    with self._step("moving the scenario account's clock"):
                        self.control.advance_clock(step.after, key=_key_of(api))
                with self._step("sending the inbound SMS"):
                    sent = self.control.send_sms(sender, number["phoneNumber"], step.send)
                message = sent["message"]
                reply = self._reply(api, message, scenario.reply_wait_seconds)
                row = {"kind": "sms", "turn": f"messages[{i}]", "transcript": step.send,
                       "response": reply["body"] if reply else None, "at": message["receivedAt"]}
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


def _key_of(api: httpx.Client) -> str:
    """The account key an API client sends."""
    return api.headers["authorization"].removeprefix("Bearer ")


def _refused(exc: ControlError, what: str) -> SetupError:
    return SetupError(f"{what} failed with HTTP {exc.status}: {exc.detail}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
