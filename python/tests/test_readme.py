"""Every Python example in python/README.md runs unchanged (but for its URL) against a plain
python-websockets echo server, which selects no subprotocol (issue 12, item 9)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.timeout(60)

README = (REPO / "python" / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", README, re.S)
README_URL = "ws://localhost:8765"


def test_the_readme_has_both_examples() -> None:
    assert len(EXAMPLES) == 2
    assert all(README_URL in example for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=["callbacks", "asyncio"])
def test_readme_example_runs_against_python_websockets(example: str, echo_url: str) -> None:
    code = example.replace(README_URL, echo_url)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=45)
    assert run.returncode == 0, run.stderr
    assert "got hi" in run.stdout, (run.stdout, run.stderr)
