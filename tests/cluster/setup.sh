#!/usr/bin/env bash
# Prepares a machine for fakegpu's tests and demo, idempotently:
#   1. installs Debian's `prometheus` package (brings `promtool`) when either binary is missing;
#   2. builds (or finds cached) the control plane binaries, kubelet, the fake runtime, Volcano and Kueue with
#      build.sh.
# Meant for a fresh Debian machine run as root; on a prepared machine it only checks and returns.
# Progress goes to stderr; the last stdout line is the control plane bin directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[cluster:setup] %s\n' "$*" >&2; }
die() { printf '[cluster:setup] error: %s\n' "$*" >&2; exit 1; }

POLICY_RC=/usr/sbin/policy-rc.d
remove_policy_rc=false
cleanup() { if $remove_policy_rc; then rm -f "$POLICY_RC"; fi; }
trap cleanup EXIT

ensure_prometheus() {
  if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    log "prometheus present: $(prometheus --version 2>&1 | head -n1)"
    return
  fi
  command -v apt-get >/dev/null 2>&1 \
    || die "prometheus/promtool are missing and apt-get is not available; install Prometheus >= 2.42 so that 'prometheus' and 'promtool' are on PATH, then retry"
  [ "$(id -u)" -eq 0 ] \
    || die "prometheus/promtool are missing; rerun as root so this script can 'apt-get install prometheus' (or install it yourself)"
  # Keep the package's service from starting on :9090; kwokctl runs its own Prometheus per cluster.
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY_RC" && chmod 755 "$POLICY_RC" && remove_policy_rc=true
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "installing Debian package 'prometheus' (apt-get update + install)"
  apt-get update -q >&2 || die "apt-get update failed; check network access to the Debian mirrors"
  apt-get install -y -q prometheus >&2 || die "apt-get install prometheus failed (see the apt output above)"
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
    || die "apt-get installed 'prometheus' but 'prometheus'/'promtool' are still not on PATH"
  log "installed $(prometheus --version 2>&1 | head -n1)"
}

ensure_prometheus

log "building control plane binaries (no-op when cached)"
build_out=$(bash "$HERE/build.sh") || die "tests/cluster/build.sh failed (see its output above)"
bin_dir=$(printf '%s\n' "$build_out" | tail -n1)
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl helm kubelet fake-runtime \
  volcano/vc-scheduler volcano/vc-controller-manager kueue/kueue; do
  [ -x "$bin_dir/$b" ] || die "build.sh reported '$bin_dir' but $b is missing there"
done
log "ready: control plane binaries in $bin_dir"
echo "$bin_dir"
