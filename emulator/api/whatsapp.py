"""/integrations/whatsapp: the official SDK's WhatsApp methods (simulated; see emulator/domain/whatsapp.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import authenticate, emu, parse, path_param, respond
from emulator.api.routing import Query, Resource, delete, get, post
from emulator.domain import whatsapp
from emulator.errors import Invalid
from emulator.wire import whatsapp as wire

NAME, STATUS, CATEGORY, LANGUAGE = Query("name"), Query("status"), Query("category"), Query("language")
HSM_ID = Query("hsm_id")


async def connect(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.Connect)
    state = emu(request)
    async with state.store.write() as session:
        row = await whatsapp.connect(session, account_id, req.code, state.clock.now(), waba_id=req.waba_id,
                                     phone_number_id=req.phone_number_id, business_id=req.business_id,
                                     agent_id=req.agent_id)
    return respond(wire.connection(row))


async def available_numbers(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        row, offers = await whatsapp.available(session, account_id, path_param(request, "connection_id"))
    return respond(wire.available(row, offers))


async def connect_number(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.ConnectNumber)
    state = emu(request)
    async with state.store.write() as session:
        row, number = await whatsapp.connect_number(session, account_id, path_param(request, "connection_id"),
                                                    req.phone_number_id, state.clock.now(), req.agent_id)
    return respond(wire.connected_number(row, number))


async def list_templates(request: Request) -> Response:
    account_id = await authenticate(request)
    filters = {"name": NAME.read(request), "status": STATUS.read(request), "category": CATEGORY.read(request),
               "language": LANGUAGE.read(request)}
    async with emu(request).store.read() as session:
        rows = await whatsapp.templates(session, account_id, path_param(request, "connection_id"), filters)
    return respond(wire.template_list(rows))


async def create_template(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, wire.CreateTemplate)
    state = emu(request)
    async with state.store.write() as session:
        row = await whatsapp.create_template(session, account_id, path_param(request, "connection_id"),
                                             req.model_dump(exclude_none=True), state.clock.now())
    return respond(wire.template(row))


async def delete_template(request: Request) -> Response:
    account_id = await authenticate(request)
    name = NAME.read(request)
    if name is None:
        raise Invalid("Query parameter 'name' is required: the template to delete.")
    async with emu(request).store.write() as session:
        gone = await whatsapp.delete_template(session, account_id, path_param(request, "connection_id"), name,
                                              HSM_ID.read(request))
    return respond(wire.deleted(name, gone))


async def integration_status(request: Request) -> Response:
    account_id = await authenticate(request)
    async with emu(request).store.read() as session:
        rows = await whatsapp.connections(session, account_id)
    return respond(wire.status(rows))


async def disconnect(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.write() as session:
        before = await whatsapp.connection(session, account_id, path_param(request, "connection_id"))
        released = whatsapp.numbers_of([before])
        row = await whatsapp.disconnect(session, account_id, before.id, state.clock.now())
    return respond(wire.disconnected(row, released))


resource = Resource("/integrations/whatsapp", [
    post("/connect", connect, "Connect a WhatsApp Business account with an embedded-signup code",
         request=wire.Connect, response=wire.Connection),
    get("/status", integration_status, "The account's WhatsApp connections", response=wire.Status),
    get("/{connection_id}/available-numbers", available_numbers, "The business numbers a connection offers",
        response=wire.AvailableNumbers),
    post("/{connection_id}/numbers", connect_number, "Connect one of them as a WhatsApp number",
         request=wire.ConnectNumber, response=wire.ConnectedNumber),
    get("/{connection_id}/templates", list_templates, "List message templates", response=wire.TemplateList,
        query=(NAME, STATUS, CATEGORY, LANGUAGE)),
    post("/{connection_id}/templates", create_template, "Create a message template (Meta's rules)",
         request=wire.CreateTemplate, response=wire.Template),
    delete("/{connection_id}/templates", delete_template, "Delete a template by name (every language, or one "
           "hsm_id)", response=wire.TemplatesDeleted, query=(NAME, HSM_ID)),
    delete("/{connection_id}", disconnect, "Disconnect (its numbers are released)", response=wire.Disconnected),
], tag="whatsapp")
