#!/bin/sh
# proto-compat.sh: buf lint, and buf breaking against the protocol as it
# was at the last release tag, so the plugin protocol only grows
# compatibly (fields added, never renumbered or retyped; see
# proto/wogate/plugin/v1/plugin.proto). BUF is the buf command (the
# Makefile passes `go run github.com/bufbuild/buf/cmd/buf@VERSION`).
# AGAINST overrides what to compare with: a git ref (default: the newest
# gateway tag, v*, reachable from HEAD; the SDK's pkg/pluginapi/v* and the
# client's pkg/corrigo/v* tags are not releases of the protocol's home).
set -eu
BUF=${BUF:-buf}
$BUF lint proto
echo "buf lint: ok"
ref=${AGAINST:-$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)}
if [ -z "$ref" ]; then
  echo "buf breaking: no release tag yet, so no released protocol to stay compatible with (AGAINST=<ref> compares with another)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# git archive, not buf's .git input: it works in worktrees and shallow
# clones alike.
git archive "$ref" proto | tar -x -C "$tmp"
$BUF breaking proto --against "$tmp/proto"
echo "buf breaking: compatible with $ref"
