"""The inspector in a real headless browser: Debian's Chromium driven by Playwright (no browser download).

One browser for the module, against a real emulator process. The page is opened as a person would: pick the
account, place a call through the API and watch its timeline fill while the agent (a gated one) holds the
call, check the signed request shown against what the agent received, redeliver a delivery from the page
and see the new attempt, send texts from the page and see them in the thread. Screenshots are kept in
reports/ (and, with AGENTPHONE_INSPECTOR_DOCS=1, the live-call one replaces docs/inspector.png).

Without Chromium at /usr/bin/chromium (or AGENTPHONE_CHROMIUM) the module is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gate_agent import GateAgent
from helpers import ok

from emulator.testing import EmulatorProcess, new_key

CHROMIUM = os.environ.get("AGENTPHONE_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (on Debian: apt-get install chromium); the inspector's "
                "browser tests need it", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the inspector's browser tests need playwright "
                                                             "(pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WAIT_MS = 15_000

# What the clinic's phone line does when our agent calls it: an IVR menu, then a receptionist.
CALLEE = [
    {"say": "Thanks for calling Bright Smile Dental. Press 1 for billing, or 2 for appointments."},
    {"on_digits": {"1": [{"say": "Billing, please hold."}],
                   "2": [{"say": "Appointments desk, this is Maya. How can I help?"}]}},
    {"say": "We have Tuesday at 2pm or Thursday at 10am."},
    {"say": "Sorry, I just saw Thursday is taken. Is Tuesday okay?", "interrupt": True},
    {"silence": 2},
    {"say": "Hello? Are you still there?"},
    {"say": "Great, you're all set. Anything else?"},
]
# What our agent answers, turn by turn (the fourth turn waits for the test: the call is live meanwhile).
REPLIES: list[Any] = [
    {"digits": "2"},
    [{"text": "Hi Maya, I'm calling for Ana Ruiz.", "interim": True},
     {"text": "She'd like to book a cleaning next week."}],
    [{"text": "Thursday at 10am, please.", "interim": True}, {"text": "She prefers mornings."}],
    {"text": "Tuesday at 2pm works. Thank you!"},
    {"status": 500},
    {"text": "That's all, thanks. Goodbye!", "hangup": True},
]
HELD = 3


@dataclass
class Scene:
    base_url: str
    key: str
    agent: GateAgent
    secret: str
    imessage: str
    page: Any


def _fixture(key: str, url: str) -> dict[str, Any]:
    return {"accounts": [{
        "key": key, "plan": "pro", "recordingEnabled": True, "webhook": {"url": url},
        "agents": [{"id": "agent_ava", "name": "Ava (dental scheduler)", "beginMessage":
                    "Hi, this is Ava calling from Ana Ruiz's assistant."}],
        "numbers": [{"id": "pn_voice", "phoneNumber": "+14155550143", "agentId": "agent_ava"},
                    {"id": "pn_chat", "phoneNumber": "+14155550144", "agentId": "agent_ava", "type": "imessage"}],
    }]}


@pytest.fixture(scope="module")
def scene() -> Iterator[Scene]:
    key = new_key()
    with GateAgent(REPLIES) as agent, EmulatorProcess() as emulator, sync_api.sync_playwright() as driver:
        agent.hold(HELD)
        with httpx.Client(base_url=emulator.base_url, timeout=15) as admin:
            ok(admin.post("/_emulator/fixtures", json=_fixture(key, agent.url)))
        with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=15) as api:
            secret = ok(api.get("/v1/webhooks"))["secret"]
        agent.secret = secret
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 960})
        page.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield Scene(emulator.base_url, key, agent, secret, "+14155550144", page)
        finally:
            browser.close()
        assert errors == [], errors  # no script error on the page, ever
        assert agent.failures == []  # every request the agent got verified with its secret


def _turn(page: Any, said: str) -> Any:
    """The timeline row in which someone said `said` (not one whose hidden request merely quotes it)."""
    return page.locator("ol.timeline li.turn").filter(has=page.locator(".bubble", has_text=said))


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.02)


def _shot(page: Any, name: str) -> Path:
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / name
    page.screenshot(path=str(path))
    return path


def test_a_live_call_fills_its_timeline_turn_by_turn(scene: Scene) -> None:
    page = scene.page
    page.goto(scene.base_url + "/")
    page.get_by_role("button", name=re.compile(re.escape(f"…{scene.key[-4:]}"))).click()
    page.get_by_role("link", name=re.compile("^Calls")).wait_for()

    with httpx.Client(base_url=scene.base_url, headers={"Authorization": f"Bearer {scene.key}"}, timeout=15) as api:
        ok(api.put("/_emulator/callees/+14155550190", json={"turns": CALLEE}))
        call = ok(api.post("/v1/calls", json={"agentId": "agent_ava", "toNumber": "+14155550190"}))

    # the call appears in the list by itself (the page follows the account's happenings), and opens live
    page.locator(".items .item", has_text="+14155550190").click()
    timeline = page.locator("ol.timeline")
    _turn(page, "We have Tuesday at 2pm").wait_for()
    assert page.locator(".detail-head .pill").first.inner_text() == "live"
    assert "waiting for the next turn" in page.locator(".timeline-tail").inner_text()
    assert timeline.locator("li.divider").inner_text() == "IVR MENU → BRANCH 2"
    assert timeline.locator(".marker.keys").first.inner_text() == "Agent pressed 2"
    interim = timeline.locator(".chunk.interim")
    assert interim.first.inner_text() == "Hi Maya, I'm calling for Ana Ruiz."
    assert timeline.locator(".marker.barge").count() == 1  # the receptionist barged in on the morning reply
    assert "first chunk" in _turn(page, "calling for Ana Ruiz").locator(".timing").inner_text()
    _until(lambda: len(scene.agent.voice_hits()) == HELD + 1, "the agent being asked the held turn")
    held = scene.agent.voice_hits()  # the call waits for the agent's answer to the last of these

    # the exact signed request of a turn, as the agent received it; the secret nowhere on the page
    turn = _turn(page, "I'm calling for Ana Ruiz")
    turn.locator("details.wire summary").click()
    shown = turn.locator("tr.signature td").inner_text().replace("\n", "")
    assert shown == held[1].headers["x-webhook-signature"]
    assert "She'd like to book a cleaning next week." in turn.locator("pre.raw").inner_text()
    assert scene.secret not in page.content()

    page.set_viewport_size({"width": 1440, "height": 1320})  # the whole live call, one turn's request open
    shot = _shot(page, "inspector.png")
    page.set_viewport_size({"width": 1440, "height": 960})
    if os.environ.get("AGENTPHONE_INSPECTOR_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "inspector.png")
    turn.locator("details.wire summary").click()

    # the agent answers the held turn: the rest of the call arrives, then its end
    scene.agent.release(HELD)
    timeline.locator(".agent-side .error-row", has_text="HTTP 500").wait_for()
    page.locator(".timeline-tail .ended").wait_for()
    assert page.locator(".timeline-tail").inner_text() == "Call ended · completed (agent-hangup) · " + \
        page.locator(".facts div", has_text="Duration").locator("dd").inner_text()
    assert timeline.locator("li.system", has_text="Caller silent for 2 s").count() == 1
    assert timeline.locator(".marker.hangup").inner_text() == "Agent hung up"
    page.locator("audio[aria-label='Call recording']").wait_for()
    assert page.locator(".detail-head .pill").first.inner_text() == "completed"
    assert call["id"] in page.locator(".facts").first.inner_text()
    page.locator(".items .item", has_text="+14155550190").locator(".pill", has_text="completed").wait_for()  # the list
    _shot(page, "inspector-ended.png")


def test_redeliver_from_the_page_adds_an_attempt(scene: Scene) -> None:
    page = scene.page
    turn = _turn(page, "Tuesday at 2pm works.")
    turn.locator("details.wire summary").click()
    turn.get_by_role("button", name=re.compile("^Open delivery")).click()
    page.locator("ol.attempts li.attempt").first.wait_for()
    assert page.locator("ol.attempts li.attempt").count() == 1
    delivery_id = page.locator(".facts div", has_text="Delivery").locator("dd").inner_text()

    def sent() -> list[Any]:
        return [h for h in list(scene.agent.hits) if h.headers.get("x-webhook-id") == delivery_id]

    page.get_by_role("button", name="Redeliver", exact=True).click()
    newest = page.locator("ol.attempts li.attempt").first
    newest.locator("h3", has_text="Attempt 2").wait_for()
    assert "redelivered by hand" in newest.inner_text() and "HTTP 200" in newest.inner_text()
    assert len(sent()) == 2
    assert newest.locator("tr.signature td").inner_text().replace("\n", "") == sent()[1].headers["x-webhook-signature"]

    page.get_by_role("button", name="Redeliver edited…").click()
    editor = page.get_by_label("Body to send (signed afresh with the webhook's secret)")
    body = json.loads(editor.input_value())
    body["data"]["transcript"] = "An edited question"
    editor.fill(json.dumps(body))
    page.get_by_role("button", name="Send edited").click()
    page.locator("ol.attempts li.attempt").first.locator("h3", has_text="Attempt 3").wait_for()
    edited = page.locator("ol.attempts li.attempt").first
    assert "edited and redelivered" in edited.inner_text() and "differs from the stored payload" in edited.inner_text()
    first, again, changed = sent()
    assert again.body == first.body and changed.payload["data"]["transcript"] == "An edited question"
    assert page.locator(".facts div", has_text="Attempts").locator("dd").inner_text() == "3"
    _shot(page, "inspector-delivery.png")


def test_texts_sent_from_the_page_arrive_in_the_thread(scene: Scene) -> None:
    page = scene.page
    page.get_by_role("button", name="Inbound text").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("From (the other phone)").fill("+14155550177")
    dialog.get_by_label("To (one of this account's numbers)").select_option(scene.imessage)
    dialog.get_by_label("Text", exact=True).fill("Hi! Can I move my cleaning to Tuesday?")
    dialog.get_by_role("button", name="Send an inbound text").click()

    thread = page.locator("ol.thread")
    thread.locator(".message.them", has_text="Can I move my cleaning to Tuesday?").wait_for()
    assert page.locator(".detail-head h1").inner_text() == f"+14155550177 ⇄ {scene.imessage}"

    # the agent answers through the API; its text joins the thread live
    with httpx.Client(base_url=scene.base_url, headers={"Authorization": f"Bearer {scene.key}"}, timeout=15) as api:
        ok(api.post("/v1/messages", json={"agent_id": "agent_ava", "from_number": scene.imessage,
                                          "to_number": "+14155550177", "body": "Of course! Tuesday at 2pm?"}))
    thread.locator(".message.us", has_text="Tuesday at 2pm?").wait_for()

    # the other phone answers from the composer, and the agent's tapback shows on it
    page.get_by_label("Text arriving from +14155550177").fill("Perfect, thank you!")
    page.get_by_role("button", name="Send inbound text").click()
    answer = thread.locator(".message.them", has_text="Perfect, thank you!")
    answer.wait_for()
    answer.locator("summary", has_text="React").click()
    answer.get_by_role("button", name="React with love").click()
    tapback = thread.locator(".message.them", has_text="Perfect, thank you!").locator(".tapback")
    tapback.wait_for()
    assert tapback.inner_text() == "♥" and tapback.get_attribute("title") == "love from " + scene.imessage
    assert [m.inner_text() for m in thread.locator(".message .text").all()] == [
        "Hi! Can I move my cleaning to Tuesday?", "Of course! Tuesday at 2pm?", "Perfect, thank you!"]

    # every control is labelled, and the keyboard reaches the lists
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')].filter(el =>
        !el.labels?.length && !el.getAttribute('aria-label')).map(el => el.outerHTML)""")
    assert unlabelled == []
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 900})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Search this list"
    page.keyboard.type("Perfect")
    assert page.locator(".items .item").count() == 1
    _shot(page, "inspector-thread.png")
