"""The README's SDK snippets, as printed (only the base URL changed), run twice each against a real emulator on
a SQLite file: a newcomer who pastes one twice must not hit the free plan's one-number limit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import install_ts_sdk

from emulator.testing import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
README_URL = "http://127.0.0.1:8000"
RUN_CAP = 120


def snippet(language: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Point the official SDK at it"):]
    section = section[:section.index("\n## ")]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, f"expected one {language} block in the README's SDK section"
    return blocks[0]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as proc:  # a file database on the default (free) plan, as `serve` runs
        yield proc


def run_twice(cmd: list[str], cwd: Path) -> list[str]:
    outputs = []
    for _ in range(2):
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=RUN_CAP)
        assert done.returncode == 0, f"run {len(outputs) + 1} failed:\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    return outputs


def test_python_snippet_runs_every_time(emulator: EmulatorProcess, tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(snippet("python").replace(README_URL, emulator.base_url))
    for out in run_twice([sys.executable, str(script)], tmp_path):
        assert "caller: ''\n  agent: 'Hi! How can I help?'" in out, out
        assert "agent: 'Thanks for calling. Goodbye!'" in out, out


def test_typescript_snippet_runs_every_time(emulator: EmulatorProcess, tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the TypeScript snippet")
    (tmp_path / "node_modules").symlink_to(install_ts_sdk(npm), target_is_directory=True)
    (tmp_path / "quickstart.mjs").write_text(snippet("js").replace(README_URL, emulator.base_url))
    for out in run_twice([node, "quickstart.mjs"], tmp_path):
        assert 'caller: ""\n  agent: "Hi! How can I help?"' in out, out
        assert 'agent: "Thanks for calling. Goodbye!"' in out, out
