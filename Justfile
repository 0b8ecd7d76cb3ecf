# whyops task runner. `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

python := env_var_or_default("PYTHON", "python3")
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

# The whole test suite: lint, types, tests (browser included), older provider SDK lines.
test: lint typecheck browser wo011 pytest compat

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

# Provider tests again on the previous major lines: openai 1.x and anthropic 0.x, on httpx.
compat:
    bash scripts/compat.sh {{compat_venv}}

# Benchmarks (ratios against baselines measured in the same run).
bench:
    {{python}} bench/bench_core.py
    {{python}} bench/bench_server.py
    {{python}} bench/bench_proxy.py
    {{python}} bench/bench_client.py

# whyops against Langfuse, Logfire, OpenTelemetry and WhyOps 0.1.1, each in its own virtualenv.
bench-peers:
    [ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
    .venv-peers/bin/python -m pip install -q --disable-pip-version-check langfuse logfire opentelemetry-sdk
    just wo011
    {{python}} bench/bench_peers.py
