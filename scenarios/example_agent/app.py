"""An example AgentPhone webhook agent, the one the shipped scenarios are written against.

Run it:   python scenarios/example_agent/app.py --port 8790
Webhook:  http://127.0.0.1:8790/agent     (behaves)
          http://127.0.0.1:8790/broken    (misbehaves: for seeing scenarios fail usefully)

Voice calls need nothing else. For SMS replies it calls POST /v1/messages, so it needs the
emulator's address and an API key: AGENTPHONE_BASE_URL (default http://127.0.0.1:8000) and
AGENTPHONE_API_KEY (the shipped SMS scenario texts as sk_test_example_sms). Without the key it
says so at start, and answers every text's webhook with a 503 naming what is missing; a reply the
emulator refuses is reported on stderr with the emulator's own explanation.
If AGENTPHONE_WEBHOOK_SECRET is set, every request's signature is verified. Whatever the secret,
/agent refuses a delivery whose timestamp is more than five minutes off (401) and one whose
X-Webhook-ID it already answered (409, a replay), and asks a caller to repeat a voice turn
transcribed with a confidence under 0.6. /broken does none of that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

SLOW_LOOKUP_SECONDS = float(os.environ.get("EXAMPLE_AGENT_LOOKUP_SECONDS", "0.3"))
TIMESTAMP_TOLERANCE_SECONDS = 300
MIN_CONFIDENCE = 0.6
ANSWERED: OrderedDict[str, None] = OrderedDict()  # delivery IDs already answered (the latest few thousand)


def ndjson(chunks: list[tuple[dict[str, Any], float]]) -> StreamingResponse:
    """Stream chunks, sleeping the given seconds before each one."""

    async def body() -> AsyncIterator[str]:
        for chunk, delay in chunks:
            if delay:
                await asyncio.sleep(delay)
            yield json.dumps(chunk) + "\n"

    return StreamingResponse(body(), media_type="application/x-ndjson")


def voice_reply(transcript: str, digits: str | None, confidence: float | None = None) -> Response:
    said = transcript.lower()
    if transcript and confidence is not None and confidence < MIN_CONFIDENCE:
        return JSONResponse({"text": "Sorry, the line is bad. Could you say that again?"})
    if "press 1" in said or "press 2" in said:  # an IVR menu: we want support
        return JSONResponse({"text": "", "digits": "2"})
    if "support here" in said:
        return JSONResponse({"text": "Hi, I'm calling about a billing question on account 1234."})
    if any(word in said for word in ("human", "representative", "real person")):
        return JSONResponse({"text": "Let me transfer you to a human now.", "action": "transfer"})
    if "goodbye" in said or said.strip(" .!") == "bye":
        return JSONResponse({"text": "Thanks for calling. Goodbye!", "hangup": True})
    if "order" in said:
        return ndjson([({"text": "Let me check on that.", "interim": True}, 0.0),
                       ({"text": "Your order 4521 shipped yesterday via FedEx."}, SLOW_LOOKUP_SECONDS)])
    if "plans" in said:
        return ndjson([({"text": "We have three plans.", "interim": True}, 0.0),
                       ({"text": "The starter plan is ten dollars a month.", "interim": True}, 0.2),
                       ({"text": "The pro plan is thirty dollars a month."}, 0.2)])
    if "reschedule" in said:
        return JSONResponse({"text": "I can help with that. What's your date of birth?"})
    if "date of birth" in said:
        return JSONResponse({"text": "Thanks. I've moved your cleaning to Thursday at 10am. Anything else?"})
    if "appointment" in said or "book" in said:
        return JSONResponse({"text": "Sure. I can book you in on Tuesday at 2pm. Does that work?"})
    if "works" in said or said.startswith("yes"):
        return JSONResponse({"text": "Great, you're booked for Tuesday at 2pm. Goodbye!", "hangup": True})
    return JSONResponse({"text": f"You said: {transcript}"})


def sms_reply(text: str) -> str:
    said = text.lower()
    if "hours" in said or "open" in said:
        return "We're open 9am to 5pm, Monday to Friday."
    if "appointment" in said:
        return "Your appointment is on Tuesday at 2pm. Reply C to cancel."
    if said.strip() == "c":
        return "Your appointment is cancelled."
    return "Thanks for your message! A person will get back to you."


def base_url() -> str:
    return os.environ.get("AGENTPHONE_BASE_URL", "http://127.0.0.1:8000")


def missing_for_sms() -> str | None:
    """Why texts cannot be answered, or None when they can."""
    if os.environ.get("AGENTPHONE_API_KEY", "").strip():
        return None
    return ("AGENTPHONE_API_KEY is not set, so the example agent cannot answer texts: it replies through "
            f"POST /v1/messages on the emulator at {base_url()} (AGENTPHONE_BASE_URL). Start it with "
            "AGENTPHONE_API_KEY=sk_test_example_sms for the shipped SMS scenario.")


def complain(text: str) -> None:
    print(f"example agent: {text}", file=sys.stderr, flush=True)


async def send_sms(agent_id: str, to: str, body: str) -> None:
    """Answer a text through the emulator's API; any failure is reported, never silent."""
    key = os.environ["AGENTPHONE_API_KEY"].strip()
    url = f"{base_url()}/v1/messages"
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            response = await client.post(url, json={"agent_id": agent_id, "to_number": to, "body": body})
    except httpx.HTTPError as exc:
        complain(f"could not answer the text from {to}: POST {url} failed ({exc!r}); "
                 "is AGENTPHONE_BASE_URL the emulator that sent the webhook?")
        return
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:200]
        complain(f"could not answer the text from {to}: POST {url} answered {response.status_code}: {detail} "
                 "(is AGENTPHONE_API_KEY the key of the account that owns the number?)")


