"""Settings, flags, environment, key specs, the server extra hint, and the app's parts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from whyops.server.dblock import DatabaseInUseError
from whyops.server.run import RunningServer, add_arguments, settings_from_args, start_in_thread
from whyops.server.settings import KeySpec, ServerSettings, env_defaults


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_key_specs() -> None:
    assert KeySpec.parse("whyops_a") == KeySpec("whyops_a", None)
    assert KeySpec.parse(" YOPS-b=my team ") == KeySpec("YOPS-b", "my team")
    assert KeySpec.parse("k=") == KeySpec("k", None)
    with pytest.raises(ValueError):
        KeySpec.parse("=project")


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHYOPS_SERVER_DB", "/tmp/env.db")
    monkeypatch.setenv("WHYOPS_SERVER_API_KEYS", "k1, k2=team ,")
    monkeypatch.setenv("WHYOPS_SERVER_PORT", "9000")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("WHYOPS_SERVER_SIMULATE", "yes")
    monkeypatch.setenv("WHYOPS_SERVER_MAX_TRACE_EVENTS", "50")
    from_env = settings_from_args(_parse())
    assert from_env.max_trace_events == 50
    assert settings_from_args(_parse("--max-trace-events", "7")).max_trace_events == 7
    assert (from_env.db_path, from_env.port, from_env.simulate) == ("/tmp/env.db", 9000, True)
    assert from_env.api_keys == ("k1", "k2=team")
    assert from_env.openai_api_key == "sk-env"
    flags = settings_from_args(
        _parse("--db", "/tmp/flag.db", "--api-key", "a", "--api-key", "b=x", "--port", "1",
               "--max-body-bytes", "10", "--anthropic-base-url", "http://127.0.0.1:9/a")
    )  # fmt: skip
    assert (flags.db_path, flags.port, flags.api_keys) == ("/tmp/flag.db", 1, ("a", "b=x"))
    assert (flags.max_body_bytes, flags.anthropic_base_url) == (10, "http://127.0.0.1:9/a")
    assert env_defaults({}) == {}


def test_simulate_points_upstreams_at_the_server_itself() -> None:
    settings = ServerSettings(host="0.0.0.0", simulate=True).with_port(4321)
    assert settings.openai_base_url == "http://127.0.0.1:4321/simulator/v1"
    assert settings.anthropic_base_url == "http://127.0.0.1:4321/simulator"
    real = ServerSettings(openai_api_key="sk").with_port(4321)
    assert real.openai_base_url == "https://api.openai.com/v1"
    assert ServerSettings(host="::1").with_port(1).loopback_base_url == "http://[::1]:1"


def test_running_server_exposes_settings_and_simulator(server: RunningServer) -> None:
    assert server.settings.port == int(server.base_url.rsplit(":", 1)[1])
    assert server.settings.openai_base_url == server.base_url + "/simulator/v1"
    models = httpx2.get(
        server.base_url + "/simulator/v1/models",
        headers={"Authorization": f"Bearer {server.api_key}"},
    )
    assert models.status_code == 200
    page = httpx2.get(server.base_url + "/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def test_a_second_server_on_the_same_database_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    settings = ServerSettings(host="127.0.0.1", port=0, db_path=db)
    with start_in_thread(settings) as first:
        with pytest.raises(DatabaseInUseError, match="another whyops server uses the database"):
            start_in_thread(settings)
        result = subprocess.run(
            [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", db],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert f"another whyops server uses the database {db}" in result.stderr
        assert "Traceback" not in result.stderr
        assert httpx2.get(f"{first.base_url}/api/health").status_code == 200
    # Released at shutdown: the same file serves again.
    with start_in_thread(settings) as again:
        assert httpx2.get(f"{again.base_url}/api/health").status_code == 200


def test_without_the_server_extra_the_error_says_what_to_install() -> None:
    code = "import sys; sys.modules['starlette'] = None; import whyops.server"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "pip install 'whyops[server]'" in result.stderr


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not SQLite " * 100)
    result = subprocess.run(
        [sys.executable, "-m", "whyops.server.run", "--port", "0", "--db", str(bogus)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "whyops serve:" in result.stderr
    assert "Traceback" not in result.stderr
