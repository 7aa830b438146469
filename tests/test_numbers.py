"""/v1/numbers: buying, listing, releasing, and a number's messages and calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from helpers import E164_NANP, ISO_MS, emulator_now, fresh_number, iso, seed_account, tag, upgrade

from emulator.testing import InProcessEmulator, new_key

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server


def buy(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    resp = api.post("/v1/numbers", json=fields)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_buy_with_defaults(api: httpx.Client) -> None:
    resp = api.post("/v1/numbers")
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"].startswith("pn_") and len(body["id"]) > len("pn_")
    assert body["country"] == "US"
    assert body["status"] == "active"
    assert body["agentId"] is None
    assert body["type"] == "sms"
    assert E164_NANP.match(body["phoneNumber"]), body["phoneNumber"]
    assert len(body["phoneNumber"]) == 12
    assert ISO_MS.match(body["createdAt"])
    assert api.get(f"/v1/numbers/{body['id']}").json() == body


def test_buy_honours_the_area_code(api: httpx.Client) -> None:
    body = buy(api, country="US", areaCode="415")
    assert body["phoneNumber"].startswith("+1415")
    assert E164_NANP.match(body["phoneNumber"])


def test_buy_in_canada(api: httpx.Client) -> None:
    body = buy(api, country="CA", areaCode="416")
    assert body["country"] == "CA"
    assert body["phoneNumber"].startswith("+1416")
    assert E164_NANP.match(body["phoneNumber"])


@pytest.mark.parametrize(("payload", "status"), [
    ({"country": "GB"}, 400), ({"areaCode": "41"}, 400), ({"areaCode": "abc"}, 400),
    ({"country": "CA", "areaCode": "415"}, 400), ({"country": "US", "areaCode": "416"}, 400),
])
def test_buy_rejects_bad_country_or_area_code(api: httpx.Client, payload: dict[str, Any], status: int) -> None:
    resp = api.post("/v1/numbers", json=payload)
    assert resp.status_code == status
    assert resp.json()["detail"]
    assert api.get("/v1/numbers").json()["total"] == 0


def test_buy_with_agent_id_attaches_at_purchase(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Owner"}).json()
    number = buy(api, agentId=agent["id"])
    assert number["agentId"] == agent["id"]
    shown = api.get(f"/v1/agents/{agent['id']}").json()
    expected = [{"id": number["id"], "phoneNumber": number["phoneNumber"], "status": "active", "type": "sms"}]
    assert shown["numbers"] == expected
    assert shown["phoneNumbers"] == expected


def test_buy_for_unknown_agent_is_404_and_buys_nothing(api: httpx.Client, control: httpx.Client, key: str) -> None:
    resp = api.post("/v1/numbers", json={"agentId": "agent_nope"})
    assert resp.status_code == 404
    assert "agent_nope" in resp.json()["detail"]
    assert api.get("/v1/numbers").json() == {"data": [], "total": 0, "hasMore": False}
    account = control.get(f"/_emulator/accounts/{key}").json()
    assert account["numbersBought"] == 0
    # The free plan's single number is still available.
    assert buy(api)["status"] == "active"


def test_list_shows_active_numbers_newest_first(api: httpx.Client, control: httpx.Client, key: str) -> None:
    upgrade(control, key)
    numbers = [buy(api) for _ in range(3)]
    assert api.delete(f"/v1/numbers/{numbers[1]['id']}").status_code == 200
    body = api.get("/v1/numbers").json()
    assert [n["id"] for n in body["data"]] == [numbers[2]["id"], numbers[0]["id"]]
    assert body["total"] == 2 and body["hasMore"] is False
    assert all(n["status"] == "active" for n in body["data"])
    first = api.get("/v1/numbers", params={"limit": 1}).json()
    assert [n["id"] for n in first["data"]] == [numbers[2]["id"]]
    assert first["hasMore"] is True and first["total"] == 2


def test_release_then_get_shows_released(api: httpx.Client) -> None:
    number = buy(api)
    resp = api.delete(f"/v1/numbers/{number['id']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True
    assert body["id"] == number["id"]
    assert body["status"] == "released"
    got = api.get(f"/v1/numbers/{number['id']}")
    assert got.status_code == 200
    assert got.json()["status"] == "released"
    assert got.json()["phoneNumber"] == number["phoneNumber"]
    assert ISO_MS.match(got.json()["releasedAt"])

    again = api.delete(f"/v1/numbers/{number['id']}")
    assert again.status_code == 400
    assert again.json()["detail"]
    assert api.get("/v1/numbers").json()["total"] == 0


def test_release_detaches_from_its_agent(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Owner"}).json()
    number = buy(api, agentId=agent["id"])
    assert api.delete(f"/v1/numbers/{number['id']}").status_code == 200
    assert api.get(f"/v1/agents/{agent['id']}").json()["numbers"] == []
    assert api.get(f"/v1/numbers/{number['id']}").json()["agentId"] is None


def test_unknown_number_is_404(api: httpx.Client) -> None:
    for method, path in (("GET", "/v1/numbers/pn_nope"), ("DELETE", "/v1/numbers/pn_nope"),
                         ("GET", "/v1/numbers/pn_nope/messages"), ("GET", "/v1/numbers/pn_nope/calls")):
        resp = api.request(method, path)
        assert resp.status_code == 404, path
        assert "pn_nope" in resp.json()["detail"]


def test_another_accounts_number_is_404(api: httpx.Client, server: InProcessEmulator) -> None:
    with server.client(new_key()) as other:
        theirs = other.post("/v1/numbers").json()
    assert api.get(f"/v1/numbers/{theirs['id']}").status_code == 404
    assert api.delete(f"/v1/numbers/{theirs['id']}").status_code == 404


def test_generated_numbers_are_unique_e164(api: httpx.Client, control: httpx.Client, key: str) -> None:
    upgrade(control, key)
    bought = [buy(api)["phoneNumber"] for _ in range(30)]
    assert len(set(bought)) == 30
    for phone in bought:
        assert E164_NANP.match(phone), phone
    same_area = [buy(api, areaCode="212")["phoneNumber"] for _ in range(10)]
    assert len(set(same_area)) == 10
    assert all(p.startswith("+1212") for p in same_area)
    listed = api.get("/v1/numbers", params={"limit": 100}).json()
    assert listed["total"] == 40
    assert {n["phoneNumber"] for n in listed["data"]} == set(bought) | set(same_area)


# --- a number's messages and calls -------------------------------------------------------


@pytest.fixture
def seeded(control: httpx.Client, key: str) -> dict[str, Any]:
    """One number with 5 messages a minute apart (m0 oldest) and a second number with one message.
    `seeded["load"](messages=[...], calls=[...])` loads it again with more rows."""
    t = tag()
    number = {"id": f"pn_{t}_a", "phoneNumber": fresh_number()}
    other = {"id": f"pn_{t}_b", "phoneNumber": fresh_number()}
    base = emulator_now(control).replace(microsecond=0) - timedelta(hours=1)
    times = [base + timedelta(minutes=i) for i in range(5)]
    ids = [f"msg_{t}_{i}" for i in range(5)]
    conv = f"conv_{t}"
    messages = [{"id": ids[i], "direction": "inbound" if i % 2 == 0 else "outbound", "body": f"m{i}",
                 "at": iso(times[i])} for i in range(5)]

    def load(more: list[dict[str, Any]] | None = None, calls: list[dict[str, Any]] | None = None) -> None:
        seed_account(control, key, numbers=[number, other], calls=calls or [], conversations=[
            {"id": conv, "numberId": number["id"], "participant": "+14155550111", "messages": messages + (more or [])},
            {"numberId": other["id"], "participant": "+14155550111",
             "messages": [{"direction": "inbound", "body": "elsewhere", "at": iso(base)}]},
        ])

    load()
    return {"number": number, "other": other, "ids": ids, "times": times, "conv": conv, "load": load}


def test_messages_newest_first_with_total(api: httpx.Client, seeded: dict[str, Any]) -> None:
    number = seeded["number"]
    resp = api.get(f"/v1/numbers/{number['id']}/messages")
    assert resp.status_code == 200
    body = resp.json()
    assert [m["id"] for m in body["data"]] == list(reversed(seeded["ids"]))
    assert [m["body"] for m in body["data"]] == ["m4", "m3", "m2", "m1", "m0"]
    assert body["total"] == 5 and body["hasMore"] is False
    newest = body["data"][0]
    assert newest["from"] == "+14155550111" and newest["from_"] == "+14155550111"
    assert newest["fromNumber"] == "+14155550111"
    assert newest["to"] == number["phoneNumber"] and newest["toNumber"] == number["phoneNumber"]
    assert newest["direction"] == "inbound" and newest["status"] == "received" and newest["channel"] == "sms"
    assert newest["conversationId"] == seeded["conv"]
    assert newest["receivedAt"] == iso(seeded["times"][4])
    assert body["data"][1]["direction"] == "outbound" and body["data"][1]["from"] == number["phoneNumber"]


def test_messages_limit(api: httpx.Client, seeded: dict[str, Any]) -> None:
    path = f"/v1/numbers/{seeded['number']['id']}/messages"
    body = api.get(path, params={"limit": 2}).json()
    assert [m["body"] for m in body["data"]] == ["m4", "m3"]
    assert body["hasMore"] is True and body["total"] == 5
    for limit in (1, 200):
        assert api.get(path, params={"limit": limit}).status_code == 200
    for limit in (0, 201, -1):
        resp = api.get(path, params={"limit": limit})
        assert resp.status_code == 400, limit
        assert "limit" in resp.json()["detail"]


def test_messages_before_and_after_cursors(api: httpx.Client, seeded: dict[str, Any]) -> None:
    path = f"/v1/numbers/{seeded['number']['id']}/messages"
    times: list[datetime] = seeded["times"]

    before = api.get(path, params={"before": iso(times[3])}).json()
    assert [m["body"] for m in before["data"]] == ["m2", "m1", "m0"]
    assert before["total"] == 3 and before["hasMore"] is False

    paged = api.get(path, params={"before": iso(times[3]), "limit": 2}).json()
    assert [m["body"] for m in paged["data"]] == ["m2", "m1"]
    assert paged["hasMore"] is True

    after = api.get(path, params={"after": iso(times[1])}).json()
    assert [m["body"] for m in after["data"]] == ["m4", "m3", "m2"]
    assert after["hasMore"] is False

    window = api.get(path, params={"after": iso(times[0]), "before": iso(times[4])}).json()
    assert [m["body"] for m in window["data"]] == ["m3", "m2", "m1"]

    bad = api.get(path, params={"before": "yesterday"})
    assert bad.status_code == 400


def test_messages_are_per_number(api: httpx.Client, seeded: dict[str, Any]) -> None:
    body = api.get(f"/v1/numbers/{seeded['other']['id']}/messages").json()
    assert [m["body"] for m in body["data"]] == ["elsewhere"]
    assert body["total"] == 1


def test_messages_of_a_fresh_number_are_empty(api: httpx.Client) -> None:
    number = buy(api)
    body = api.get(f"/v1/numbers/{number['id']}/messages").json()
    assert body == {"data": [], "hasMore": False, "total": 0}


def test_number_calls(api: httpx.Client, control: httpx.Client, seeded: dict[str, Any]) -> None:
    number, other = seeded["number"], seeded["other"]
    now = emulator_now(control)
    older, newer = f"call_{tag()}", f"call_{tag()}"
    seeded["load"](calls=[
        {"id": older, "numberId": number["id"], "direction": "inbound", "from": "+14155550100",
         "startedAt": iso(now - timedelta(minutes=10)), "durationSeconds": 42},
        {"id": newer, "numberId": number["id"], "direction": "outbound", "to": "+14155550177", "startedAt": iso(now),
         "durationSeconds": 42},
        {"numberId": other["id"], "direction": "inbound", "from": "+14155550100", "startedAt": iso(now)},
    ])

    resp = api.get(f"/v1/numbers/{number['id']}/calls")
    assert resp.status_code == 200
    body = resp.json()
    assert [c["id"] for c in body["data"]] == [newer, older]
    assert body["total"] == 2 and body["hasMore"] is False
    assert body["data"][0]["direction"] == "outbound"
    assert body["data"][0]["phoneNumberId"] == number["id"]
    assert body["data"][0]["toNumber"] == "+14155550177"

    paged = api.get(f"/v1/numbers/{number['id']}/calls", params={"limit": 1, "offset": 1}).json()
    assert [c["id"] for c in paged["data"]] == [older]
    assert paged["hasMore"] is False and paged["total"] == 2


def test_fresh_number_has_no_calls(api: httpx.Client) -> None:
    number = buy(api)
    assert api.get(f"/v1/numbers/{number['id']}/calls").json() == {"data": [], "total": 0, "hasMore": False}


def test_cursors_work_at_the_millisecond_resolution_the_api_shows(api: httpx.Client, control: httpx.Client,
                                                                  seeded: dict[str, Any]) -> None:
    """Stored times carry microseconds; a receivedAt sent back as a cursor still excludes its own message."""
    number = seeded["number"]
    at = emulator_now(control).replace(microsecond=456789)
    seeded["load"]([{"direction": "inbound", "body": "precise", "at": at.isoformat() + "Z"}])
    path = f"/v1/numbers/{number['id']}/messages"
    newest = api.get(path, params={"limit": 1}).json()["data"][0]
    assert newest["body"] == "precise"
    assert newest["receivedAt"] == iso(at)

    after = api.get(path, params={"after": newest["receivedAt"]}).json()
    assert after == {"data": [], "hasMore": False, "total": 0}
    before = api.get(path, params={"before": newest["receivedAt"]}).json()
    assert [m["body"] for m in before["data"]] == ["m4", "m3", "m2", "m1", "m0"]
