#!/usr/bin/env bash
# Runs independent suites side by side: run-parallel.sh NAME COMMAND [NAME COMMAND ...].
# Each suite's output goes to its own log, printed whole when the suite ends (so outputs
# never interleave); the exit status is non-zero when any suite failed, and says which.
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
  echo "=== ${names[$index]}: $([ "$status" = 0 ] && echo passed || echo "FAILED ($status)") ==="
  cat "$logs/$index"
  [ "$status" = 0 ] || failed+=("${names[$index]}")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed suites: ${failed[*]}"
  exit 1
fi
echo "all ${#names[@]} suites passed"
