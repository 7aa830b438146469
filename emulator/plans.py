"""Plans are data, in one place: limits, prices and how the number limit counts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    number_limit: int
    messages_per_month: int
    voice_minutes_per_month: int
    max_call_duration_minutes: int
    concurrent_calls: int
    number_price_cents: int
    # The vendor calls the number limit a lifetime limit: every number ever bought
    # counts. When False, releasing a number frees its slot.
    lifetime_number_limit: bool

    def limits(self) -> dict[str, int]:
        return {
            "numbers": self.number_limit,
            "messagesPerMonth": self.messages_per_month,
            "voiceMinutesPerMonth": self.voice_minutes_per_month,
            "maxCallDurationMinutes": self.max_call_duration_minutes,
            "concurrentCalls": self.concurrent_calls,
        }


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("free", 1, 1_000, 100, 10, 1, 0, lifetime_number_limit=True),
        Plan("pro", 10, 10_000, 1_000, 60, 5, 300, lifetime_number_limit=False),
        Plan("scale", 100, 100_000, 10_000, 120, 25, 200, lifetime_number_limit=False),
    )
}

DEFAULT_PLAN = "free"
# $50.00: enough for any ordinary session; a test that wants a 402 lowers it.
DEFAULT_BALANCE_CENTS = 5_000


def get_plan(name: str) -> Plan:
    return PLANS[name]
