#!/usr/bin/env bash
# Builds the real control plane used by fakegpu's tests and demo from upstream Go modules:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes), etcd, kwok,
# kwokctl and helm; for the real-kubelet test tier also kubelet and fakegpu's fake container runtime
# (tests/kubelet/fake_runtime); for the scheduler tests Volcano (vc-scheduler, vc-controller-manager) and Kueue,
# each in its own subdirectory with the CRDs and configuration copied from its module. Output goes to a versioned cache directory outside the repository, with a stamp
# file; a warm cache makes this a no-op. Prints the bin directory as its last line.
#
# Environment:
#   FAKEGPU_CACHE   cache root (default: ~/.cache/fakegpu)
#   FAKEGPU_BUILD_ONLY  space-separated subset of: k8s etcd kwok helm kubelet volcano kueue (default: all)
set -euo pipefail

K8S_VERSION=v1.36.1
K8S_STAGING_VERSION=v0.36.1
ETCD_VERSION=v3.6.10
KWOK_VERSION=v0.8.0
HELM_VERSION=v4.2.4
VOLCANO_VERSION=v1.10.0
KUEUE_VERSION=v0.17.0

CACHE_ROOT=${FAKEGPU_CACHE:-$HOME/.cache/fakegpu}
BIN_DIR="$CACHE_ROOT/bin/k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}"
PARTS=${FAKEGPU_BUILD_ONLY:-k8s etcd kwok helm kubelet volcano kueue}
FAKE_RUNTIME_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../kubelet/fake_runtime" && pwd)

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() { printf '[cluster:build] error: %s\n' "$*" >&2; exit 1; }

stamp_ok() { [ -f "$BIN_DIR/.stamp-$1" ] && shift && for b in "$@"; do [ -x "$BIN_DIR/$b" ] || return 1; done; }

command -v go >/dev/null 2>&1 || die "Go is not installed; install Go >= 1.26 (https://go.dev/dl) and retry"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 26 ] || die "Go >= 1.26 is required to build Kubernetes 1.36, found $(go env GOVERSION)"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=mod"
export GOMODCACHE="$CACHE_ROOT/gomod" GOCACHE="$CACHE_ROOT/gobuild"
mkdir -p "$BIN_DIR" "$GOMODCACHE" "$GOCACHE"
# One build at a time per cache: test files and helpers running at once all call this script.
exec 9>"$BIN_DIR/.build.lock"
flock 9
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

check_proxy() {
  go list -m -json "k8s.io/api@$K8S_STAGING_VERSION" >/dev/null 2>&1 \
    || die "the Go module proxy ($(go env GOPROXY)) is not reachable; cannot download k8s.io modules"
}

timed() { # timed <label> <command...>
  local start=$SECONDS
  log "building $1 ..."
  shift
  "$@"
  log "  done in $((SECONDS - start))s"
}

# k8s_module <dir>: a Go module in <dir> that requires k8s.io/kubernetes with its staging modules pinned.
k8s_module() {
  mkdir -p "$1" && cd "$1"
  printf 'module local/k8sbuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" > go.mod
  for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
    cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt \
    kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
    mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming; do
    echo "replace k8s.io/$m => k8s.io/$m $K8S_STAGING_VERSION" >> go.mod
  done
}

# k8s_ldflags: version stamps of the k8s.io/kubernetes binaries.
k8s_ldflags() {
  local minor ldf="-s -w" date
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldf="$ldf -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  echo "$ldf"
}

build_k8s() {
  stamp_ok k8s kube-apiserver kube-controller-manager kube-scheduler kubectl && { log "k8s $K8S_VERSION cached"; return; }
  check_proxy
  k8s_module "$WORK/k8s"
  local pkgs="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  log "resolving k8s.io/kubernetes $K8S_VERSION modules (first run downloads ~2 GB)"
  # shellcheck disable=SC2046
  go get -tool $(for p in $pkgs; do printf '%s@%s ' "$p" "$K8S_VERSION"; done)
  local ldf
  ldf=$(k8s_ldflags)
  for p in $pkgs; do
    timed "$(basename "$p")" go build -ldflags "$ldf" -o "$BIN_DIR/" "$p"
  done
  touch "$BIN_DIR/.stamp-k8s"
}

