#!/usr/bin/env bash
# Build the Kubernetes commands of testbed/k8s/tools.go into a cache keyed by version: the control plane
# (kube-apiserver, kube-controller-manager) and the node (kubelet, kube-scheduler; see testbed/node.py).
# Skips binaries that already exist. Prints timestamps so a CI log shows where the time goes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(cat "$here/k8s/K8S_VERSION")"
cache="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-snapshot-operator}/k8s/${version}"
mkdir -p "$cache"
minor="$(echo "$version" | cut -d. -f2)"
pkg=k8s.io/component-base/version
ldflags="-s -w -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
ldflags="$ldflags -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
cpkg=k8s.io/client-go/pkg/version
ldflags="$ldflags -X ${cpkg}.gitVersion=${version} -X ${cpkg}.gitMajor=1 -X ${cpkg}.gitMinor=${minor}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
cd "$here/k8s"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
  if [ -x "$cache/$cmd" ]; then
    echo "build-k8s: $cmd $version cached at $cache/$cmd"
    continue
  fi
  echo "build-k8s: $(date -u +%H:%M:%S) downloading modules for $cmd"
  go mod download
  echo "build-k8s: $(date -u +%H:%M:%S) compiling $cmd $version (cold: 10-20 min on 2 cores)"
  start=$(date +%s)
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$cache/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$cache/$cmd.tmp" "$cache/$cmd"
  echo "build-k8s: $(date -u +%H:%M:%S) built $cmd in $(( $(date +%s) - start ))s"
done
