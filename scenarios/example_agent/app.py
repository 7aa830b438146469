"""An example AgentPhone webhook agent, the one the shipped scenarios are written against.

Run it:   python scenarios/example_agent/app.py --port 8790
Webhook:  http://127.0.0.1:8790/agent     (behaves)
          http://127.0.0.1:8790/broken    (misbehaves: for seeing scenarios fail usefully)

For SMS replies it calls POST /v1/messages, so it needs the emulator's address and an
API key: AGENTPHONE_BASE_URL (default http://127.0.0.1:8000) and AGENTPHONE_API_KEY.
If AGENTPHONE_WEBHOOK_SECRET is set, every request's signature is verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

SLOW_LOOKUP_SECONDS = float(os.environ.get("EXAMPLE_AGENT_LOOKUP_SECONDS", "0.3"))


def ndjson(chunks: list[tuple[dict[str, Any], float]]) -> StreamingResponse:
    """Stream chunks, sleeping the given seconds before each one."""

    async def body() -> AsyncIterator[str]:
        for chunk, delay in chunks:
            if delay:
                await asyncio.sleep(delay)
            yield json.dumps(chunk) + "\n"

    return StreamingResponse(body(), media_type="application/x-ndjson")


def voice_reply(transcript: str, digits: str | None) -> Response:
    said = transcript.lower()
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


async def send_sms(agent_id: str, to: str, body: str) -> None:
    base = os.environ.get("AGENTPHONE_BASE_URL", "http://127.0.0.1:8000")
    key = os.environ.get("AGENTPHONE_API_KEY", "")
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        await client.post("/v1/messages", json={"agent_id": agent_id, "to_number": to, "body": body})


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


async def agent(request: Request) -> Response:
    event = await read_event(request)
    if event is None:
        return PlainTextResponse("bad signature", status_code=401)
    data = event.get("data") or {}
    if event.get("event") != "agent.message":
        return PlainTextResponse("ok")
    if event.get("channel") == "voice":
        return voice_reply(data.get("transcript") or "", data.get("digits"))
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
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
