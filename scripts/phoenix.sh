#!/usr/bin/env bash
# Runs tests/receivers: whyops traces exported over OTLP to a real Arize Phoenix and read back
# through its REST API. Phoenix gets a virtualenv of its own (it is a large server with pins
# of its own); the tests run on the project's interpreter ($PYTHON, else python3) and start
# Phoenix from that virtualenv on 127.0.0.1 (tests/receivers/phoenix_process.py: telemetry, external
# resources and the assistant off, a new SQLite file, nothing allowed beyond loopback).
# The version below was verified; the virtualenv is kept between runs (about 860 MB).
set -euo pipefail
venv="${1:-.venv-phoenix}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv for the receivers suite..."
  python3 -m venv "$venv"
fi
pins=('arize-phoenix==20.26.1')
# Installing is skipped while the pins are those of the last install.
stamp="$venv/.whyops-phoenix-pins"
wanted="$(printf '%s\n' "${pins[@]}")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  started=$SECONDS
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}"
  printf '%s' "$wanted" > "$stamp"
  echo "installed ${pins[*]} in $((SECONDS - started))s"
fi
"$venv/bin/python" -c 'from importlib.metadata import version; print("receivers: arize-phoenix", version("arize-phoenix"))'
export WHYOPS_PHOENIX_PYTHON="$(cd "$venv" && pwd)/bin/python" WHYOPS_RECEIVERS=1
"$python" -m pytest -q -p no:cacheprovider tests/receivers "${@:2}"
