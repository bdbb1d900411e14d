#!/usr/bin/env bash
# Builds what the engine test (tests/engine, `make engine-test`) runs: the
# Pulumi CLI, the Kubernetes provider, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok and the stand-in for the Azure
# and random providers. Everything comes from the Go module proxy through the
# go.mod/go.sum files beside this script; nothing else is downloaded.
#
# Each binary goes to $CAA_ENGINE_CACHE/<name>-<version>/ (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/caa-azure-engine), outside the repository,
# and a binary already there is not built again: a warm run takes seconds.
# $CAA_ENGINE_CACHE/current/ then links every binary under one directory,
# which is what the test reads.
#
# A first build takes 80-110 minutes on 2 cores (measured, see
# CONTRIBUTING.md); the Kubernetes provider's link needs about 4.6 GB.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${CAA_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/caa-azure-engine}"
mkdir -p "$cache/current"

# The versions the go.mod files pin; the directory names carry them so a
# version bump builds into a new directory instead of reusing an old binary.
pulumi_version=v3.274.1
etcd_version=v3.7.3
kube_version=v1.37.2
kwok_version=v0.8.0
# The Kubernetes SDK in the product's go.mod asks the engine for this
# provider version; the provider source is the module pinned in
# kubernetes/go.mod.
provider_version=4.32.0

export GOFLAGS=-mod=readonly GOWORK=off
# No -trimpath: without it the packages the product already compiled
# (the Pulumi SDK, gRPC) come from the shared build cache.
gobuild() { nice -n 19 go build "$@"; }

start=$(date +%s)
say() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - start ))s] $*"; }

# built DIR FILE...: true when every FILE is already in the cache dir DIR.
built() {
  local dir=$1; shift
  for f in "$@"; do [ -x "$cache/$dir/$f" ] || return 1; done
}

# publish DIR FILE...: links the built files into current/.
publish() {
  local dir=$1; shift
  for f in "$@"; do ln -sfn "$cache/$dir/$f" "$cache/current/$f"; done
}

# step DIR BUILD_FUNCTION FILE...: builds into a temporary directory and
# renames it into place, so an interrupted build leaves nothing half-made.
step() {
  local dir=$1 fn=$2; shift 2
  if built "$dir" "$@"; then
    say "$dir: already built"
  else
    say "$dir: building $* (first time: minutes)"
    local tmp="$cache/.tmp-$dir"
    rm -rf "$tmp" && mkdir -p "$tmp"
    local t0=$(date +%s)
    "$fn" "$tmp"
    rm -rf "${cache:?}/$dir" && mv "$tmp" "$cache/$dir"
    say "$dir: built in $(( $(date +%s) - t0 ))s"
  fi
  publish "$dir" "$@"
}

build_pulumi() {
  (cd "$here" && gobuild -o "$1/pulumi" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_standin() {
  (cd "$here" && gobuild -o "$1/standin" ./standin)
}

build_etcd() {
  (cd "$here/etcd" && gobuild -o "$1/etcd" .)
}

build_kube() {
  local pkg=k8s.io/component-base/version
  local minor=${kube_version#v1.}; minor=${minor%%.*}
  local ld="-X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  # -p 1: kube-apiserver's compile peaks near 2.4 GB per job.
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    say "  $c"
    (cd "$here/kube" && gobuild -p 1 -ldflags "$ld" -o "$1/$c" "k8s.io/kubernetes/cmd/$c")
  done
}

build_kwok() {
  (cd "$here/kwok" && gobuild -o "$1/kwok" sigs.k8s.io/kwok/cmd/kwok)
  # kwok's stages (what makes a Node Ready and a Pod Running) ship as YAML in
  # its module; the test passes them with --config.
  local src
  src="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  mkdir -p "$1/kwok-stages"
  cp "$src"/node/fast/node-*.yaml "$src"/node/heartbeat/node-*.yaml "$src"/pod/fast/pod-*.yaml "$1/kwok-stages/"
  chmod -R u+w "$1/kwok-stages"
}

build_provider() {
  local work="$1/src" src
  mkdir -p "$work/embedgen"
  cp "$here/kubernetes/main.go" "$here/kubernetes/go.mod" "$here/kubernetes/go.sum" "$work/"
  cp "$here/kubernetes/embedgen/main.go" "$work/embedgen/"
  src="$(cd "$work" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes"
  (cd "$work" && go run ./embedgen "$src" . "$provider_version")
  (cd "$work" && gobuild -p 1 -o "$1/pulumi-resource-kubernetes" \
    -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$provider_version" .)
  rm -rf "$work"
}

# The stand-in is our own code: key it by its source, not a version.
standin_key=$(cat "$here/standin/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)

# The stand-in first (a minute: the product already compiled its SDK), then
# the CLI, which shares it; the provider's long link last.
step "standin-$standin_key" build_standin standin
step "pulumi-$pulumi_version" build_pulumi pulumi
step "etcd-$etcd_version" build_etcd etcd
step "kubernetes-$kube_version" build_kube kube-apiserver kube-controller-manager kube-scheduler
step "kwok-$kwok_version" build_kwok kwok kwok-stages
step "pulumi-kubernetes-$provider_version" build_provider pulumi-resource-kubernetes
say "all built; binaries in $cache/current"
