import httpx


def test_health_reports_version_uptime_and_database(control: httpx.Client) -> None:
    body = control.get("/_emulator/health").json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptimeSeconds"] >= 0
    assert body["database"].endswith("emulator.db")
