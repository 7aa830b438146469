"""Behaviour of the simulated endpoints over HTTP, against a real emulator process.

Contacts and capabilities, available numbers and lookup, contact cards, number expiry,
iMessage reactions/typing/backgrounds, usage by number and by agent, sub-accounts and
`X-Sub-Account-Id`, A2P registration and verification codes, SIP trunks, locations,
feedback and web calls. Tests that move the emulator clock start their own emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from helpers import advance, emulator_now, ok, parse, refused, set_account, stored_rows, wait_ended

from emulator.phones import CA_AREA_CODES, line_type
from emulator.testing import InProcessEmulator, new_key

ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


# --- helpers ---------------------------------------------------------------------------------


def upgrade(control: httpx.Client, key: str) -> None:
    """The scale plan (several numbers), keeping the account's balance."""
    set_account(control, key, plan="scale")


def account(control: httpx.Client, key: str) -> dict[str, Any]:
    """The key's account, created now if the key has not been used yet."""
    return dict(ok(control.patch(f"/_emulator/accounts/{key}", json={})))


def balance(control: httpx.Client, key: str) -> int:
    return int(ok(control.get(f"/_emulator/accounts/{key}"))["balanceCents"])


def buy(api: httpx.Client, **body: Any) -> dict[str, Any]:
    return ok(api.post("/v1/numbers", json=body))


def new_agent(api: httpx.Client, name: str = "Agent", **fields: Any) -> dict[str, Any]:
    return ok(api.post("/v1/agents", json={"name": name, **fields}))


def hosted_agent(api: httpx.Client, name: str = "Hosted") -> dict[str, Any]:
    return new_agent(api, name, voiceMode="hosted", systemPrompt="Help {{name}}.", beginMessage="Hi {{name}}!")


def wait_for_call(api: httpx.Client, call_id: str) -> dict[str, Any]:
    """The call once it is no longer registered or in progress."""
    return wait_ended(api, call_id, pending=("registered", "in-progress"))


def client(emulator: InProcessEmulator, key: str, sub_account: str | None = None) -> httpx.Client:
    return emulator.client(key, headers={"X-Sub-Account-Id": sub_account} if sub_account is not None else None)


@dataclass
class Own:
    """An emulator of the test's own, for tests that move its clock."""

    emulator: InProcessEmulator
    api: httpx.Client
    control: httpx.Client
    key: str


@pytest.fixture
def own(make_emulator: Callable[..., InProcessEmulator]) -> Iterator[Own]:
    key, emulator = new_key(), make_emulator()
    with emulator.client() as control, client(emulator, key) as api:
        yield Own(emulator, api, control, key)


@pytest.fixture
def scale(api: httpx.Client, control: httpx.Client, key: str) -> httpx.Client:
    """`api` on the scale plan, so a test can buy several numbers."""
    upgrade(control, key)
    return api


# --- contacts --------------------------------------------------------------------------------


def test_contacts_crud_normalise_conflict_search_delete(api: httpx.Client) -> None:
    created = api.post("/v1/contacts", json={"phoneNumber": "(415) 555-0100", "name": "Alice Smith",
                                              "email": "alice@example.com", "notes": "VIP"})
    alice = ok(created, 201)
    assert alice["id"].startswith("ct_")
    assert alice["phoneNumber"] == "+14155550100"
    assert (alice["name"], alice["email"], alice["notes"]) == ("Alice Smith", "alice@example.com", "VIP")
    assert alice["createdAt"] == alice["updatedAt"]
    assert ok(api.get(f"/v1/contacts/{alice['id']}")) == alice

    refused(api.post("/v1/contacts", json={"phoneNumber": "+1 415 555 0100", "name": "Alice again"}), 409,
            "+14155550100")
    bob = ok(api.post("/v1/contacts", json={"phoneNumber": "+12125550199", "name": "Bob Jones"}), 201)
    assert bob["email"] is None and bob["notes"] is None
    refused(api.patch(f"/v1/contacts/{bob['id']}", json={"phoneNumber": "415.555.0100"}), 409, "+14155550100")
    refused(api.post("/v1/contacts", json={"phoneNumber": "555", "name": "Short"}), 400, "phoneNumber")
    refused(api.post("/v1/contacts", json={"phoneNumber": "+12125550111"}), 400, "name")
    refused(api.post("/v1/contacts", json={"phoneNumber": "+12125550111", "name": "X", "email": "nope"}), 400,
            "email")

    # PATCH changes only what is sent; keeping one's own number is not a conflict.
    renamed = ok(api.patch(f"/v1/contacts/{bob['id']}", json={"name": "Robert Jones", "phoneNumber": "2125550199"}))
    assert renamed["name"] == "Robert Jones" and renamed["phoneNumber"] == "+12125550199"
    assert renamed["createdAt"] == bob["createdAt"] and renamed["updatedAt"] >= bob["updatedAt"]

    listed = ok(api.get("/v1/contacts"))
    assert [c["id"] for c in listed["data"]] == [bob["id"], alice["id"]]
    assert listed["total"] == 2 and listed["hasMore"] is False
    assert [c["id"] for c in ok(api.get("/v1/contacts", params={"search": "aLiCe"}))["data"]] == [alice["id"]]
    assert [c["id"] for c in ok(api.get("/v1/contacts", params={"search": "jones"}))["data"]] == [bob["id"]]
    assert [c["id"] for c in ok(api.get("/v1/contacts", params={"search": "5550100"}))["data"]] == [alice["id"]]
    assert [c["id"] for c in ok(api.get("/v1/contacts", params={"search": "+1212"}))["data"]] == [bob["id"]]
    assert ok(api.get("/v1/contacts", params={"search": "nobody"}))["data"] == []
    page = ok(api.get("/v1/contacts", params={"limit": 1}))
    assert len(page["data"]) == 1 and page["total"] == 2 and page["hasMore"] is True

    deleted = api.delete(f"/v1/contacts/{alice['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    refused(api.get(f"/v1/contacts/{alice['id']}"), 404, alice["id"])
    refused(api.delete(f"/v1/contacts/{alice['id']}"), 404)
    refused(api.patch(f"/v1/contacts/{alice['id']}", json={"name": "Ghost"}), 404)
    assert ok(api.get("/v1/contacts"))["total"] == 1
    # The number is free again.
    ok(api.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "Alice returns"}), 201)


def test_contacts_are_per_account(api: httpx.Client, server: InProcessEmulator) -> None:
    mine = ok(api.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "Mine"}), 201)
    with client(server, new_key()) as other:
        refused(other.get(f"/v1/contacts/{mine['id']}"), 404)
        assert ok(other.get("/v1/contacts"))["total"] == 0
        ok(other.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "Theirs"}), 201)


