"""Plan limits, number prices and balance, usage's plan section, and the limit under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from emulator.plans import PLANS, Plan

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

FREE, PRO, SCALE = PLANS["free"], PLANS["pro"], PLANS["scale"]


def account(control: httpx.Client, key: str) -> dict[str, Any]:
    response = control.get(f"/_emulator/accounts/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def set_account(control: httpx.Client, key: str, **changes: Any) -> dict[str, Any]:
    response = control.patch(f"/_emulator/accounts/{key}", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def buy(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/v1/numbers", json=body)


def numbers_total(api: httpx.Client) -> int:
    return api.get("/v1/numbers").json()["total"]


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


# --- the free plan --------------------------------------------------------------------------


def test_new_accounts_are_on_the_free_plan_with_one_number(api: httpx.Client, control: httpx.Client,
                                                          key: str) -> None:
    usage = api.get("/v1/usage").json()
    assert usage["plan"]["name"] == "free"
    assert usage["plan"]["numberLimit"] == 1
    assert usage["plan"]["limits"]["numbers"] == 1
    assert usage["numbers"] == {"used": 0, "limit": 1, "remaining": 1}
    assert account(control, key)["plan"] == "free"


def test_second_number_on_free_plan_is_403_naming_limit_and_plan(api: httpx.Client, control: httpx.Client,
                                                                 key: str) -> None:
    first = buy(api)
    assert first.status_code == 200, first.text
    refused = buy(api, areaCode="212")
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert "free" in detail and "1" in detail and "limit" in detail.lower()
    listed = api.get("/v1/numbers").json()
    assert listed["total"] == 1 and [n["id"] for n in listed["data"]] == [first.json()["id"]]
    assert account(control, key)["numbersBought"] == 1
    assert api.get("/v1/usage").json()["numbers"] == {"used": 1, "limit": 1, "remaining": 0}


def test_free_plan_limit_is_lifetime(api: httpx.Client, control: httpx.Client, key: str) -> None:
    number = buy(api).json()
    assert api.delete(f"/v1/numbers/{number['id']}").status_code == 200
    assert numbers_total(api) == 0
    refused = buy(api)
    assert refused.status_code == 403
    assert "free" in refused.json()["detail"]
    assert numbers_total(api) == 0
    assert account(control, key)["numbersBought"] == 1
    assert api.get("/v1/usage").json()["numbers"] == {"used": 1, "limit": 1, "remaining": 0}


def test_free_numbers_cost_nothing(api: httpx.Client, control: httpx.Client, key: str) -> None:
    set_account(control, key, balanceCents=0)
    assert buy(api).status_code == 200
    assert account(control, key)["balanceCents"] == 0


def test_a_refused_purchase_does_not_use_the_slot(api: httpx.Client, control: httpx.Client, key: str) -> None:
    assert buy(api, areaCode="911").status_code == 400
    assert buy(api, agentId="agent_missing").status_code == 404
    assert buy(api, country="MX").status_code == 400
    assert account(control, key)["numbersBought"] == 0
    assert buy(api).status_code == 200


# --- pro: a concurrent limit, priced numbers --------------------------------------------------


def test_pro_plan_limit_and_release_frees_a_slot(api: httpx.Client, control: httpx.Client, key: str) -> None:
    set_account(control, key, plan="pro", balanceCents=PRO.number_price_cents * (PRO.number_limit + 1))
    bought = []
    for _ in range(PRO.number_limit):
        response = buy(api)
        assert response.status_code == 200, response.text
        bought.append(response.json()["id"])
    refused = buy(api)
    assert refused.status_code == 403
    assert "pro" in refused.json()["detail"] and str(PRO.number_limit) in refused.json()["detail"]
    assert api.get("/v1/usage").json()["numbers"] == {"used": PRO.number_limit, "limit": PRO.number_limit,
                                                      "remaining": 0}

    assert api.delete(f"/v1/numbers/{bought[0]}").status_code == 200
    assert api.get("/v1/usage").json()["numbers"]["remaining"] == 1
    again = buy(api)
    assert again.status_code == 200, again.text
    assert numbers_total(api) == PRO.number_limit
    state = account(control, key)
    assert state["numbersBought"] == PRO.number_limit + 1
    assert state["balanceCents"] == 0


def test_upgrading_from_free_unlocks_more_numbers(api: httpx.Client, control: httpx.Client, key: str) -> None:
    assert buy(api).status_code == 200
    assert buy(api).status_code == 403
    set_account(control, key, plan="pro")
    assert buy(api).status_code == 200
    assert numbers_total(api) == 2
    usage = api.get("/v1/usage").json()
    assert usage["plan"]["name"] == "pro"
    assert usage["numbers"] == {"used": 2, "limit": PRO.number_limit, "remaining": PRO.number_limit - 2}


def test_price_is_deducted_from_the_balance(api: httpx.Client, control: httpx.Client, key: str) -> None:
    set_account(control, key, plan="pro", balanceCents=1_000)
    assert buy(api).status_code == 200
    assert account(control, key)["balanceCents"] == 1_000 - PRO.number_price_cents
    assert buy(api).status_code == 200
    assert account(control, key)["balanceCents"] == 1_000 - 2 * PRO.number_price_cents


@pytest.mark.parametrize("balance", [0, PRO.number_price_cents - 1])
def test_insufficient_balance_is_402_and_nothing_is_written(api: httpx.Client, control: httpx.Client, key: str,
                                                            balance: int) -> None:
    set_account(control, key, plan="pro", balanceCents=balance)
    before = account(control, key)
    refused = buy(api, areaCode="415")
    assert refused.status_code == 402
    detail = refused.json()["detail"]
    assert dollars(PRO.number_price_cents) in detail
    assert dollars(balance) in detail
    assert "balance" in detail.lower()
    assert numbers_total(api) == 0
    assert account(control, key) == before
    assert api.get("/v1/usage").json()["numbers"]["used"] == 0


def test_exact_balance_buys_one_number(api: httpx.Client, control: httpx.Client, key: str) -> None:
    set_account(control, key, plan="pro", balanceCents=PRO.number_price_cents)
    assert buy(api).status_code == 200
    assert account(control, key)["balanceCents"] == 0
    assert buy(api).status_code == 402
    assert numbers_total(api) == 1
    assert account(control, key)["numbersBought"] == 1


# --- usage reports the plan in both shapes ----------------------------------------------------


@pytest.mark.parametrize("plan", [FREE, PRO, SCALE], ids=lambda p: p.name)
def test_usage_reports_the_plan_in_both_shapes(api: httpx.Client, control: httpx.Client, key: str,
                                               plan: Plan) -> None:
    set_account(control, key, plan=plan.name)
    assert buy(api).status_code == 200
    usage = api.get("/v1/usage").json()
    assert usage["plan"]["name"] == plan.name
    assert usage["plan"]["numberLimit"] == plan.number_limit
    assert usage["plan"]["limits"] == {
        "numbers": plan.number_limit,
        "messagesPerMonth": plan.messages_per_month,
        "voiceMinutesPerMonth": plan.voice_minutes_per_month,
        "maxCallDurationMinutes": plan.max_call_duration_minutes,
        "concurrentCalls": plan.concurrent_calls,
    }
    assert usage["numbers"] == {"used": 1, "limit": plan.number_limit, "remaining": plan.number_limit - 1}


def test_account_settings_validation(control: httpx.Client, key: str) -> None:
    unknown = control.patch(f"/_emulator/accounts/{key}", json={"plan": "gold"})
    assert unknown.status_code == 400 and "plan" in unknown.json()["detail"]
    negative = control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": -1})
    assert negative.status_code == 400 and "balanceCents" in negative.json()["detail"]
    huge = control.patch(f"/_emulator/accounts/{key}", json={"balanceCents": 2**70})
    assert huge.status_code == 400 and "balanceCents" in huge.json()["detail"]
    assert control.get(f"/_emulator/accounts/{key}").status_code == 404, "a refused PATCH creates no account"
    state = set_account(control, key, recordingEnabled=True)
    assert state["plan"] == "free" and state["balanceCents"] == 5_000 and state["numbersBought"] == 0


# --- concurrency -------------------------------------------------------------------------------


async def _parallel_buys(base_url: str, key: str, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.post("/v1/numbers", json={}) for _ in range(count)))


def test_parallel_purchases_on_a_fresh_free_key_give_exactly_one_number(base_url: str, api: httpx.Client,
                                                                        control: httpx.Client, key: str) -> None:
    responses = asyncio.run(_parallel_buys(base_url, key, 25))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [403] * 24
    listed = api.get("/v1/numbers").json()
    assert listed["total"] == 1
    assert listed["data"][0]["id"] == next(r.json()["id"] for r in responses if r.status_code == 200)
    assert account(control, key)["numbersBought"] == 1


def test_parallel_purchases_never_overdraw_the_balance(base_url: str, api: httpx.Client, control: httpx.Client,
                                                       key: str) -> None:
    set_account(control, key, plan="pro", balanceCents=2 * PRO.number_price_cents)
    responses = asyncio.run(_parallel_buys(base_url, key, 25))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200] + [402] * 23
    assert numbers_total(api) == 2
    state = account(control, key)
    assert state["balanceCents"] == 0 and state["numbersBought"] == 2
