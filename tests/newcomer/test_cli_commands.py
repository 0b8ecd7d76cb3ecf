"""The ``whyops`` command's table of subcommands: every row is a module with ``add_arguments``
and ``run``, and the three ways to start the command line reach the same dispatcher."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys

import pytest

from whyops.cli import COMMANDS, EXTRA_OF_MODULE, EXTRAS_OF_COMMAND, main


def installed(command: str) -> bool:
    needed = EXTRAS_OF_COMMAND.get(command, ())
    modules = [module for module, extra in EXTRA_OF_MODULE.items() if extra in needed]
    return all(importlib.util.find_spec(module) is not None for module in modules)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_module_adds_arguments_and_runs(name: str) -> None:
    if not installed(name):
        pytest.skip(f"an extra of `whyops {name}` is not installed")
    module = importlib.import_module(COMMANDS[name].module)
    parser = argparse.ArgumentParser(prog=f"whyops {name}")
    module.add_arguments(parser)
    assert parser._actions[1:], f"`whyops {name}` adds no arguments"
    assert callable(module.run)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if not installed(name):
        pytest.skip(f"an extra of `whyops {name}` is not installed")
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert out.startswith(f"usage: whyops {name}")


def test_no_command_prints_the_list_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert name in out and command.help in out


@pytest.mark.parametrize("entry", [["-m", "whyops"], ["-m", "whyops.cli"]])
def test_python_dash_m_runs_the_same_command(entry: list[str], tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, *entry, "traces", "--base-url", "http://127.0.0.1:9", "--api-key", "k"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("whyops: cannot reach http://127.0.0.1:9"), result.stderr
