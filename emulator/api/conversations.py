"""/v1/conversations: threads with their messages and metadata; iMessage typing and backgrounds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import (
    authenticate,
    emu,
    no_content,
    paging,
    parse,
    path_param,
    respond,
)
from emulator.api.routing import AFTER, BEFORE, PAGED, Query, Resource, delete, get, limit, patch, post
from emulator.domain import conversations, groups, imessage, messaging
from emulator.wire import conversations as wire
from emulator.wire import messages as message_wire
from emulator.wire.base import page


async def list_conversations(request: Request) -> Response:
    account_id = await authenticate(request)
    limit, offset = paging(request)
    async with emu(request).store.read() as session:
        rows, total = await conversations.list_page(session, account_id, limit, offset)
    return respond(page([wire.conversation(row) for row in rows], total, offset))


# The skill doc documents ?messageLimit=, the official SDK sends ?message_limit=.
MESSAGE_LIMIT = Query("messageLimit", "integer", 50, 1, 100)
MESSAGE_LIMIT_SNAKE = Query("message_limit", "integer", 50, 1, 100)
MESSAGES = limit(50, 200)


def _message_limit(request: Request) -> int:
    chosen = MESSAGE_LIMIT if "messageLimit" in request.query_params else MESSAGE_LIMIT_SNAKE
    return int(chosen.read(request))


async def get_conversation(request: Request) -> Response:
    account_id = await authenticate(request)
    limit = _message_limit(request)
    async with emu(request).store.read() as session:
        row = await conversations.get(session, account_id, path_param(request, "conversation_id"))
        messages = await conversations.latest(session, row.id, limit)
        reactions = await conversations.reactions_for(session, messages)
    return respond(wire.conversation(row, messages, reactions))


async def conversation_messages(request: Request) -> Response:
    account_id = await authenticate(request)
    count = int(MESSAGES.read(request))
    before, after = BEFORE.time(request), AFTER.time(request)
    async with emu(request).store.read() as session:
        row = await conversations.get(session, account_id, path_param(request, "conversation_id"))
        rows, has_more, total = await conversations.messages(session, count, before, after, conversation_id=row.id)
        reactions = await conversations.reactions_for(session, rows)
    return respond(message_wire.message_page(rows, reactions, has_more, total))


async def update_conversation(request: Request) -> Response:
    """`metadata` replaces the stored object (it reaches webhooks as `conversationState`)."""
    account_id = await authenticate(request)
    req = await parse(request, wire.UpdateConversation, optional=True)
    conversation_id = path_param(request, "conversation_id")
    async with emu(request).store.write() as session:
        if "metadata" in req.model_fields_set:
            row = await messaging.set_state(session, account_id, conversation_id, req.metadata)
        else:
            row = await conversations.get(session, account_id, conversation_id)
        if "group_name" in req.model_fields_set:
            if "metadata" not in req.model_fields_set:  # the rename changes the entity, not a read-only row
                row = await conversations.entity(session, account_id, conversation_id)
            groups.rename(row, req.group_name)
            await session.flush()
        messages = await conversations.latest(session, row.id, 50)
        reactions = await conversations.reactions_for(session, messages)
    return respond(wire.conversation(row, messages, reactions))


async def typing(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row = await imessage.conversation(session, account_id, path_param(request, "conversation_id"))
    return respond(wire.typing(row))


async def set_background(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.SetBackground)
    async with emu(request).store.write() as session:
        row, changed = await imessage.set_background(session, account_id, path_param(request, "conversation_id"),
                                                     req.image_url)
    return respond(wire.background(row, changed))


async def delete_background(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.write() as session:
        await imessage.remove_background(session, account_id, path_param(request, "conversation_id"))
    return no_content()


resource = Resource("/v1/conversations", [
    get("", list_conversations, "List conversations", response=wire.ConversationList, query=PAGED),
    get("/{conversation_id}", get_conversation, "Get a conversation with its recent messages",
        response=wire.ConversationDetail, query=(MESSAGE_LIMIT, MESSAGE_LIMIT_SNAKE)),
    patch("/{conversation_id}", update_conversation, "Replace a conversation's metadata",
          request=wire.UpdateConversation, response=wire.ConversationDetail, body_required=False),
    get("/{conversation_id}/messages", conversation_messages, "List a conversation's messages",
        response=message_wire.MessageList, query=(MESSAGES, BEFORE, AFTER)),
    post("/{conversation_id}/typing", typing, "Show a typing indicator (iMessage)", response=wire.Typing),
    post("/{conversation_id}/background", set_background, "Set a chat background (iMessage)",
         request=wire.SetBackground, response=wire.Background),
    delete("/{conversation_id}/background", delete_background, "Remove a chat background (iMessage)",
           status=204),
], tag="conversations")
