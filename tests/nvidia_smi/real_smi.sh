#!/usr/bin/env bash
# Runs the REAL nvidia-smi (Debian non-free package `nvidia-smi`, driver 535) over NVIDIA's mock NVML
# (github.com/NVIDIA/k8s-test-infra pkg/gpu/mocknvml, built with cgo as libnvidia-ml.so.1), so fakegpu's
# nvidia-smi layouts can be compared with the real tool's. A maintainer's tool, not run by CI: it needs
# Debian's contrib/non-free components and the k8s-test-infra sources (a checkout given as
# MOCKNVML_SRC, e.g. `git clone https://github.com/NVIDIA/k8s-test-infra`).
#
#   MOCKNVML_SRC=~/src/k8s-test-infra bash tests/nvidia_smi/real_smi.sh [nvidia-smi flags]
#
# Environment: MOCK_NVML_CONFIG (default: the repo's H100 profile), FAKEGPU_CACHE (default ~/.cache/fakegpu;
# the library is cached under it).
set -euo pipefail

SMI=/usr/lib/nvidia/current/nvidia-smi
CACHE_ROOT=${FAKEGPU_CACHE:-$HOME/.cache/fakegpu}
SRC=${MOCKNVML_SRC:?set MOCKNVML_SRC to a k8s-test-infra checkout}
REV=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo src)
LIB_DIR="$CACHE_ROOT/mocknvml-$REV"

[ -x "$SMI" ] || {
  echo "install Debian's nvidia-smi first (components contrib non-free): apt-get install nvidia-smi" >&2
  exit 1
}

if [ ! -e "$LIB_DIR/libnvidia-ml.so.1" ]; then
  mkdir -p "$LIB_DIR"
  aliases=""
  for a in DeviceGetPciInfo=nvmlDeviceGetPciInfo_v3 DeviceGetHandleByPciBusId=nvmlDeviceGetHandleByPciBusId_v2 \
    DeviceGetNvLinkRemotePciInfo=nvmlDeviceGetNvLinkRemotePciInfo_v2 DeviceRemoveGpu=nvmlDeviceRemoveGpu_v2 \
    DeviceGetGridLicensableFeatures=nvmlDeviceGetGridLicensableFeatures_v4 EventSetWait=nvmlEventSetWait_v2 \
    DeviceGetAttributes=nvmlDeviceGetAttributes_v2 ComputeInstanceGetInfo=nvmlComputeInstanceGetInfo_v2 \
    DeviceGetComputeRunningProcesses=nvmlDeviceGetComputeRunningProcesses_v3 \
    DeviceGetGraphicsRunningProcesses=nvmlDeviceGetGraphicsRunningProcesses_v3 \
    DeviceGetMPSComputeRunningProcesses=nvmlDeviceGetMPSComputeRunningProcesses_v3 \
    DeviceGetGpuInstancePossiblePlacements=nvmlDeviceGetGpuInstancePossiblePlacements_v2 \
    VgpuInstanceGetLicenseInfo=nvmlVgpuInstanceGetLicenseInfo_v2 DeviceGetDriverModel=nvmlDeviceGetDriverModel_v2; do
    aliases="$aliases -Wl,--defsym,nvml$a"
  done
  (cd "$SRC" && GOTOOLCHAIN=local CGO_ENABLED=1 GOFLAGS="-mod=mod -buildvcs=false" \
    GOMODCACHE="$CACHE_ROOT/gomod" GOCACHE="$CACHE_ROOT/gobuild" \
    CGO_LDFLAGS_ALLOW='--defsym|-soname' CGO_LDFLAGS="$aliases -Wl,-soname,libnvidia-ml.so.1" \
    go build -tags nopadding -buildmode=c-shared -o "$LIB_DIR/libnvidia-ml.so.1" ./pkg/gpu/mocknvml/bridge) >&2
fi

export MOCK_NVML_CONFIG=${MOCK_NVML_CONFIG:-$SRC/pkg/gpu/mocknvml/configs/mock-nvml-config-h100.yaml}
LD_LIBRARY_PATH="$LIB_DIR" exec "$SMI" "$@"
