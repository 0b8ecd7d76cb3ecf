"""A command whose optional extra is missing says so in one line, with the exact install
command, and exits 2: no traceback. Each case hides the library from a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Runs the CLI with the named top-level modules made unimportable (None in sys.modules
# makes `import name` raise ModuleNotFoundError, as when the package is not installed).
RUNNER = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
from whyops.cli import main
raise SystemExit(main(sys.argv[2:]))
"""

DEMO_INSTALL = "pip install 'whyops[server,openai,anthropic]'"
SERVE_INSTALL = "pip install 'whyops[server]'"


@pytest.mark.parametrize(
    ("hidden", "argv", "missing", "install"),
    [
        ("uvicorn", ["serve"], "uvicorn", SERVE_INSTALL),
        ("starlette", ["serve", "-h"], "starlette", SERVE_INSTALL),
        ("starlette,uvicorn", ["demo"], "starlette", DEMO_INSTALL),
        ("openai", ["demo", "--once"], "openai", DEMO_INSTALL),
        ("anthropic", ["demo"], "anthropic", DEMO_INSTALL),
    ],
)
def test_one_line_with_the_install_command(
    tmp_path: object, hidden: str, argv: list[str], missing: str, install: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, hidden, *argv],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = f"whyops {argv[0]}: needs {missing} (not installed): {install}"
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [line], "")


def test_commands_without_extras_still_work(tmp_path: object) -> None:
    """`whyops traces` needs no extra: hiding them all changes nothing but the server's reply."""
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, "starlette,uvicorn,openai,anthropic", "traces",
         "--base-url", "http://127.0.0.1:9", "--api-key", "k"],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("whyops: cannot reach http://127.0.0.1:9"), result.stderr


def test_an_import_failing_late_is_caught_the_same_way(tmp_path: object) -> None:
    """Past the up-front check (a module importing an extra itself): still one line."""
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from whyops.cli import _load\n"
        "_load('serve', 'whyops.server.run', 'run')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"whyops serve: needs starlette (not installed): {SERVE_INSTALL}"
    ]
