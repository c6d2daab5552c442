#!/usr/bin/env bash
# Build the small Go test harnesses of testbed/gotools/<name>/ (each its own module: go.mod + go.sum pinned)
# into <cache>/gotools/<name>-<hash>/<name>, the hash covering go.mod, go.sum and the sources, so a changed
# harness is rebuilt and worktrees share builds. testbed/tools.py computes the same path.
#   luahealth : Argo CD's Lua sandbox (github.com/yuin/gopher-lua) for the health checks in gitops/argocd/
#   kstatus   : sigs.k8s.io/cli-utils/pkg/kstatus/status, what Flux and cli-utils compute from our status
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-snapshot-operator}/gotools"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly LC_ALL=C
for dir in "$here"/gotools/*/; do
  name="$(basename "$dir")"
  hash="$(cd "$dir" && cat go.mod go.sum $(ls -- *.go) | sha256sum | cut -c1-12)"
  out="$cache/$name-$hash/$name"
  if [ -x "$out" ]; then
    echo "build-gotools: $name cached at $out"
    continue
  fi
  echo "build-gotools: $(date -u +%H:%M:%S) building $name ($hash)"
  start=$(date +%s)
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  echo "build-gotools: $(date -u +%H:%M:%S) built $name in $(( $(date +%s) - start ))s"
done
