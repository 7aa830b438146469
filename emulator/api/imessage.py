"""iMessage-only features: reactions, typing indicators and chat backgrounds.

The vendor allows them only on iMessage; on an SMS message or conversation they fail
with a clear 400, as the vendor document says.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import ids
from emulator.api._http import authenticate, emu, parse, respond
from emulator.domain.lookup import owned
from emulator.errors import ApiError, invalid
from emulator.schemas import SendReaction, SetBackground
from emulator.store import Conversation, Message, PhoneNumber, Reaction

TAPBACKS = ("love", "like", "dislike", "laugh", "emphasize", "question")


def _https(url: str, field: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise invalid(f"Field '{field}' must be a public https:// URL (got {url!r}).")
    return url


async def react(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, SendReaction)
    state = emu(request)
    async with state.store.write() as session:
        message = await owned(session, Message, account_id, request.path_params["message_id"])
        if message.channel != "imessage":
            raise ApiError(400, f"Reactions are available only for iMessage messages; message '{message.id}' "
                                f"was sent over {message.channel.upper()}.")
        reaction = req.reaction.lower() if req.reaction.lower() in TAPBACKS else req.reaction
        row = Reaction(id=ids.new_id("rxn"), account_id=account_id, message_id=message.id, reaction=reaction,
                       created_at=state.clock.now())
        session.add(row)
    return respond({"id": row.id, "reaction_type": reaction, "message_id": message.id, "channel": "imessage"})


async def _imessage_conversation(request: Request, account_id: str, session: AsyncSession) -> Conversation:
    conversation = await owned(session, Conversation, account_id, request.path_params["conversation_id"])
    number = await owned(session, PhoneNumber, account_id, conversation.phone_number_id)
    if number.type != "imessage":
        raise ApiError(400, f"Conversation '{conversation.id}' is an SMS conversation; typing indicators and "
                            "chat backgrounds are iMessage-only.")
    return conversation


async def typing(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        conversation = await _imessage_conversation(request, account_id, session)
    return respond({"conversationId": conversation.id, "channel": "imessage", "status": "sent"})


async def set_background(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, SetBackground)
    url = _https(req.image_url, "image_url")
    async with emu(request).store.write() as session:
        conversation = await _imessage_conversation(request, account_id, session)
        current = conversation.background or {}
        changed = current.get("imageUrl") != url
        version = int(current.get("version", 0)) + (1 if changed else 0)
        conversation.background = {"imageUrl": url, "id": current.get("id") or ids.new_id("bg"), "version": version}
    background = conversation.background
    return respond({"conversationId": conversation.id, "channel": "imessage", "hasBackground": True,
                    "backgroundId": background["id"], "backgroundVersion": background["version"],
                    "changed": changed})


async def delete_background(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        conversation = await _imessage_conversation(request, account_id, session)
        conversation.background = None
    return Response(status_code=204)


routes = [
    Route("/v1/messages/{message_id}/reactions", react, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/typing", typing, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/background", set_background, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/background", delete_background, methods=["DELETE"]),
]
