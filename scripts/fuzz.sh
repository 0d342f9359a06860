#!/usr/bin/env bash
# Runs every fuzz target of each module in MODULES (directories; default
# the gateway's, the Corrigo client's and the SDK's) for FUZZTIME each
# (targets are discovered, not listed). Called by `make fuzz`.
#
# A target fails when go test finds a failing input (it writes it under
# testdata/fuzz/<target>/ and says so) or fails in any other way, with one
# exception: Go 1.26's fuzz coordinator can report a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-call or
# minimizing (golang/go#75804, fixed in Go 1.27). That is not a find: no
# input is written. It is reported as a toolchain flake and the target is
# run once more; a second flake in a row fails the run, so a target that
# really hangs at its deadline is not hidden.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-6s}
MINIMIZE=${FUZZMINIMIZETIME:-5s}
MODULES=${MODULES:-. pkg/corrigo pkg/pluginapi}
failed=0

run_target() { # pkg target -> 0 pass, 1 failure, 2 coordinator flake
  local out rc
  out=$("$GO" test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$MINIMIZE" "$1" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tail -n 12
  [ $rc -eq 0 ] && return 0
  if printf '%s\n' "$out" | grep -q 'context deadline exceeded' &&
     ! printf '%s\n' "$out" | grep -q 'Failing input written'; then
    return 2
  fi
  return 1
}

root=$(pwd)
for mod in $MODULES; do
cd "$root/$mod" || exit 1
for pkg in $("$GO" list ./...); do
  dir=$("$GO" list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz $pkg $f"
    run_target "$pkg" "$f"; rc=$?
    if [ $rc -eq 2 ]; then
      echo "fuzz $pkg $f: Go's fuzz coordinator reported 'context deadline exceeded' with no failing input (golang/go#75804); running it once more"
      run_target "$pkg" "$f"; rc=$?
    fi
    if [ $rc -ne 0 ]; then
      echo "FAIL: fuzz $pkg $f"
      failed=1
    fi
  done
done
done
exit $failed
