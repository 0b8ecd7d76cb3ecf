# whyops task runner. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The interpreter next to the `just` that runs this file: `.venv/bin/just test` uses
# `.venv/bin/python`, whatever is on PATH. $PYTHON overrides it; python3 when there is none.
just_bin := parent_directory(just_executable())
python := env_var_or_default("PYTHON", if path_exists(just_bin / "python") == "true" { just_bin / "python" } else { "python3" })
just := just_executable()
compat_venv := ".venv-compat"

# Show the recipes.
default:
    @just --list

# Start a server with the simulator, trace the example support agent, keep serving.
demo *args:
    {{python}} -m whyops demo {{args}}

# Run the collector, LLM proxy and web page (see `whyops serve --help`).
serve *args:
    {{python}} -m whyops serve {{args}}

# The whole test suite: lint, types, then the independent suites side by side.
test: lint typecheck
    #!/usr/bin/env bash
    set -euo pipefail
    # Side by side, each one's output shown when it ends: the tests (those with a server run
    # once on SQLite and once on PostgreSQL, as two suites: WHYOPS_TEST_STORES in
    # tests/conftest.py), the released WhyOps 0.1.1 SDK against our server, older provider SDK
    # lines, installs from a clean clone and from a built wheel, agent frameworks, and a real
    # OTLP receiver (Arize Phoenix) fed by whyops.
    # WHYOPS_TEST_SCOPE=smoke: set by the install test that runs this very command from a clean
    # clone; lint, types and one test module there, so the suite does not run itself.
    if [ "${WHYOPS_TEST_SCOPE:-}" = smoke ]; then
        WHYOPS_TEST_STORES=sqlite exec {{python}} -m pytest -q tests/web/test_terminal_commands.py
    fi
    {{just}} browser
    bash scripts/run-parallel.sh \
        "tests" "WHYOPS_TEST_STORES=sqlite {{python}} -m pytest -n 2 --dist loadfile {{pytest_apart}}" \
        "tests on PostgreSQL" "WHYOPS_TEST_STORES=postgres {{python}} -m pytest -n 2 --dist loadfile {{pytest_apart}}" \
        "whyops 0.1.1" "{{just}} wo011 && {{python}} -m pytest -q tests/server/test_whyops011.py" \
        "provider SDK lines" "{{just}} compat" \
        "installs" "{{python}} -m pytest -q tests/newcomer/test_install.py" \
        "frameworks" "{{just}} frameworks" \
        "receivers" "{{just}} receivers"

# Test modules that `just test` runs as suites of their own, beside the main pytest run.
pytest_apart := "--ignore=tests/server/test_whyops011.py --ignore=tests/newcomer/test_install.py --ignore=tests/receivers"

# Run pytest on the current interpreter (extra arguments go to pytest).
pytest *args:
    {{python}} -m pytest {{args}}

# ruff lint and format check.
lint:
    {{python}} -m ruff check whyops tests bench examples
    {{python}} -m ruff format --check whyops tests bench examples

# Rewrite files with ruff's formatter and safe fixes.
fmt:
    {{python}} -m ruff check --fix whyops tests bench examples
    {{python}} -m ruff format whyops tests bench examples

# Static type check of the package.
typecheck:
    {{python}} -m mypy

# Make sure Debian's Chromium is present for the browser tests (installs it as root).
browser:
    bash scripts/ensure-chromium.sh

# Make .venv-wo011 with the released WhyOps 0.1.1 SDK (same import name) for the compatibility test.
wo011:
    [ -x .venv-wo011/bin/python ] || python3 -m venv .venv-wo011
    .venv-wo011/bin/python -m pip install -q --disable-pip-version-check 'whyops==0.1.1'

# Agent frameworks traced in their own virtualenv (scripts/frameworks.sh, when present).
frameworks:
    if [ -f scripts/frameworks.sh ]; then bash scripts/frameworks.sh; else echo "no scripts/frameworks.sh"; fi

# whyops traces exported to a real Arize Phoenix, run from its own virtualenv (scripts/phoenix.sh).
receivers:
    PYTHON={{python}} bash scripts/phoenix.sh

# Provider tests again on the previous major lines: openai 1.x and anthropic 0.x, on httpx.
compat:
    bash scripts/compat.sh {{compat_venv}}

# Benchmarks (ratios against baselines measured in the same run).
bench:
    {{python}} bench/bench_core.py
    {{python}} bench/bench_server.py
    {{python}} bench/bench_proxy.py
    {{python}} bench/bench_client.py
    {{python}} bench/bench_store.py

# whyops against Langfuse, Logfire, OpenTelemetry and WhyOps 0.1.1, each in its own virtualenv.
bench-peers:
    [ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
    .venv-peers/bin/python -m pip install -q --disable-pip-version-check langfuse logfire opentelemetry-sdk
    {{just}} wo011
    {{python}} bench/bench_peers.py
