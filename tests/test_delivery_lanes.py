"""A slow webhook target holds only its own lane: a few attempts in flight, the rest queued, while other
accounts' deliveries go out as usual (emulator/webhooks/lanes.py)."""

from __future__ import annotations

import threading

import httpx
from helpers import buy_number, inbound, ok, set_account, set_webhook, upgrade, wait_until

from emulator.testing.inprocess import InProcessEmulator
from emulator.testing.process import new_key
from emulator.testing.receiver import WebhookReceiver, held
from emulator.webhooks.lanes import WIDTH

MESSAGES = 3 * WIDTH  # each inbound SMS makes two deliveries to the same target


def test_a_slow_target_holds_only_its_own_lane(server: InProcessEmulator, control: httpx.Client,
                                               rx: WebhookReceiver) -> None:
    gate = threading.Event()
    slow_key, quick_key = new_key(), new_key()
    with server.client(slow_key) as slow_api, server.client(quick_key) as quick_api:
        upgrade(control, slow_key)
        for key in (slow_key, quick_key):  # the skill doc's events: two per inbound SMS
            set_account(control, key, webhookEvents="skill-doc")
        slow_number = buy_number(slow_api)["phoneNumber"]
        quick_number = buy_number(quick_api)["phoneNumber"]
        set_webhook(slow_api, rx, "/slow")
        set_webhook(quick_api, rx, "/quick")
        rx.route("/slow", held(gate))
        try:
            for i in range(MESSAGES):
                ok(control.post("/_emulator/sms", json={"from": "+14155550123", "to": slow_number,
                                                        "body": f"queued {i}"}))
            first = rx.wait_for(WIDTH, path="/slow")  # a lane's worth of attempts reached the target and hang there
            # ... the first queued: both events of each of the first messages
            assert sorted(r.data["message"] for r in first) == sorted(f"queued {i}" for i in range(WIDTH // 2)
                                                                      for _ in range(2))
            deliverer = server.state.deliverer
            assert deliverer.lanes.waiting() == 2 * MESSAGES - WIDTH  # the others wait in the lane, not in flight

            for i in range(3):  # meanwhile another account's deliveries go out at once, each one
                message = inbound(control, quick_number, f"quick {i}")["message"]
                rx.wait_event("message.received", message["id"], path="/quick")
            assert len(rx.received(path="/slow")) == WIDTH  # the slow lane took no more while it was full
        finally:
            gate.set()
        rx.wait_for(2 * MESSAGES, path="/slow")  # released: the lane drains
        bodies = sorted(r.data["message"] for r in rx.received(path="/slow", event="message.received"))
        assert bodies == sorted(f"queued {i}" for i in range(MESSAGES))
        wait_until(lambda: deliverer.lanes.waiting() == 0, "the lane to empty")
