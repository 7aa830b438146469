"""Contact search treats wildcards literally and finds numbers however they are written."""

from __future__ import annotations

import httpx


def test_search_is_literal_and_matches_formatted_numbers(api: httpx.Client) -> None:
    for number, name in (("+14155550100", "Ada 100%"), ("+14155550111", "Bob_B"), ("+12125550122", "Cy")):
        assert api.post("/v1/contacts", json={"phoneNumber": number, "name": name}).status_code == 201

    def names(search: str) -> list[str]:
        return sorted(c["name"] for c in api.get("/v1/contacts", params={"search": search}).json()["data"])

    assert names("%") == ["Ada 100%"]
    assert names("_") == ["Bob_B"]
    assert names("(415) 555-0100") == ["Ada 100%"]
    assert names("555") == ["Ada 100%", "Bob_B", "Cy"]
    assert names("cy") == ["Cy"]


def test_deleting_an_agent_clears_it_from_its_messages(api: httpx.Client, control: httpx.Client, key: str) -> None:
    agent = api.post("/v1/agents", json={"name": "Texter"}).json()
    number = api.post("/v1/numbers", json={"agentId": agent["id"]}).json()
    control.post("/_emulator/sms", json={"from": "+14155550177", "to": number["phoneNumber"], "body": "hi"})
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 200

    rows = api.get("/v1/usage/by-agent", params={"period": "month"}).json()["data"]
    assert [(r["agentId"], r["agentName"], r["messages"], r["isOrphan"]) for r in rows] == [
        (None, "Unassigned", 1, True)
    ]