# The real-kubelet tier: kubelet, and the fake runtime (rebuilt when its source changes).
build_kubelet() {
  local src_sum
  src_sum=$(cat "$FAKE_RUNTIME_SRC"/*.go | sha256sum | cut -c1-12)
  if stamp_ok kubelet kubelet && stamp_ok "fake-runtime-$src_sum" fake-runtime; then
    log "kubelet $K8S_VERSION and fake runtime cached"
    return
  fi
  check_proxy
  k8s_module "$WORK/kubelet"
  go get -tool "k8s.io/kubernetes/cmd/kubelet@$K8S_VERSION"
  mkdir -p fake_runtime && cp "$FAKE_RUNTIME_SRC"/*.go fake_runtime/
  if ! stamp_ok kubelet kubelet; then
    timed kubelet go build -ldflags "$(k8s_ldflags)" -o "$BIN_DIR/kubelet" k8s.io/kubernetes/cmd/kubelet
    touch "$BIN_DIR/.stamp-kubelet"
  fi
  rm -f "$BIN_DIR"/.stamp-fake-runtime-*
  timed "fake runtime" go build -ldflags "-s -w" -o "$BIN_DIR/fake-runtime" ./fake_runtime
  touch "$BIN_DIR/.stamp-fake-runtime-$src_sum"
}

build_etcd() {
  stamp_ok etcd etcd && { log "etcd $ETCD_VERSION cached"; return; }
  check_proxy
  mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
  go mod init local/etcdbuild >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  timed etcd go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
    -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
  touch "$BIN_DIR/.stamp-etcd"
}

build_kwok() {
  stamp_ok kwok kwok kwokctl && { log "kwok $KWOK_VERSION cached"; return; }
  check_proxy
  timed "kwok + kwokctl" env GOBIN="$BIN_DIR" go install -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  touch "$BIN_DIR/.stamp-kwok"
}

build_helm() {
  stamp_ok helm helm && { log "helm $HELM_VERSION cached"; return; }
  check_proxy
  timed helm env GOBIN="$BIN_DIR" go install \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  touch "$BIN_DIR/.stamp-helm"
}

# module_dir <module@version>: the module's source directory in the module cache (downloaded when missing).
module_dir() {
  (cd "$WORK" && go mod download -json "$1") | sed -nE 's/^\t"Dir": "(.*)",$/\1/p'
}

# Volcano in $BIN_DIR/volcano: vc-scheduler, vc-controller-manager, crd/*.yaml (volcano and jobflow groups)
# and volcano-scheduler.conf. Built inside a copy of the module, whose replace directives pin its k8s.io modules.
build_volcano() {
  local dir="$BIN_DIR/volcano" src ldf
  stamp_ok "volcano-$VOLCANO_VERSION" volcano/vc-scheduler volcano/vc-controller-manager \
    && { log "volcano $VOLCANO_VERSION cached"; return; }
  check_proxy
  rm -rf "$dir" "$BIN_DIR"/.stamp-volcano-*
  src=$(module_dir "volcano.sh/volcano@$VOLCANO_VERSION")
  cp -r "$src" "$WORK/volcano" && chmod -R u+w "$WORK/volcano" && cd "$WORK/volcano"
  mkdir -p "$dir/crd"
  ldf="-s -w -X volcano.sh/volcano/pkg/version.Version=$VOLCANO_VERSION"
  timed vc-scheduler go build -ldflags "$ldf" -o "$dir/vc-scheduler" ./cmd/scheduler
  timed vc-controller-manager go build -ldflags "$ldf" -o "$dir/vc-controller-manager" ./cmd/controller-manager
  cp config/crd/volcano/bases/*.yaml config/crd/jobflow/bases/*.yaml "$dir/crd/"
  cp installer/helm/chart/volcano/config/volcano-scheduler.conf "$dir/"
  touch "$BIN_DIR/.stamp-volcano-$VOLCANO_VERSION"
}

# Kueue in $BIN_DIR/kueue: the kueue manager and crd/*.yaml.
build_kueue() {
  local dir="$BIN_DIR/kueue" src
  stamp_ok "kueue-$KUEUE_VERSION" kueue/kueue && { log "kueue $KUEUE_VERSION cached"; return; }
  check_proxy
  rm -rf "$dir" "$BIN_DIR"/.stamp-kueue-*
  mkdir -p "$dir/crd"
  timed kueue env GOBIN="$dir" go install \
    -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION" "sigs.k8s.io/kueue/cmd/kueue@$KUEUE_VERSION"
  src=$(module_dir "sigs.k8s.io/kueue@$KUEUE_VERSION")
  cp "$src"/config/components/crd/bases/*.yaml "$dir/crd/"
  chmod u+w "$dir"/crd/*.yaml
  touch "$BIN_DIR/.stamp-kueue-$KUEUE_VERSION"
}

total_start=$SECONDS
for part in $PARTS; do
  case "$part" in
    k8s) build_k8s ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    helm) build_helm ;;
    kubelet) build_kubelet ;;
    volcano) build_volcano ;;
    kueue) build_kueue ;;
    *) die "unknown part '$part' in FAKEGPU_BUILD_ONLY (expected k8s, etcd, kwok, helm, kubelet, volcano, kueue)" ;;
  esac
done
log "control plane ready in $BIN_DIR ($((SECONDS - total_start))s)"
echo "$BIN_DIR"