def test_capabilities_need_an_active_imessage_number(scale: httpx.Client, control: httpx.Client) -> None:
    api = scale
    refused(api.get("/v1/contacts/capabilities", params={"phone_number": "+14155550102"}), 400, "iMessage")
    sms = buy(api)
    refused(api.get("/v1/contacts/capabilities", params={"phone_number": "+14155550102"}), 400, "iMessage")

    imessage = buy(api, type="imessage")
    assert imessage["type"] == "imessage"
    before = emulator_now(control)
    even = ok(api.get("/v1/contacts/capabilities", params={"phone_number": "(415) 555-0102"}))
    after = emulator_now(control)
    assert set(even) == {"phoneNumber", "capabilities", "checkedAt"}
    assert even["phoneNumber"] == "+14155550102"
    assert even["capabilities"] == {"imessage": True, "sms": True}
    assert before - timedelta(milliseconds=1) <= parse(even["checkedAt"]) <= after  # checked now
    odd = ok(api.get("/v1/contacts/capabilities", params={"phone_number": "+14155550103"}))
    assert odd["capabilities"] == {"imessage": False, "sms": True}
    # Same answer every time for the same number.
    assert ok(api.get("/v1/contacts/capabilities", params={"phone_number": "+14155550102"}))["capabilities"] == \
        even["capabilities"]
    refused(api.get("/v1/contacts/capabilities"), 400, "phone_number")
    refused(api.get("/v1/contacts/capabilities", params={"phone_number": "hello"}), 400, "phone_number")

    # Releasing the only iMessage line takes the check away again.
    ok(api.delete(f"/v1/numbers/{imessage['id']}"))
    refused(api.get("/v1/contacts/capabilities", params={"phone_number": "+14155550102"}), 400, "iMessage")
    assert sms["status"] == "active"


# --- numbers: available, lookup, contact card, PATCH -----------------------------------------


def test_available_numbers_filters_and_stability(api: httpx.Client) -> None:
    sf = ok(api.get("/v1/numbers/available", params={"areaCode": "415", "limit": 5}))
    assert len(sf["data"]) == 5 and sf["total"] == 5
    for item in sf["data"]:
        assert item["phoneNumber"].startswith("+1415") and len(item["phoneNumber"]) == 12
        assert (item["areaCode"], item["city"], item["state"], item["country"]) == (
            "415", "San Francisco", "CA", "US")
        assert item["rateCenter"] == "SAN FRANCISCO"
    assert len({item["phoneNumber"] for item in sf["data"]}) == 5
    assert ok(api.get("/v1/numbers/available", params={"areaCode": "415", "limit": 5})) == sf
    assert ok(api.get("/v1/numbers/available", params={"area_code": "415", "limit": 5})) == sf

    default = ok(api.get("/v1/numbers/available"))
    assert len(default["data"]) == 10
    assert {item["country"] for item in default["data"]} == {"US"}
    assert not {item["areaCode"] for item in default["data"]} & CA_AREA_CODES

    seattle = ok(api.get("/v1/numbers/available", params={"city": "seattle", "limit": 3}))
    assert {(i["areaCode"], i["city"], i["state"]) for i in seattle["data"]} == {("206", "Seattle", "WA")}
    new_york = ok(api.get("/v1/numbers/available", params={"state": "NY", "limit": 20}))
    assert {i["areaCode"] for i in new_york["data"]} == {"212", "646"}
    assert {i["city"] for i in new_york["data"]} == {"New York"}
    assert ok(api.get("/v1/numbers/available", params={"city": "Atlantis"}))["data"] == []

    canada = ok(api.get("/v1/numbers/available", params={"country": "CA", "limit": 10}))
    assert len(canada["data"]) == 10
    assert {i["country"] for i in canada["data"]} == {"CA"}
    assert {i["areaCode"] for i in canada["data"]} <= CA_AREA_CODES
    assert all(i["phoneNumber"][2:5] in CA_AREA_CODES for i in canada["data"])
    toronto = ok(api.get("/v1/numbers/available", params={"country": "ca", "areaCode": "416", "limit": 2}))
    assert {i["city"] for i in toronto["data"]} == {"Toronto"}

    # An area code with no known place still lists numbers in it.
    jersey = ok(api.get("/v1/numbers/available", params={"areaCode": "201", "limit": 2}))
    assert all(i["phoneNumber"].startswith("+1201") and i["city"] is None for i in jersey["data"])

    refused(api.get("/v1/numbers/available", params={"limit": 0}), 400, "limit")
    refused(api.get("/v1/numbers/available", params={"limit": 51}), 400, "limit")
    refused(api.get("/v1/numbers/available", params={"limit": "ten"}), 400, "limit")
    refused(api.get("/v1/numbers/available", params={"country": "MX"}), 400, "country")
    refused(api.get("/v1/numbers/available", params={"country": "CA", "areaCode": "212"}), 400, "212")
    refused(api.get("/v1/numbers/available", params={"areaCode": "41"}), 400, "areaCode")


def test_number_lookup(scale: httpx.Client) -> None:
    api = scale
    mine = buy(api, areaCode="415")
    many = [f"+1415555{i:04d}" for i in range(25)]
    full = ok(api.get("/v1/numbers/lookup", params={"phoneNumbers": ",".join(many)}))
    assert [e["phoneNumber"] for e in full["data"]] == many
    for entry in full["data"]:
        assert entry["lineType"] in ("mobile", "landline", "voip")
        assert entry["country"] == "US" and entry["valid"] is True and entry["ownedByAccount"] is False
        assert isinstance(entry["rcsEnabled"], bool)
    # Stable per number.
    assert ok(api.get("/v1/numbers/lookup", params={"phoneNumbers": ",".join(many)})) == full

    refused(api.get("/v1/numbers/lookup", params={"phoneNumbers": ",".join([*many, "+14155559999"])}), 400, "26",
            "25")
    refused(api.get("/v1/numbers/lookup", params={"phoneNumbers": "+14155550100,12,+14155550101"}), 400,
            "phoneNumbers[1]")
    refused(api.get("/v1/numbers/lookup"), 400, "phoneNumbers")

    own = ok(api.get("/v1/numbers/lookup", params={"phone_numbers": f"{mine['phoneNumber']}, (416) 555-0100"}))
    assert own["data"][0] == {"phoneNumber": mine["phoneNumber"], "lineType": "voip", "country": "US",
                              "rcsEnabled": False, "valid": True, "ownedByAccount": True}
    assert own["data"][1]["phoneNumber"] == "+14165550100" and own["data"][1]["country"] == "CA"


def test_contact_card_get_put_delete(scale: httpx.Client, server: InProcessEmulator) -> None:
    api = scale
    number = buy(api, type="imessage")
    empty = {"firstName": None, "lastName": None, "displayName": None, "hasAvatar": False}
    assert ok(api.get(f"/v1/numbers/{number['id']}/contact-card")) == empty

    card = {"firstName": "Ada", "lastName": "Lovelace", "displayName": "Ada at Acme",
            "avatarUrl": "https://acme.example/ada.png"}
    expected = {"firstName": "Ada", "lastName": "Lovelace", "displayName": "Ada at Acme", "hasAvatar": True}
    assert ok(api.put(f"/v1/numbers/{number['id']}/contact-card", json=card)) == expected
    assert ok(api.get(f"/v1/numbers/{number['id']}/contact-card")) == expected
    # PUT replaces the whole card.
    replaced = ok(api.put(f"/v1/numbers/{number['id']}/contact-card", json={"displayName": "Acme"}))
    assert replaced == {"firstName": None, "lastName": None, "displayName": "Acme", "hasAvatar": False}
    refused(api.put(f"/v1/numbers/{number['id']}/contact-card", json={"lastName": "Only"}), 400, "firstName")

    deleted = api.delete(f"/v1/numbers/{number['id']}/contact-card")
    assert deleted.status_code == 204 and deleted.content == b""
    assert ok(api.get(f"/v1/numbers/{number['id']}/contact-card")) == empty
    refused(api.get("/v1/numbers/pn_doesnotexist/contact-card"), 404)
    with client(server, new_key()) as other:
        refused(other.get(f"/v1/numbers/{number['id']}/contact-card"), 404)
        refused(other.put(f"/v1/numbers/{number['id']}/contact-card", json=card), 404)

    ok(api.delete(f"/v1/numbers/{number['id']}"))
    refused(api.put(f"/v1/numbers/{number['id']}/contact-card", json=card), 400, "released")


