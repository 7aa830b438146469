import httpx

from emulator.testing import InProcessEmulator


def test_health_reports_version_uptime_and_database(control: httpx.Client, server: InProcessEmulator) -> None:
    body = control.get("/_emulator/health").json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptimeSeconds"] >= 0
    assert body["database"] == server.state.store.label
    if server.state.store.is_sqlite:
        assert body["database"].endswith("emulator.db")
