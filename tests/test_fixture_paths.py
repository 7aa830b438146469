"""Fixture paths a request names are read only inside the working directory or a --fixtures directory given at
start, with no '..' and no symlink leading out, and errors never echo what a file holds. A real emulator
process whose working directory is a temporary tree."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator.testing import ServerProcess, free_port, new_key

SECRET = "hunter2-do-not-echo"


def fixture(key: str, plan: str = "pro") -> str:
    return yaml.safe_dump({"accounts": [{"key": key, "plan": plan}]})


@dataclass
class Tree:
    root: Path
    work: Path  # the emulator's working directory
    given: Path  # a --fixtures directory outside it
    given_file: Path  # a --fixtures file outside it
    keys: dict[str, str]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    root = tmp_path_factory.mktemp("fixture-paths")
    work, given, outside = root / "work", root / "given", root / "outside"
    for folder in (work / "sub", given, outside):
        folder.mkdir(parents=True)
    keys = {name: new_key() for name in ("local", "inner", "given", "later", "given_file", "outside", "mine")}
    (work / "local.yaml").write_text(fixture(keys["local"]))
    (work / "sub" / "inner.yml").write_text(fixture(keys["inner"], "scale"))
    (work / "mine.yaml").write_text(fixture(keys["mine"]))
    (work / "notes.txt").write_text(fixture(new_key()))
    (work / "bad.yaml").write_text(f"accounts:\n  - key: sk_test_x\n    plan: [{SECRET}\n")
    (work / "other.yaml").write_text(yaml.safe_dump({"password": SECRET, "accounts": [{"key": SECRET}]}))
    (work / "wrong.yaml").write_text(fixture(new_key(), plan=SECRET))
    (given / "given.yaml").write_text(fixture(keys["given"]))
    (root / "given-file.yaml").write_text(fixture(keys["given_file"]))
    (root / "sibling.yaml").write_text(fixture(new_key()))
    (outside / "secret.yaml").write_text(fixture(keys["outside"]))
    (work / "link_out.yaml").symlink_to(outside / "secret.yaml")
    (work / "linkdir").symlink_to(outside, target_is_directory=True)
    (work / "sub" / "linked_in.yaml").symlink_to(work / "local.yaml")  # a symlink that stays inside
    (work / "escapes").mkdir()
    (work / "escapes" / "ok.yaml").write_text(fixture(new_key()))
    (work / "escapes" / "out.yaml").symlink_to(outside / "secret.yaml")
    return Tree(root, work, given, root / "given-file.yaml", keys)


@pytest.fixture(scope="module")
def server(tree: Tree) -> Iterator[ServerProcess]:
    """`serve` started from `tree.work` (so that is its working directory) with two --fixtures."""
    port = free_port()
    start = f"import os, sys; os.chdir({str(tree.work)!r}); from emulator.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", start, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", ":memory:",
           "--fixtures", str(tree.given), "--fixtures", str(tree.given_file)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
    proc = ServerProcess(cmd, port, "/_emulator/health", env=env)
    proc.start()
    yield proc
    proc.stop()
    proc.cleanup()


@pytest.fixture
def control(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def load(client: httpx.Client, path: Any, **headers: str) -> httpx.Response:
    return client.post("/_emulator/fixtures", json={"path": path}, headers=headers)


def plan_of(client: httpx.Client, key: str) -> str | None:
    found = client.get(f"/_emulator/accounts/{key}")
    return found.json()["plan"] if found.status_code == 200 else None


def test_fixtures_given_at_start_are_loaded(control: httpx.Client, tree: Tree) -> None:
    assert plan_of(control, tree.keys["given"]) == "pro"
    assert plan_of(control, tree.keys["given_file"]) == "pro"


@pytest.mark.parametrize(("path", "key", "plan"), [
    ("local.yaml", "local", "pro"),
    ("./sub/inner.yml", "inner", "scale"),
    ("sub", "inner", "scale"),
    ("sub/linked_in.yaml", "local", "pro"),
])
def test_paths_under_the_working_directory_load(control: httpx.Client, tree: Tree, path: str, key: str,
                                                plan: str) -> None:
    response = load(control, path)
    assert response.status_code == 200, response.text
    assert plan_of(control, tree.keys[key]) == plan


def test_absolute_paths_inside_the_allowed_places_load(control: httpx.Client, tree: Tree) -> None:
    assert load(control, str(tree.work / "local.yaml")).status_code == 200
    (tree.given / "later.yaml").write_text(fixture(tree.keys["later"], "scale"))
    response = load(control, str(tree.given / "later.yaml"))
    assert response.status_code == 200, response.text
    assert plan_of(control, tree.keys["later"]) == "scale"
    assert load(control, str(tree.given_file)).status_code == 200


def refused(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert detail.startswith("The fixture ") and detail.endswith(".")
    for word in words:
        assert word in detail, detail
    assert SECRET not in response.text
    return detail


@pytest.mark.parametrize("where", ["/etc/passwd", "/etc/hostname.yaml", "/proc/self/environ", "sibling"])
def test_paths_elsewhere_are_refused(control: httpx.Client, tree: Tree, where: str) -> None:
    path = str(tree.root / "sibling.yaml") if where == "sibling" else where
    detail = refused(load(control, path), "inside the emulator's working directory or a directory given with "
                                         "--fixtures at start")
    assert "root:" not in detail and str(tree.work) not in detail


@pytest.mark.parametrize("path", ["../outside/secret.yaml", "sub/../local.yaml", "../given/given.yaml"])
def test_dot_dot_is_refused_even_when_it_would_stay_inside(control: httpx.Client, path: str) -> None:
    refused(load(control, path), "'..' is not allowed in fixture paths")


@pytest.mark.parametrize("path", ["link_out.yaml", "linkdir/secret.yaml", "linkdir"])
def test_symlinks_leading_out_are_refused(control: httpx.Client, tree: Tree, path: str) -> None:
    refused(load(control, path), "after following symlinks")
    assert plan_of(control, tree.keys["outside"]) is None


def test_a_directory_holding_a_symlink_out_is_refused_whole(control: httpx.Client) -> None:
    refused(load(control, "escapes"), "out.yaml is a symlink leading elsewhere")


def test_only_fixture_files_are_read(control: httpx.Client) -> None:
    refused(load(control, "notes.txt"), "fixture files end in .yaml, .yml, .json")


def test_yaml_errors_name_the_line_not_the_text(control: httpx.Client) -> None:
    response = load(control, "bad.yaml")
    assert response.status_code == 400
    assert response.json()["detail"] == "bad.yaml: not valid YAML at line 4, column 1."


@pytest.mark.parametrize(("path", "status"), [("other.yaml", 400), ("wrong.yaml", 400)])
def test_invalid_fixture_files_do_not_echo_their_values(control: httpx.Client, path: str, status: int) -> None:
    response = load(control, path)
    assert response.status_code == status, response.text
    assert SECRET not in response.text
    assert response.json()["detail"].startswith(f"{path}: not a valid fixture.")
    assert "send the same document as the request body" in response.json()["detail"]


def test_the_same_document_as_a_body_says_each_problem(control: httpx.Client, tree: Tree) -> None:
    response = control.post("/_emulator/fixtures", content=(tree.work / "wrong.yaml").read_text(),
                            headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400 and SECRET in response.json()["detail"]  # the caller's own text


@pytest.mark.parametrize(("body", "status", "phrase"), [
    ({"path": 5}, 400, "Field 'path' must be a string"),
    ({"path": ""}, 400, "1 to 4096 characters"),
    ({"path": "a\x00.yaml"}, 400, "1 to 4096 characters"),
    ({"path": "missing.yaml"}, 400, "Cannot read the fixture at missing.yaml: FileNotFoundError."),
    ({"path": "local.yaml", "accounts": []}, 400, "alone, not both"),
])
def test_bad_path_fields(control: httpx.Client, body: dict[str, Any], status: int, phrase: str) -> None:
    response = control.post("/_emulator/fixtures", json=body)
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]


def test_an_account_key_follows_the_same_rules_and_loads_only_itself(control: httpx.Client, tree: Tree) -> None:
    mine = tree.keys["mine"]
    auth = {"Authorization": f"Bearer {mine}"}
    refused(load(control, "/etc/passwd", **auth), "working directory")
    refused(load(control, "link_out.yaml", **auth), "symlinks")
    other = load(control, "local.yaml", **auth)
    assert other.status_code == 403 and "its own account only" in other.json()["detail"]
    assert load(control, "mine.yaml", **auth).status_code == 200
    assert plan_of(control, mine) == "pro"
