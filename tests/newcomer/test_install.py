"""What a newcomer runs, run for real: the README's two commands, verbatim, in a clean copy of
the repository, and the built wheel installed into a fresh virtualenv outside the repository.

Both install packages with pip (from the package index, or its cache), so they take minutes;
`just test` runs this module beside the main test run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
INSTALL_TIMEOUT = 900
DEMO_INSTALL = "pip install 'whyops[server,openai,anthropic]'"


def readme_commands() -> list[str]:
    """The Quickstart's commands: the lines of its first ```bash block."""
    text = README.read_text(encoding="utf-8")
    quickstart = text[text.index("## Quickstart") :]
    block = re.search(r"```bash\n(.*?)```", quickstart, re.S)
    assert block, "no ```bash block in the README's Quickstart"
    return [line for line in block[1].splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run reads its command from the README: the same line, so they cannot drift."""
    demo, test = readme_commands()
    assert demo.endswith("whyops demo") and test.endswith("just test")
    script = (REPO / ".ci" / "run").read_text()
    pattern = re.search(r"grep -m1 -E '([^']+)' README.md", script)
    assert pattern, script
    found = [line for line in README.read_text().splitlines() if re.search(pattern[1], line)]
    assert found[0] == test


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no whyops, provider or Python path settings."""
    drop = ("WHYOPS_", "OPENAI_", "ANTHROPIC_", "PYTHON", "VIRTUAL_ENV", "PYTEST_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "NO_COLOR": "1", **extra}


def copy_checkout(target: Path) -> Path:
    """The files a clean clone of this working tree holds: tracked and new ones, no ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # deleted but still tracked: not in the next commit
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
        env=env or clean_env(),
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{result.args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


@pytest.fixture
def process_group() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started in their own group; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def start(
    command: list[str], cwd: Path, group: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command, cwd=cwd, env=clean_env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    group.append(process)
    return process


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Its output up to and including the first line holding ``marker``."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} (exit {process.poll()}):\n{''.join(seen)[-4000:]}")


def interrupt(process: subprocess.Popen[str]) -> int:
    """Ctrl-C, as a user stops it: SIGINT to the whole group."""
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(60)


def test_the_readme_commands_from_a_clean_clone(
    tmp_path: Path, process_group: list[subprocess.Popen[str]]
) -> None:
    clone = copy_checkout(tmp_path / "whyops")
    demo, test = readme_commands()

    # The first one ends serving the page until Ctrl-C: wait for that, then press it. In bash,
    # as typed at a prompt (a shell that waits for the command and carries on after Ctrl-C).
    running = start(["bash", "-c", demo], clone, process_group)
    out = read_until(running, "serving the page until Ctrl-C", INSTALL_TIMEOUT)
    assert interrupt(running) == 0
    assert len(re.findall(r"^trace \S+  \(", out, re.M)) == 5, out
    assert re.search(r"^web page: http://127\.0\.0\.1:\d+/#key=\S+$", out, re.M), out

    # The second runs the test recipe with the venv's just; "smoke" keeps it from running
    # this whole suite (and this test) again inside itself.
    result = run(["bash", "-c", test], clone, env=clean_env(WHYOPS_TEST_SCOPE="smoke"))
    out = ok(result)
    assert re.search(r"\d+ passed", out), out
    # The recipes run the venv's Python, whatever python3 is on PATH.
    python = ok(run([str(clone / ".venv" / "bin" / "just"), "--evaluate", "python"], clone))
    assert python == str(clone / ".venv" / "bin" / "python")


def test_the_wheel_in_a_fresh_venv_outside_the_repository(
    tmp_path: Path, process_group: list[subprocess.Popen[str]]
) -> None:
    source = copy_checkout(tmp_path / "source")
    ok(run([sys.executable, "-m", "pip", "wheel", "--no-deps",
            "-q", "-w", str(tmp_path / "dist"), str(source)], tmp_path))  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("whyops-*.whl")
    venv = tmp_path / "venv"
    ok(run([sys.executable, "-m", "venv", str(venv)], tmp_path))
    bin_dir = venv / "bin"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    empty = tmp_path / "empty"
    empty.mkdir()
    whyops = str(bin_dir / "whyops")

    # The SDK alone: the demo names what to install, in one line.
    ok(run([*pip, str(wheel)], tmp_path))
    bare = run([whyops, "demo", "--once"], empty)
    assert (bare.returncode, bare.stderr.splitlines()) == (
        2,
        [f"whyops demo: needs starlette (not installed): {DEMO_INSTALL}"],
    )
    ok(run([*pip, f"{wheel}[server,openai,anthropic]"], tmp_path))
    where = ok(run([str(bin_dir / "python"), "-c", "import whyops; print(whyops.__file__)"], empty))
    assert where.startswith(str(venv)), where

    out = ok(run([whyops, "demo", "--once", "--port", "0"], empty))
    traces = re.findall(r"^trace (\S+)  \(", out, re.M)
    assert len(traces) == 5, out
    key = (empty / ".whyops" / "demo.key").read_text().strip()

    server = start(
        [whyops, "serve", "--port", "0", "--db", ".whyops/demo.db"], empty, process_group
    )
    announced = read_until(server, "web page:", 60)
    base_url = re.search(r"whyops serve: (http://127\.0\.0\.1:\d+) ", announced)
    assert base_url, announced
    reader = ["--base-url", base_url[1], "--api-key", key]
    listed = ok(run([whyops, "traces", *reader], empty))
    assert sorted(line.split()[1] for line in listed.splitlines()[1:]) == sorted(traces)
    shown = ok(run([whyops, "show", traces[0][:8], *reader], empty))
    assert shown.startswith(f"trace {traces[0]}  agent support-agent"), shown
    assert "thinking: " in shown, shown
    assert interrupt(server) == 0
