#!/usr/bin/env bash
# Regenerate go.mod/go.sum for a Kubernetes version. The staging-module replace list is derived from
# the tag's own go.mod (every `=> ./staging/src/k8s.io/X` line), never maintained by hand.
# Usage: testbed/k8s/update-gomod.sh v1.33.13   (needs the Go module proxy; commit go.mod and go.sum after)
set -euo pipefail
cd "$(dirname "$0")"
version="${1:?usage: update-gomod.sh v1.33.N}"
staging="v0.${version#v1.}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
gomod="$(go mod download -json "k8s.io/kubernetes@${version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
cat > go.mod <<MOD
module milvus-snapshot-operator/testbed/k8s

go 1.26

godebug default=go1.24

require k8s.io/kubernetes ${version}
MOD
modules="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$gomod")"
count=0
for m in $modules; do
  go mod edit -replace "${m}=${m}@${staging}"
  count=$((count + 1))
done
echo "update-gomod: ${count} staging replaces for ${version} (${staging})"
go mod tidy
echo "$version" > K8S_VERSION
