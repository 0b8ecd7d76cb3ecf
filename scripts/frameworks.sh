#!/usr/bin/env bash
# Runs tests/frameworks in its own virtualenv: openai-agents, langchain-openai, pydantic-ai,
# instructor and the anthropic SDK helpers, each through `whyops serve --simulate`. The
# frameworks get their own venv because their pins clash with the main suite's (instructor
# pins jiter<0.15, which holds openai at 3.3), and the main suite keeps the current lines.
# The versions below were verified together; update them together.
set -euo pipefail
venv="${1:-.venv-frameworks}"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv for the framework suite..."
  python3 -m venv "$venv"
fi
pins=(
  'openai-agents==0.24.0' 'langchain-openai==1.8.1' 'langchain-core==1.8.3'
  'pydantic-ai-slim[openai]==2.38.0' 'instructor==1.17.0'
  'openai==3.3.0' 'anthropic==2.17.0' 'jiter==0.14.0'
  # OpenTelemetry producers (test_*otel*.py, test_openinference*.py): the SDK with both OTLP/HTTP
  # exporters (the JSON one is on the 0.66b1 line, so the SDK and protobuf exporter are too).
  'opentelemetry-sdk==1.45.1' 'opentelemetry-exporter-otlp-proto-http==1.45.1'
  'opentelemetry-exporter-otlp-json-http==0.66b1' 'openinference-instrumentation-openai==0.1.66'
  'pytest>=8' 'pytest-asyncio>=0.24' 'hypothesis>=6.100'
)
# Installing is skipped while the pins and setup.py are those of the last install.
stamp="$venv/.whyops-frameworks-pins"
wanted="$(printf '%s\n' "${pins[@]}"; cat setup.py)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[server]' "${pins[@]}"
  printf '%s' "$wanted" > "$stamp"
fi
"$venv/bin/python" -c 'import openai, anthropic, agents, langchain_openai, pydantic_ai, instructor
from importlib.metadata import version as v
print("frameworks:", ", ".join(f"{n} {v(n)}" for n in ("openai", "anthropic", "openai-agents",
      "langchain-openai", "pydantic-ai-slim", "instructor")))'
# Nothing may leave loopback: the frameworks' telemetry is off (tests/frameworks/conftest.py
# also refuses any other address), and missing libraries fail instead of skipping.
export WHYOPS_FRAMEWORKS=1 OPENAI_AGENTS_DISABLE_TRACING=1 LANGCHAIN_TRACING_V2=false \
  LANGSMITH_TRACING=false LOGFIRE_SEND_TO_LOGFIRE=false OTEL_SDK_DISABLED=true DO_NOT_TRACK=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/frameworks "${@:2}"
