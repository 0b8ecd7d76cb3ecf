#!/usr/bin/env bash
# Runs the provider-facing tests again in a second virtualenv holding the previous
# major lines of the provider SDKs (openai 1.x and anthropic 0.x, both on httpx),
# so the patching and the simulator are checked against the lines users still run.
set -euo pipefail
venv="${1:-.venv-compat}"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with openai<2 and anthropic<1..."
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[server]' \
  'openai>=1.40,<2' 'anthropic>=0.40,<1' httpx pytest pytest-asyncio hypothesis flask
"$venv/bin/python" -c 'import openai, anthropic; print(f"compat: openai {openai.__version__}, anthropic {anthropic.__version__}")'
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/client tests/simulator tests/proxy \
  tests/plugin/test_captured_traces.py tests/integrations/test_httpx.py
