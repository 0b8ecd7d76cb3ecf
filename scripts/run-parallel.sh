#!/usr/bin/env bash
# Runs independent suites side by side: run-parallel.sh NAME COMMAND [NAME COMMAND ...].
# Each suite's output goes to its own log, printed whole when the suite ends (so outputs
# never interleave); a failed suite's log is printed last, so the end of the output (what a
# CI page keeps) shows the failure. The exit status is non-zero when any suite failed, and
# says which.
set -uo pipefail
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
names=() pids=()
while [ $# -ge 2 ]; do
  index=${#names[@]}
  names+=("$1")
  bash -c "$2" >"$logs/$index" 2>&1 &
  pids+=($!)
  echo "started: $1 ($2)"
  shift 2
done
failed=()
for index in "${!pids[@]}"; do
  wait "${pids[$index]}"
  status=$?
  if [ "$status" = 0 ]; then
    echo "=== ${names[$index]}: passed ==="
    cat "$logs/$index"
  else
    echo "=== ${names[$index]}: FAILED ($status), its log follows at the end ==="
    failed+=("$index")
  fi
done
for index in "${failed[@]}"; do
  echo "=== ${names[$index]}: FAILED ==="
  cat "$logs/$index"
done
if [ ${#failed[@]} -gt 0 ]; then
  for index in "${!failed[@]}"; do failed[$index]="${names[${failed[$index]}]}"; done
  echo "failed suites: ${failed[*]}"
  exit 1
fi
echo "all ${#names[@]} suites passed"