def test_patch_number_external_id_and_expiry(api: httpx.Client, control: httpx.Client) -> None:
    number = buy(api)
    assert number["externalId"] is None and number["expiresAt"] is None
    later = (emulator_now(control) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    patched = ok(api.patch(f"/v1/numbers/{number['id']}", json={"externalId": "crm-42", "expiresAt": later}))
    assert patched["externalId"] == "crm-42"
    assert patched["expiresAt"] == later.replace("Z", ".000Z")
    assert ok(api.get(f"/v1/numbers/{number['id']}")) == patched

    only_id = ok(api.patch(f"/v1/numbers/{number['id']}", json={"externalId": "crm-43"}))
    assert only_id["externalId"] == "crm-43" and only_id["expiresAt"] == patched["expiresAt"]

    past = (emulator_now(control) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused(api.patch(f"/v1/numbers/{number['id']}", json={"expiresAt": past}), 400, "expiresAt", "future")
    refused(api.patch(f"/v1/numbers/{number['id']}", json={"expiresAt": "next tuesday"}), 400, "expiresAt")
    refused(api.patch(f"/v1/numbers/{number['id']}", json={"externalId": "x" * 201}), 400, "externalId")
    assert ok(api.get(f"/v1/numbers/{number['id']}"))["expiresAt"] == patched["expiresAt"]

    cleared = ok(api.patch(f"/v1/numbers/{number['id']}", json={"expiresAt": None, "externalId": None}))
    assert cleared["expiresAt"] is None and cleared["externalId"] is None
    refused(api.patch("/v1/numbers/pn_doesnotexist", json={"externalId": "x"}), 404)
    ok(api.delete(f"/v1/numbers/{number['id']}"))
    refused(api.patch(f"/v1/numbers/{number['id']}", json={"externalId": "x"}), 400, "released")


def test_expired_number_is_released_by_the_clock(own: Own) -> None:
    api, control = own.api, own.control
    upgrade(control, own.key)
    agent = new_agent(api)
    now = emulator_now(control)
    soon = buy(api, agentId=agent["id"], expiresAt=(now + timedelta(seconds=120)).isoformat() + "Z")
    kept = buy(api)
    patched = ok(api.patch(f"/v1/numbers/{kept['id']}",
                           json={"expiresAt": (now + timedelta(hours=2)).isoformat() + "Z"}))
    assert patched["expiresAt"] is not None

    advance(control, 60)
    assert ok(api.get(f"/v1/numbers/{soon['id']}"))["status"] == "active"

    advance(control, 61)
    released = ok(api.get(f"/v1/numbers/{soon['id']}"))
    assert released["status"] == "released" and released["agentId"] is None
    assert released["releasedAt"] is not None and parse(released["releasedAt"]) >= parse(soon["expiresAt"])
    assert released["inboundCallsEnabled"] is False
    assert [n["id"] for n in ok(api.get("/v1/numbers"))["data"]] == [kept["id"]]
    assert ok(api.get(f"/v1/agents/{agent['id']}"))["numbers"] == []

    advance(control, 2 * 3600)
    assert ok(api.get(f"/v1/numbers/{kept['id']}"))["status"] == "released"
    assert ok(api.get("/v1/numbers"))["data"] == []


# --- iMessage-only features ------------------------------------------------------------------


def test_reactions_only_on_imessage(scale: httpx.Client, control: httpx.Client) -> None:
    api = scale
    sms = buy(api)
    imessage = buy(api, type="imessage")
    text = ok(api.post("/v1/messages", json={"number_id": sms["id"], "to_number": "+14155550111", "body": "hi"}))
    assert text["channel"] == "sms"
    refused(api.post(f"/v1/messages/{text['id']}/reactions", json={"reaction": "love"}), 400, "iMessage", "SMS",
            text["id"])

    blue = ok(api.post("/v1/messages", json={"number_id": imessage["id"], "to_number": "+14155550112",
                                             "body": "hello"}))
    assert blue["channel"] == "imessage"
    love = ok(api.post(f"/v1/messages/{blue['id']}/reactions", json={"reaction": "Love"}))
    assert set(love) >= {"id", "reaction_type", "message_id", "channel"}
    assert love["id"].startswith("rxn_")
    assert (love["reaction_type"], love["message_id"], love["channel"]) == ("love", blue["id"], "imessage")
    fire = ok(api.post(f"/v1/messages/{blue['id']}/reactions", json={"reaction": "🔥"}))
    assert fire["reaction_type"] == "🔥" and fire["id"] != love["id"]

    # Inbound iMessages can be reacted to as well.
    inbound = ok(control.post("/_emulator/sms", json={"from": "+14155550113", "to": imessage["phoneNumber"],
                                                      "body": "another"}))["message"]
    assert inbound["channel"] == "imessage"
    assert ok(api.post(f"/v1/messages/{inbound['id']}/reactions", json={"reaction": "like"}))["reaction_type"] == \
        "like"
    refused(api.post(f"/v1/messages/{blue['id']}/reactions", json={"reaction": ""}), 400, "reaction")
    refused(api.post(f"/v1/messages/{blue['id']}/reactions", json={}), 400, "reaction")
    refused(api.post("/v1/messages/msg_doesnotexist/reactions", json={"reaction": "like"}), 404)


def test_typing_and_background_only_on_imessage(scale: httpx.Client, server: InProcessEmulator) -> None:
    api = scale
    sms = buy(api)
    imessage = buy(api, type="imessage")
    sms_conv = ok(api.post("/v1/messages", json={"number_id": sms["id"], "to_number": "+14155550111",
                                                 "body": "hi"}))["conversation_id"]
    blue_conv = ok(api.post("/v1/messages", json={"number_id": imessage["id"], "to_number": "+14155550112",
                                                  "body": "hi"}))["conversation_id"]
    url = "https://images.example/wall.png"

    refused(api.post(f"/v1/conversations/{sms_conv}/typing"), 400, "SMS", "iMessage")
    refused(api.post(f"/v1/conversations/{sms_conv}/background", json={"image_url": url}), 400, "iMessage")
    refused(api.delete(f"/v1/conversations/{sms_conv}/background"), 400, "iMessage")

    typing = ok(api.post(f"/v1/conversations/{blue_conv}/typing"))
    assert typing == {"conversationId": blue_conv, "channel": "imessage", "status": "sent"}

    first = ok(api.post(f"/v1/conversations/{blue_conv}/background", json={"image_url": url}))
    assert set(first) == {"conversationId", "channel", "hasBackground", "backgroundId", "backgroundVersion",
                          "changed"}
    assert (first["conversationId"], first["channel"], first["hasBackground"], first["changed"]) == (
        blue_conv, "imessage", True, True)
    assert first["backgroundId"].startswith("bg_") and first["backgroundVersion"] == 1
    same = ok(api.post(f"/v1/conversations/{blue_conv}/background", json={"image_url": url}))
    assert same["changed"] is False
    assert (same["backgroundId"], same["backgroundVersion"]) == (first["backgroundId"], 1)
    other = ok(api.post(f"/v1/conversations/{blue_conv}/background",
                        json={"image_url": "https://images.example/other.png"}))
    assert other["changed"] is True and other["backgroundVersion"] == 2
    assert other["backgroundId"] == first["backgroundId"]

    refused(api.post(f"/v1/conversations/{blue_conv}/background", json={"image_url": "http://images.example/a.png"}),
            400, "image_url", "https")
    refused(api.post(f"/v1/conversations/{blue_conv}/background", json={}), 400, "image_url")

    deleted = api.delete(f"/v1/conversations/{blue_conv}/background")
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.delete(f"/v1/conversations/{blue_conv}/background").status_code == 204  # idempotent
    again = ok(api.post(f"/v1/conversations/{blue_conv}/background", json={"image_url": url}))
    assert again["changed"] is True and again["hasBackground"] is True

    refused(api.post("/v1/conversations/conv_doesnotexist/typing"), 404)
    with client(server, new_key()) as stranger:
        refused(stranger.post(f"/v1/conversations/{blue_conv}/typing"), 404)
        refused(stranger.delete(f"/v1/conversations/{blue_conv}/background"), 404)


# --- usage by number and by agent ------------------------------------------------------------


def test_usage_by_number(scale: httpx.Client, control: httpx.Client) -> None:
    api = scale
    agent = hosted_agent(api, "Front Desk")
    attached = buy(api, agentId=agent["id"], areaCode="415")
    loose = buy(api, areaCode="212")
    gone = buy(api)
    for body in ("one", "two"):
        ok(api.post("/v1/messages", json={"number_id": attached["id"], "to_number": "+14155550111", "body": body}))
    ok(control.post("/_emulator/sms", json={"from": "+14155550111", "to": attached["phoneNumber"], "body": "yo"}))
    ok(control.post("/_emulator/sms", json={"from": "+14155550122", "to": loose["phoneNumber"], "body": "hey"}))
    call = ok(api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": "+15005550005"}))
    wait_for_call(api, call["id"])
    ok(api.delete(f"/v1/numbers/{gone['id']}"))

    rows = ok(api.get("/v1/usage/by-number"))["data"]
    assert [r["numberId"] for r in rows] == [attached["id"], loose["id"], gone["id"]]
    by_id = {r["numberId"]: r for r in rows}
    assert by_id[attached["id"]] == {
        "numberId": attached["id"], "phoneNumber": attached["phoneNumber"], "country": "US", "status": "active",
        "agentId": agent["id"], "agentName": "Front Desk", "messages": 3, "calls": 1,
    }
    assert (by_id[loose["id"]]["agentId"], by_id[loose["id"]]["agentName"]) == (None, None)
    assert (by_id[loose["id"]]["messages"], by_id[loose["id"]]["calls"]) == (1, 0)
    assert by_id[gone["id"]]["status"] == "released"
    assert (by_id[gone["id"]]["messages"], by_id[gone["id"]]["calls"]) == (0, 0)


def test_usage_by_agent_validation(api: httpx.Client) -> None:
    refused(api.get("/v1/usage/by-agent"), 400, "period")
    refused(api.get("/v1/usage/by-agent", params={"period": "day"}), 400, "period", "week")
    refused(api.get("/v1/usage/by-agent", params={"period": "week", "tz": "Mars/Olympus_Mons"}), 400, "tz")
    refused(api.get("/v1/usage/by-agent", params={"period": "week", "tz": "../etc/passwd"}), 400, "tz")
    body = ok(api.get("/v1/usage/by-agent", params={"period": "week"}))
    assert body["data"] == [] and body["period"] == "week" and body["tz"] == "UTC"


def _window(period: str, now: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """The calendar week (from Monday), month or year around `now` in `tz`, as the API's UTC strings."""
    local = now.replace(tzinfo=UTC).astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    else:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)

    def text(dt: datetime) -> str:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    return text(start), text(end)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_usage_by_agent_windows(api: httpx.Client, control: httpx.Client, tz: str) -> None:
    for period in ("week", "month", "year"):
        before = emulator_now(control)
        body = ok(api.get("/v1/usage/by-agent", params={"period": period, "tz": tz}))
        after = emulator_now(control)
        assert (body["period"], body["tz"]) == (period, tz)
        expected = {_window(period, before, ZoneInfo(tz)), _window(period, after, ZoneInfo(tz))}
        assert (body["periodStart"], body["periodEnd"]) in expected
        assert parse(body["periodStart"]) <= before < parse(body["periodEnd"])
        local_start = parse(body["periodStart"]).replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
        assert (local_start.hour, local_start.minute) == (0, 0)
        if period == "week":
            assert local_start.weekday() == 0
        elif period == "month":
            assert local_start.day == 1
        else:
            assert (local_start.month, local_start.day) == (1, 1)


def test_usage_by_agent_counts(scale: httpx.Client, control: httpx.Client) -> None:
    api = scale
    busy_agent = hosted_agent(api, "Caller")
    idle = new_agent(api, "Idle")
    doomed = hosted_agent(api, "Temp")
    caller_line = buy(api, agentId=busy_agent["id"])
    doomed_line = buy(api, agentId=doomed["id"])
    loose = buy(api)

    done = wait_for_call(api, ok(api.post("/v1/calls", json={
        "agentId": busy_agent["id"], "toNumber": "+14155550123", "variables": {"name": "Ada"}}))["id"])
    assert done["status"] == "completed" and done["durationSeconds"] > 0
    busy = wait_for_call(api, ok(api.post("/v1/calls", json={
        "agentId": busy_agent["id"], "toNumber": "+15005550001"}))["id"])
    assert busy["status"] == "busy"
    no_answer = wait_for_call(api, ok(api.post("/v1/calls", json={
        "agentId": busy_agent["id"], "toNumber": "+15005550002"}))["id"])
    assert no_answer["status"] == "no-answer"
    ok(api.post("/v1/messages", json={"agent_id": busy_agent["id"], "to_number": "+14155550111", "body": "a"}))
    ok(control.post("/_emulator/sms", json={"from": "+14155550111", "to": caller_line["phoneNumber"], "body": "b"}))

    orphan_call = wait_for_call(api, ok(api.post("/v1/calls", json={
        "agentId": doomed["id"], "toNumber": "+15005550005"}))["id"])
    assert orphan_call["status"] == "completed"
    ok(api.delete(f"/v1/agents/{doomed['id']}"))
    ok(control.post("/_emulator/sms", json={"from": "+14155550122", "to": loose["phoneNumber"], "body": "c"}))
    assert doomed_line["agentId"] == doomed["id"]

    rows = ok(api.get("/v1/usage/by-agent", params={"period": "month"}))["data"]
    by_name = {r["agentName"]: r for r in rows}
    assert set(by_name) == {"Caller", "Idle", "Unassigned"}
    assert by_name["Caller"] == {"agentId": busy_agent["id"], "agentName": "Caller", "messages": 2, "calls": 1,
                                 "totalSeconds": done["durationSeconds"], "isOrphan": False}
    assert by_name["Idle"] == {"agentId": idle["id"], "agentName": "Idle", "messages": 0, "calls": 0,
                               "totalSeconds": 0, "isOrphan": False}
    assert by_name["Unassigned"] == {"agentId": None, "agentName": "Unassigned", "messages": 1, "calls": 1,
                                     "totalSeconds": orphan_call["durationSeconds"], "isOrphan": True}
    for period in ("week", "year"):
        again = {r["agentName"]: r for r in ok(api.get("/v1/usage/by-agent", params={"period": period}))["data"]}
        assert again["Caller"]["calls"] == 1 and again["Caller"]["messages"] == 2


def test_usage_by_agent_window_excludes_older_activity(own: Own) -> None:
    api, control = own.api, own.control
    agent = hosted_agent(api)
    line = buy(api, agentId=agent["id"])
    ok(control.post("/_emulator/sms", json={"from": "+14155550111", "to": line["phoneNumber"], "body": "old"}))
    assert ok(api.get("/v1/usage/by-agent", params={"period": "year"}))["data"][0]["messages"] == 1
    advance(control, 400 * 86400)
    for period in ("week", "month", "year"):
        rows = ok(api.get("/v1/usage/by-agent", params={"period": period}))["data"]
        assert rows == [{"agentId": agent["id"], "agentName": "Hosted", "messages": 0, "calls": 0,
                         "totalSeconds": 0, "isOrphan": False}]


# --- sub-accounts ----------------------------------------------------------------------------


def test_sub_accounts_crud(scale: httpx.Client, control: httpx.Client, key: str) -> None:
    api = scale
    parent_id = account(control, key)["id"]
    assert ok(api.get("/v1/sub-accounts")) == {"data": [], "total": 0, "hasMore": False}
    first = ok(api.post("/v1/sub-accounts", json={"name": "Clinic A"}))
    assert first["id"].startswith("sub_") and first["name"] == "Clinic A"
    assert (first["parentId"], first["plan"], first["balanceCents"]) == (parent_id, "scale", 5000)
    second = ok(api.post("/v1/sub-accounts", json={"name": "Clinic B"}))
    listed = ok(api.get("/v1/sub-accounts"))
    assert [s["id"] for s in listed["data"]] == [first["id"], second["id"]] and listed["total"] == 2
    page = ok(api.get("/v1/sub-accounts", params={"limit": 1, "offset": 1}))
    assert [s["id"] for s in page["data"]] == [second["id"]] and page["hasMore"] is False

    renamed = ok(api.patch(f"/v1/sub-accounts/{first['id']}", json={"name": "Clinic A (north)"}))
    assert renamed["name"] == "Clinic A (north)" and renamed["id"] == first["id"]
    refused(api.patch(f"/v1/sub-accounts/{first['id']}", json={"name": ""}), 400, "name")
    refused(api.post("/v1/sub-accounts", json={}), 400, "name")

    assert ok(api.delete(f"/v1/sub-accounts/{second['id']}")) == {"success": True, "id": second["id"]}
    refused(api.delete(f"/v1/sub-accounts/{second['id']}"), 404)
    refused(api.patch(f"/v1/sub-accounts/{second['id']}", json={"name": "x"}), 404)
    assert [s["id"] for s in ok(api.get("/v1/sub-accounts"))["data"]] == [first["id"]]


def test_sub_account_header_scopes_every_request(scale: httpx.Client, server: InProcessEmulator, key: str) -> None:
    parent = scale
    sub = ok(parent.post("/v1/sub-accounts", json={"name": "Scoped"}))
    parent_contact = ok(parent.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "Parent's"}), 201)
    parent_agent = new_agent(parent, "Parent agent")
    with client(server, key, sub["id"]) as scoped:
        sub_contact = ok(scoped.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "Sub's"}), 201)
        sub_agent = new_agent(scoped, "Sub agent")
        sub_number = buy(scoped, agentId=sub_agent["id"])
        assert [c["id"] for c in ok(scoped.get("/v1/contacts"))["data"]] == [sub_contact["id"]]
        assert [a["id"] for a in ok(scoped.get("/v1/agents"))["data"]] == [sub_agent["id"]]
        assert [n["id"] for n in ok(scoped.get("/v1/numbers"))["data"]] == [sub_number["id"]]
        refused(scoped.get(f"/v1/contacts/{parent_contact['id']}"), 404)
        refused(scoped.get(f"/v1/agents/{parent_agent['id']}"), 404)
        assert ok(scoped.get("/v1/usage"))["numbers"]["used"] == 1
        # The sub-account routes themselves always act for the key's own account.
        assert [s["id"] for s in ok(scoped.get("/v1/sub-accounts"))["data"]] == [sub["id"]]

    assert [c["id"] for c in ok(parent.get("/v1/contacts"))["data"]] == [parent_contact["id"]]
    assert [a["id"] for a in ok(parent.get("/v1/agents"))["data"]] == [parent_agent["id"]]
    assert ok(parent.get("/v1/numbers"))["data"] == []
    refused(parent.get(f"/v1/contacts/{sub_contact['id']}"), 404)
    refused(parent.get(f"/v1/numbers/{sub_number['id']}"), 404)

    other_key = new_key()
    with client(server, other_key) as other:
        theirs = ok(other.post("/v1/sub-accounts", json={"name": "Theirs"}))
        refused(other.get("/v1/contacts", headers={"X-Sub-Account-Id": sub["id"]}), 404, sub["id"])
    refused(parent.get("/v1/contacts", headers={"X-Sub-Account-Id": theirs["id"]}), 404, theirs["id"])
    refused(parent.get("/v1/contacts", headers={"X-Sub-Account-Id": "sub_doesnotexist"}), 404)
    parent_id = ok(parent.get("/v1/sub-accounts"))["data"][0]["parentId"]
    refused(parent.get("/v1/contacts", headers={"X-Sub-Account-Id": parent_id}), 404)