async def read_event(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    secret = os.environ.get("AGENTPHONE_WEBHOOK_SECRET")
    if secret:
        from agentphone import WebhookVerificationError, verify_webhook

        try:
            verify_webhook(body, request.headers.get("x-webhook-signature", ""), secret,
                           request.headers.get("x-webhook-timestamp", ""))
        except WebhookVerificationError:
            return None
    return json.loads(body)


def replayed(request: Request) -> Response | None:
    """A delivery to refuse: signed too long ago, or one already answered (its X-Webhook-ID seen)."""
    stamp = request.headers.get("x-webhook-timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        return PlainTextResponse("stale or missing timestamp", status_code=401)
    if request.headers.get("x-webhook-id", "") in ANSWERED:
        return PlainTextResponse("already answered this delivery", status_code=409)
    return None


def answered(request: Request, response: Response) -> Response:
    """Remember a delivery answered 2xx, so a replay of it is refused."""
    if response.status_code < 300:
        ANSWERED[request.headers.get("x-webhook-id", "")] = None
        while len(ANSWERED) > 10_000:
            ANSWERED.popitem(last=False)
    return response


async def agent(request: Request) -> Response:
    event = await read_event(request)
    if event is None:
        return PlainTextResponse("bad signature", status_code=401)
    refused = replayed(request)
    if refused is not None:
        return refused
    return answered(request, await handle(event))


async def handle(event: dict[str, Any]) -> Response:
    data = event.get("data") or {}
    if event.get("event") != "agent.message":
        return PlainTextResponse("ok")
    if event.get("channel") == "voice":
        return voice_reply(data.get("transcript") or "", data.get("digits"), data.get("confidence"))
    problem = missing_for_sms()
    if problem:
        complain(problem)
        return PlainTextResponse(problem, status_code=503)
    reply = sms_reply(data.get("message") or "")
    task = BackgroundTask(send_sms, event.get("agentId") or "", data.get("from") or "", reply)
    return PlainTextResponse("ok", background=task)


async def broken(request: Request) -> Response:
    """Everything an agent can get wrong: slow, silent, wrong words, errors, no hangup."""
    event = json.loads(await request.body())
    if event.get("channel") != "voice" or event.get("event") != "agent.message":
        return PlainTextResponse("nope", status_code=500)
    said = ((event.get("data") or {}).get("transcript") or "").lower()
    if "order" in said:
        return PlainTextResponse("internal error", status_code=500)
    if "plans" in said:
        return JSONResponse(["not", "an", "object"])
    if "press" in said:
        return JSONResponse({"text": "I don't know which key to press."})
    await asyncio.sleep(0.2)
    return JSONResponse({"text": "Sorry, I didn't catch that."})


app = Starlette(routes=[Route("/agent", agent, methods=["POST"]), Route("/broken", broken, methods=["POST"])])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    problem = missing_for_sms()
    if problem:
        complain(f"warning: {problem} Voice calls are answered as usual.")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
