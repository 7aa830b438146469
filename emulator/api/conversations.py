"""/v1/conversations, read side: list, and one conversation with its recent messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import render
from emulator.api._http import authenticate, emu, paging, parse, query_int, query_time, respond
from emulator.domain import conversations, messaging
from emulator.domain.lookup import owned
from emulator.schemas import UpdateConversation
from emulator.store import Conversation


async def list_conversations(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await conversations.list_page(session, account_id, limit, offset)
    return respond(render.page([render.conversation(row) for row in rows], total, offset))


def _message_limit(request: Request) -> int:
    # The skill doc documents ?messageLimit=, the official SDK sends ?message_limit=.
    name = "messageLimit" if "messageLimit" in request.query_params else "message_limit"
    return query_int(request, name, 50, 1, 100)


async def get_conversation(request: Request) -> Response:
    account_id = await authenticate(request)
    limit = _message_limit(request)
    async with emu(request).store.read() as session:
        row = await owned(session, Conversation, account_id, request.path_params["conversation_id"])
        messages, _, _ = await conversations.messages(session, limit, conversation_id=row.id)
        reactions = await conversations.reactions_for(session, messages)
    return respond(render.conversation(row, messages, reactions))


async def conversation_messages(request: Request) -> Response:
    account_id = await authenticate(request)
    limit = query_int(request, "limit", 50, 1, 200)
    before, after = query_time(request, "before"), query_time(request, "after")
    async with emu(request).store.read() as session:
        row = await owned(session, Conversation, account_id, request.path_params["conversation_id"])
        rows, has_more, total = await conversations.messages(session, limit, before, after, conversation_id=row.id)
        reactions = await conversations.reactions_for(session, rows)
    return respond({"data": [render.message(m, reactions.get(m.id)) for m in rows], "hasMore": has_more,
                    "total": total})


async def update_conversation(request: Request) -> Response:
    """`metadata` replaces the stored object (it reaches webhooks as `conversationState`)."""
    account_id = await authenticate(request)
    req = await parse(request, UpdateConversation, optional=True)
    async with emu(request).store.write() as session:
        if "metadata" in req.model_fields_set:
            row = await messaging.set_state(session, account_id, request.path_params["conversation_id"], req.metadata)
        else:
            row = await owned(session, Conversation, account_id, request.path_params["conversation_id"])
        messages, _, _ = await conversations.messages(session, 50, conversation_id=row.id)
        reactions = await conversations.reactions_for(session, messages)
    return respond(render.conversation(row, messages, reactions))


routes = [
    Route("/v1/conversations", list_conversations, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", update_conversation, methods=["PATCH"]),
    Route("/v1/conversations/{conversation_id}/messages", conversation_messages, methods=["GET"]),
]