def test_deleting_a_sub_account_removes_its_data(scale: httpx.Client, server: InProcessEmulator, key: str) -> None:
    parent = scale
    sub = ok(parent.post("/v1/sub-accounts", json={"name": "Short-lived"}))
    with client(server, key, sub["id"]) as scoped:
        ok(scoped.post("/v1/contacts", json={"phoneNumber": "+14155550100", "name": "C"}), 201)
        agent = new_agent(scoped)
        number = buy(scoped, agentId=agent["id"])
        ok(scoped.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550111", "body": "hi"}))
        ok(scoped.post("/v1/sip-trunks", json={"name": "T"}))

    entry = ok(parent.get("/v1/numbers/lookup", params={"phoneNumbers": number["phoneNumber"]}))["data"][0]
    assert entry["lineType"] == "voip"

    def rows_of(account: str) -> dict[str, int]:
        return stored_rows(server, account)

    before = rows_of(sub["id"])
    assert before["contacts"] == 1 and before["agents"] == 1 and before["phone_numbers"] == 1
    assert before["messages"] == 1 and before["records"] == 1

    ok(parent.delete(f"/v1/sub-accounts/{sub['id']}"))
    assert set(rows_of(sub["id"]).values()) == {0}
    with client(server, key, sub["id"]) as scoped:
        refused(scoped.get("/v1/contacts"), 404, sub["id"])
    # The sub-account's number is gone: a lookup no longer sees one of the emulator's own lines.
    entry = ok(parent.get("/v1/numbers/lookup", params={"phoneNumbers": number["phoneNumber"]}))["data"][0]
    assert entry["lineType"] == line_type(number["phoneNumber"])


# --- A2P registration and verification -------------------------------------------------------


def registration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "registration_type": "sole_proprietor", "first_name": "Ada", "last_name": "Lovelace",
        "email": "ada@acme.example", "phone_number": "+14155550100", "brand_name": "Acme Dental",
        "street_address": "1 Main St", "city": "San Francisco", "state": "CA", "zip_code": "94105",
        "description": "Appointment reminders for patients of Acme Dental who opted in at the front desk.",
        "use_cases": ["account_notification", "customer_care"],
        "message_samples": ["Acme Dental: your cleaning is tomorrow at 2pm. Reply STOP to opt out.",
                            "Acme Dental: thanks for visiting! Reply HELP for help."],
        "consent_flow": "Patients tick an SMS consent box on the Acme Dental intake form before the first visit.",
        "opt_in_image_url": "https://acme.example/opt-in.png",
        "create_sub_account": False,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_registration_validation(api: httpx.Client, control: httpx.Client, key: str) -> None:
    assert ok(api.get("/v1/register/status")) == {
        "campaign_status": "none", "message": "No registration has been submitted.", "stage": None}
    refused(api.get("/v1/register"), 404, "registration")
    start = balance(control, key)

    missing = api.post("/v1/register", json=registration(email=None, zip_code=None))
    refused(missing, 400, "email", "zip_code")
    assert {tuple(e["loc"]) for e in missing.json()["errors"]} >= {("body", "email"), ("body", "zip_code")}
    refused(api.post("/v1/register", json=registration(registration_type="enterprise")), 400, "registration_type")
    refused(api.post("/v1/register", json=registration(registration_type="standard_brand")), 400, "standard_brand",
            "business_name", "organization_type", "ein", "privacy_policy_url", "terms_of_service_url")
    refused(api.post("/v1/register", json=registration(
        registration_type="standard_brand", business_name="Acme Dental LLC", organization_type="llc",
        privacy_policy_url="https://acme.example/privacy", terms_of_service_url="https://acme.example/terms")),
        400, "ein")
    refused(api.post("/v1/register", json=registration(message_samples=[
        "Acme Dental: your cleaning is tomorrow at 2pm.", "Your cleaning is tomorrow, see you there at 2pm."])),
        400, "message_samples[1]", "brand")
    refused(api.post("/v1/register", json=registration(message_samples=["Acme Dental: see you tomorrow!"])), 400,
            "message_samples")
    refused(api.post("/v1/register", json=registration(use_cases=["spam"])), 400, "use_cases")
    refused(api.post("/v1/register", json=registration(description="too short")), 400, "description")
    refused(api.post("/v1/register", json=registration(opt_in_image_url="http://acme.example/opt-in.png")), 400,
            "opt_in_image_url")
    refused(api.post("/v1/register", json=registration(phone_number="555-0100")), 400, "phone_number")
    # A blank brand name is no brand name: the contact's name must then appear in the samples.
    refused(api.post("/v1/register", json=registration(brand_name="   ")), 400, "message_samples[0]", "ada lovelace")
    refused(api.post("/v1/register", json=registration(brand_name=" ", first_name=" ", last_name=" ")), 400, "brand")

    assert balance(control, key) == start
    assert ok(api.get("/v1/register/status"))["campaign_status"] == "none"


def test_registration_charges_the_fee_and_is_pending(api: httpx.Client, control: httpx.Client, key: str) -> None:
    start = account(control, key)["balanceCents"]
    assert start == 5000
    submitted = ok(api.post("/v1/register", json=registration()))
    assert submitted == {"ok": True, "message": "Registration submitted for review.", "campaign_status": "pending",
                         "sub_account_id": None, "fee_cents": 2500}
    assert balance(control, key) == start - 2500
    status = ok(api.get("/v1/register/status"))
    assert status["campaign_status"] == "pending" and status["stage"] == "brand_review" and status["message"]
    detail = ok(api.get("/v1/register"))
    assert detail["campaign_status"] == "pending" and detail["id"].startswith("reg_")
    assert detail["registration"]["brand_name"] == "Acme Dental" and detail["submittedAt"]

    refused(api.post("/v1/register", json=registration()), 409, "pending")
    assert balance(control, key) == start - 2500

    updated = ok(api.patch("/v1/register", json={"website_url": "https://acme.example"}))
    assert updated["registration"]["website_url"] == "https://acme.example"
    assert updated["campaign_status"] == "pending"
    refused(api.patch("/v1/register", json={"description": "short"}), 400, "description")
    refused(api.patch("/v1/register", json={"message_samples": ["Nothing about us at all here, sorry.",
                                                                "Still nothing about the brand name."]}),
            400, "message_samples[0]")
    assert ok(api.get("/v1/register"))["registration"]["description"] == registration()["description"]


def test_registration_into_a_sub_account(api: httpx.Client, control: httpx.Client, key: str,
                                         server: InProcessEmulator) -> None:
    start = account(control, key)["balanceCents"]
    submitted = ok(api.post("/v1/register", json=registration(create_sub_account=True)))
    sub_id = submitted["sub_account_id"]
    assert sub_id and sub_id.startswith("sub_")
    assert (submitted["campaign_status"], submitted["fee_cents"]) == ("pending", 2500)
    assert balance(control, key) == start - 2500  # the parent pays

    assert ok(api.get("/v1/register/status"))["campaign_status"] == "none"
    with client(server, key, sub_id) as scoped:
        assert ok(scoped.get("/v1/register/status"))["campaign_status"] == "pending"
        assert ok(scoped.get("/v1/register"))["registration"]["brand_name"] == "Acme Dental"
    subs = ok(api.get("/v1/sub-accounts"))["data"]
    assert [(s["id"], s["name"]) for s in subs] == [(sub_id, "Acme Dental")]

    # Each registration into a new sub-account is its own campaign.
    second = ok(api.post("/v1/register", json=registration(create_sub_account=True, brand_name="Acme Ortho",
                                                           message_samples=["Acme Ortho: braces check at 3pm.",
                                                                            "Acme Ortho: reply STOP to stop."])))
    assert second["sub_account_id"] not in (None, sub_id)
    assert balance(control, key) == start - 5000


def test_registration_needs_the_fee_in_the_balance(api: httpx.Client, control: httpx.Client, key: str) -> None:
    ok(control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": 2499}))
    refused(api.post("/v1/register", json=registration()), 402, "$25.00", "$24.99")
    refused(api.post("/v1/register", json=registration(create_sub_account=True)), 402, "$25.00")
    assert balance(control, key) == 2499
    assert ok(api.get("/v1/sub-accounts"))["data"] == []  # nothing half-made
    assert ok(api.get("/v1/register/status"))["campaign_status"] == "none"
    ok(control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": 2500}))
    assert ok(api.post("/v1/register", json=registration()))["campaign_status"] == "pending"
    assert balance(control, key) == 0


def test_registration_is_approved_after_seven_days(own: Own) -> None:
    api, control = own.api, own.control
    ok(api.post("/v1/register", json=registration()))
    assert ok(api.get("/v1/register/status"))["stage"] == "brand_review"
    advance(control, 4 * 86400)
    status = ok(api.get("/v1/register/status"))
    assert (status["campaign_status"], status["stage"]) == ("pending", "campaign_review")
    advance(control, 3 * 86400 - 60)
    assert ok(api.get("/v1/register/status"))["campaign_status"] == "pending"
    advance(control, 61)
    approved = ok(api.get("/v1/register/status"))
    assert (approved["campaign_status"], approved["stage"]) == ("approved", "approved")
    assert ok(api.get("/v1/register"))["campaign_status"] == "approved"
    refused(api.patch("/v1/register", json={"website_url": "https://acme.example"}), 400, "pending")
    refused(api.post("/v1/register", json=registration()), 409, "approved")


def _code(control: httpx.Client, verification_id: str) -> str:
    stored = ok(control.get(f"/_emulator/verifications/{verification_id}"))
    assert stored["id"] == verification_id and len(stored["code"]) == 6 and stored["code"].isdigit()
    return str(stored["code"])


def test_verification_codes(api: httpx.Client, control: httpx.Client, server: InProcessEmulator) -> None:
    before = emulator_now(control)
    sent = ok(api.post("/v1/verify/send", json={"phone_number": "(415) 555-0100"}))
    after = emulator_now(control)
    assert sent["verification_id"].startswith("ver_")
    assert (sent["status"], sent["phone_number"], sent["channel"]) == ("pending", "+14155550100", "sms")
    ten_minutes = timedelta(minutes=10)
    assert before + ten_minutes - timedelta(seconds=1) <= parse(sent["expires_at"]) <= after + ten_minutes
    code = _code(control, sent["verification_id"])
    wrong = "000000" if code != "000000" else "111111"

    miss = ok(api.post("/v1/verify/check", json={"verification_id": sent["verification_id"], "code": wrong}))
    assert (miss["status"], miss["valid"], miss["attempts"]) == ("pending", False, 1)
    hit = ok(api.post("/v1/verify/check", json={"verification_id": sent["verification_id"], "code": code}))
    assert (hit["status"], hit["valid"], hit["attempts"], hit["phone_number"]) == ("approved", True, 2,
                                                                                 "+14155550100")
    assert ok(api.post("/v1/verify/check", json={"verification_id": sent["verification_id"],
                                                 "code": wrong}))["status"] == "approved"

    other = ok(api.post("/v1/verify/send", json={"phone_number": "+14155550101"}))
    other_code = _code(control, other["verification_id"])
    other_wrong = "000000" if other_code != "000000" else "111111"
    statuses = [ok(api.post("/v1/verify/check", json={"verification_id": other["verification_id"],
                                                      "code": other_wrong}))["status"] for _ in range(5)]
    assert statuses == ["pending"] * 4 + ["failed"]
    late = ok(api.post("/v1/verify/check", json={"verification_id": other["verification_id"], "code": other_code}))
    assert (late["status"], late["valid"], late["attempts"]) == ("failed", False, 5)

    refused(api.post("/v1/verify/send", json={"phone_number": "call me"}), 400, "phone_number")
    refused(api.post("/v1/verify/send", json={}), 400, "phone_number")
    refused(api.post("/v1/verify/check", json={"verification_id": "ver_doesnotexist", "code": "123456"}), 404)
    refused(api.post("/v1/verify/check", json={"verification_id": other["verification_id"]}), 400, "code")
    refused(control.get("/_emulator/verifications/ver_doesnotexist"), 404)
    with client(server, new_key()) as stranger:
        refused(stranger.post("/v1/verify/check", json={"verification_id": sent["verification_id"],
                                                         "code": code}), 404)


def test_verification_code_expires_after_ten_minutes(own: Own) -> None:
    api, control = own.api, own.control
    fresh = ok(api.post("/v1/verify/send", json={"phone_number": "+14155550100"}))
    stale = ok(api.post("/v1/verify/send", json={"phone_number": "+14155550101"}))
    advance(control, 9 * 60)
    good = ok(api.post("/v1/verify/check", json={"verification_id": fresh["verification_id"],
                                                 "code": _code(control, fresh["verification_id"])}))
    assert good["status"] == "approved"
    advance(control, 61)
    expired = ok(api.post("/v1/verify/check", json={"verification_id": stale["verification_id"],
                                                    "code": _code(control, stale["verification_id"])}))
    assert (expired["status"], expired["valid"], expired["attempts"]) == ("expired", False, 0)
    assert ok(control.get(f"/_emulator/verifications/{stale['verification_id']}"))["status"] == "expired"


# --- SIP trunks, location, feedback ----------------------------------------------------------


def test_sip_trunks_crud_and_credentials(api: httpx.Client, server: InProcessEmulator) -> None:
    assert ok(api.get("/v1/sip-trunks")) == {"data": [], "total": 0}
    created = ok(api.post("/v1/sip-trunks", json={"name": "Office PBX"}))
    trunk_id = created["id"]
    assert trunk_id.startswith("trunk_") and created["name"] == "Office PBX"
    assert (created["transfers"], created["transferCallerId"], created["encrypted"]) == ("all", "transferee", True)
    assert (created["transport"], created["mediaEncryption"]) == ("tls", "srtp")
    assert created["terminationSipUri"] and created["proxyIps"]
    [credential] = created["credentials"]
    password = credential["password"]
    assert len(password) >= 16 and credential["passwordLast4"] == password[-4:] and credential["username"]

    shown = ok(api.get(f"/v1/sip-trunks/{trunk_id}"))
    assert "password" not in shown["credentials"][0]
    assert shown["credentials"][0]["passwordLast4"] == password[-4:]
    assert {k: v for k, v in shown.items() if k != "credentials"} == \
        {k: v for k, v in created.items() if k != "credentials"}
    listed = ok(api.get("/v1/sip-trunks"))
    assert listed["total"] == 1 and "password" not in listed["data"][0]["credentials"][0]
    unnamed = ok(api.post("/v1/sip-trunks"))
    assert unnamed["name"] == "SIP trunk" and unnamed["credentials"][0]["password"] != password
    # Create takes the same settings, with the same rules, as PATCH.
    refused(api.post("/v1/sip-trunks", json={"name": 123}), 400, "name")
    refused(api.post("/v1/sip-trunks", json={"name": "x" * 201}), 400, "name")
    refused(api.post("/v1/sip-trunks", json={"name": "A", "transfers": "everything"}), 400, "transfers")
    refused(api.post("/v1/sip-trunks", json=["Office PBX"]), 400, "JSON object")
    assert ok(api.get("/v1/sip-trunks"))["total"] == 2
    configured = ok(api.post("/v1/sip-trunks", json={"name": "Branch", "transfers": "none",
                                                     "transfer_caller_id": "transferor"}))
    assert (configured["transfers"], configured["transferCallerId"]) == ("none", "transferor")
    ok(api.delete(f"/v1/sip-trunks/{configured['id']}"))

    changed = ok(api.patch(f"/v1/sip-trunks/{trunk_id}", json={
        "name": "HQ PBX", "transfers": "sip", "transfer_caller_id": "transferor",
        "origination": {"uris": [{"sip_uri": "sip:pbx.acme.example", "priority": 1}],
                        "allowedIps": [{"cidr": "198.51.100.0/24"}]}}))
    assert (changed["name"], changed["transfers"], changed["transferCallerId"]) == ("HQ PBX", "sip", "transferor")
    assert changed["originationUris"] == [{"sip_uri": "sip:pbx.acme.example", "priority": 1}]
    assert changed["allowedIps"] == [{"cidr": "198.51.100.0/24"}]
    assert "password" not in changed["credentials"][0]
    assert changed["credentials"][0]["passwordLast4"] == password[-4:]

    rotated = ok(api.patch(f"/v1/sip-trunks/{trunk_id}", json={}))
    new_password = rotated["credentials"][0]["password"]
    assert new_password != password and rotated["credentials"][0]["passwordLast4"] == new_password[-4:]
    assert rotated["name"] == "HQ PBX"
    after = ok(api.get(f"/v1/sip-trunks/{trunk_id}"))
    assert after["credentials"][0]["passwordLast4"] == new_password[-4:] and "password" not in after["credentials"][0]

    refused(api.patch(f"/v1/sip-trunks/{trunk_id}", json={"transfers": "everything"}), 400, "transfers")
    refused(api.patch(f"/v1/sip-trunks/{trunk_id}", json={"transfer_caller_id": "me"}), 400, "transfer_caller_id")
    with client(server, new_key()) as stranger:
        refused(stranger.get(f"/v1/sip-trunks/{trunk_id}"), 404)
        refused(stranger.delete(f"/v1/sip-trunks/{trunk_id}"), 404)

    assert ok(api.delete(f"/v1/sip-trunks/{trunk_id}")) == {"success": True, "id": trunk_id}
    refused(api.get(f"/v1/sip-trunks/{trunk_id}"), 404, trunk_id)
    refused(api.patch(f"/v1/sip-trunks/{trunk_id}", json={}), 404)
    assert [t["id"] for t in ok(api.get("/v1/sip-trunks"))["data"]] == [unnamed["id"]]


def test_location(api: httpx.Client, control: httpx.Client) -> None:
    now = emulator_now(control).replace(tzinfo=UTC).timestamp()
    known = ok(api.get("/v1/location/+14155550100"))
    assert (known["phoneNumber"], known["status"]) == ("+14155550100", "ok")
    assert (known["latitude"], known["longitude"]) == (37.7749, -122.4194)
    assert known["city"] == "San Francisco" and known["region"] == "CA"
    assert isinstance(known["lastUpdated"], int) and abs(known["lastUpdated"] - now) < 5
    assert ok(api.get("/v1/location/%2B14155550100")) | {"lastUpdated": 0} == known | {"lastUpdated": 0}
    toronto = ok(api.get("/v1/location/4165550100"))
    assert toronto["phoneNumber"] == "+14165550100" and toronto["city"] == "Toronto"

    unknown = ok(api.get("/v1/location/+12015550100"))
    assert (unknown["status"], unknown["latitude"], unknown["longitude"]) == ("unknown", None, None)
    assert isinstance(unknown["lastUpdated"], int)
    refused(api.get("/v1/location/not-a-number"), 400, "phone_number")
    refused(api.get("/v1/location/123"), 400, "phone_number")
    assert ok(api.post("/v1/location/refresh")) == {"success": True, "pollAfterSeconds": 20}


def test_feedback_is_stored_and_readable(api: httpx.Client, control: httpx.Client, key: str) -> None:
    account_id = account(control, key)["id"]
    sent = ok(api.post("/v1/feedback", json={"category": "bug", "note": "Transcripts lag by a turn.",
                                             "request_id": "req_123", "url": "https://app.example/calls",
                                             "tags": ["voice", "latency"]}))
    assert sent["success"] is True and sent["id"].startswith("fb_") and sent["receivedAt"]
    minimal = ok(api.post("/v1/feedback", json={"category": "idea", "note": "Dark mode"}))
    refused(api.post("/v1/feedback", json={"category": "bug"}), 400, "note")
    refused(api.post("/v1/feedback", json={"note": "x"}), 400, "category")

    mine = [f for f in ok(control.get("/_emulator/feedback"))["data"] if f["accountId"] == account_id]
    assert [f["id"] for f in mine] == [sent["id"], minimal["id"]]
    assert mine[0] == {"id": sent["id"], "accountId": account_id, "category": "bug",
                       "note": "Transcripts lag by a turn.", "request_id": "req_123",
                       "url": "https://app.example/calls", "tags": ["voice", "latency"],
                       "receivedAt": sent["receivedAt"]}
    assert (mine[1]["category"], mine[1]["note"], mine[1]["tags"]) == ("idea", "Dark mode", None)


# --- web calls -------------------------------------------------------------------------------


def test_web_call_is_registered_with_a_short_lived_token(api: httpx.Client) -> None:
    agent = hosted_agent(api)
    web = ok(api.post("/v1/calls/web", json={"agentId": agent["id"], "metadata": {"user": "u1"},
                                             "variables": {"name": "Ada"}}))
    assert web["id"].startswith("call_") and web["callId"] == web["id"]
    assert web["accessToken"].startswith("webtok_") and len(web["accessToken"]) > 20
    assert (web["status"], web["type"], web["direction"]) == ("registered", "web", "web")
    assert (parse(web["expiresAt"]) - parse(web["startedAt"])).total_seconds() == 30
    assert web["metadata"] == {"user": "u1"} and web["variables"] == {"name": "Ada"}
    assert (web["agentId"], web["agentName"]) == (agent["id"], "Hosted")
    shown = ok(api.get(f"/v1/calls/{web['id']}"))
    assert shown["status"] == "registered" and "accessToken" not in shown
    refused(api.post(f"/v1/calls/{web['id']}/end"), 400, "not started", "registered")

    webhook_agent = new_agent(api, "Webhook agent")
    refused(api.post("/v1/calls/web", json={"agentId": webhook_agent["id"], "variables": {"name": "Ada"}}), 400,
            "variables", "hosted")
    plain = ok(api.post("/v1/calls/web", json={"agentId": webhook_agent["id"]}))
    assert plain["accessToken"] != web["accessToken"] and plain["variables"] is None
    refused(api.post("/v1/calls/web", json={"agentId": "agent_doesnotexist"}), 404)
    refused(api.post("/v1/calls/web", json={}), 400, "agentId")


def test_joining_a_web_call_runs_it(api: httpx.Client, control: httpx.Client) -> None:
    agent = hosted_agent(api)
    web = ok(api.post("/v1/calls/web", json={"agentId": agent["id"], "variables": {"name": "Ada"}}))
    join = f"/_emulator/calls/web/{web['id']}/join"
    turns = [{"say": "Do you open on Sundays?"}, {"say": "Okay, goodbye."}]
    refused(control.post(join, json={"accessToken": "webtok_wrong", "turns": turns}), 401, "token")
    refused(control.post("/_emulator/calls/web/call_doesnotexist/join", json={"accessToken": web["accessToken"]}),
            404)

    joined = ok(control.post(join, json={"accessToken": web["accessToken"], "turns": turns}))
    assert joined["id"] == web["id"] and joined["status"] == "in-progress"
    refused(control.post(join, json={"accessToken": web["accessToken"], "turns": turns}), 409, "already joined")

    done = wait_for_call(api, web["id"])
    assert (done["status"], done["endReason"]) == ("completed", "agent-hangup")
    said = [t["transcript"] for t in done["transcripts"]]
    assert said[1:] == ["Do you open on Sundays?", "Okay, goodbye."]
    assert done["transcripts"][0]["response"] == "Hi Ada!"
    assert done["transcripts"][-1]["response"] == "Thanks for calling. Goodbye!"
    assert done["durationSeconds"] > 0
    refused(control.post(join, json={"accessToken": web["accessToken"]}), 409)


def test_web_call_token_expires_after_thirty_seconds(own: Own) -> None:
    api, control = own.api, own.control
    agent = hosted_agent(api)
    early = ok(api.post("/v1/calls/web", json={"agentId": agent["id"]}))
    late = ok(api.post("/v1/calls/web", json={"agentId": agent["id"]}))
    advance(control, 29)
    ok(control.post(f"/_emulator/calls/web/{early['id']}/join", json={"accessToken": early["accessToken"],
                                                                       "turns": [{"say": "bye"}]}))
    advance(control, 2)
    refused(control.post(f"/_emulator/calls/web/{late['id']}/join", json={"accessToken": late["accessToken"]}), 410,
            "expired")
    assert ok(api.get(f"/v1/calls/{late['id']}"))["status"] == "registered"
    assert wait_for_call(api, early["id"])["status"] == "completed"
