"""Strict mode accepts only the keys it was given (flags, keys file, fixtures), never others that gained a row."""

from __future__ import annotations

from collections.abc import Callable

from emulator.testing import InProcessEmulator, new_key


def test_control_routes_do_not_open_a_strict_emulator_to_a_key(make_emulator: Callable[..., InProcessEmulator]
                                                               ) -> None:
    given = new_key()
    emulator = make_emulator(strict_keys=True, keys=[given])
    stranger = new_key()
    with emulator.client() as control:
        control.patch(f"/_emulator/accounts/{stranger}", json={"plan": "pro"}).raise_for_status()
        control.post("/_emulator/faults", json={"key": stranger, "webhook": "bad-signature"}).raise_for_status()
        fixture_key = new_key()
        control.post("/_emulator/fixtures", json={"accounts": [{"key": fixture_key}]}).raise_for_status()

        def status(key: str) -> int:
            return control.get("/v1/agents", headers={"Authorization": f"Bearer {key}"}).status_code

        assert status(stranger) == 401
        assert status(given) == 200
        assert status(fixture_key) == 200
